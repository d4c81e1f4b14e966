"""The deprecated name posedriven.data.datasets (remove with it)."""

from __future__ import annotations

import pytest

from posedriven.data import prepared_data
from tests import helpers


def test_old_name_warns_and_gives_the_same_objects(monkeypatch):
  helpers.forget_module(monkeypatch, "posedriven.data.datasets")
  with pytest.warns(DeprecationWarning) as record:
    from posedriven.data import datasets
  ours = [w for w in record if "posedriven.data.datasets" in str(w.message)]
  assert [str(w.message) for w in ours] == [
      "posedriven.data.datasets is deprecated; use"
      " posedriven.data.prepared_data"]
  assert ours[0].filename == __file__  # stacklevel: the importing line
  for name in ("WRITTEN_STATUSES", "PreparedData", "load_prepared"):
    assert getattr(datasets, name) is getattr(prepared_data, name)
