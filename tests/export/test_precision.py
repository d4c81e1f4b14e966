"""The deprecated name posedriven.export.precision (remove with it)."""

from __future__ import annotations

import pytest

from posedriven.export import serving_copy
from tests import helpers


def test_old_name_warns_and_gives_the_same_objects(monkeypatch):
  helpers.forget_module(monkeypatch, "posedriven.export.precision")
  with pytest.warns(DeprecationWarning) as record:
    from posedriven.export import precision
  ours = [w for w in record if "posedriven.export.precision" in str(w.message)]
  assert [str(w.message) for w in ours] == [
      "posedriven.export.precision is deprecated; use"
      " posedriven.export.serving_copy"]
  assert ours[0].filename == __file__  # stacklevel: the importing line
  for name in ("PRECISIONS", "FLOAT32_LAYERS", "check_precision",
               "serving_model"):
    assert getattr(precision, name) is getattr(serving_copy, name)
