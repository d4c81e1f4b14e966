"""The deprecated module posedriven.training.common (remove with it)."""

from __future__ import annotations

import pytest

from posedriven.training import best_model
from posedriven.training import classifier
from posedriven.training import dtype_policy
from posedriven.training import transfer
from tests import helpers

# Every name the module had, and where it lives now.
_MOVED = {"PRECISIONS": dtype_policy, "check_precision": dtype_policy,
          "precision": dtype_policy, "compile_classifier": classifier,
          "with_targets": classifier, "strip_names": classifier,
          "predict_dataset": classifier, "load_best_model": best_model,
          "transfer_from_run": transfer}


def test_old_name_warns_and_gives_the_same_objects(monkeypatch):
  helpers.forget_module(monkeypatch, "posedriven.training.common")
  with pytest.warns(DeprecationWarning) as record:
    from posedriven.training import common
  ours = [w for w in record if "posedriven.training.common" in str(w.message)]
  assert [str(w.message) for w in ours] == [
      "posedriven.training.common is deprecated; use"
      " posedriven.training.dtype_policy, posedriven.training.classifier,"
      " posedriven.training.best_model or posedriven.training.transfer"]
  assert ours[0].filename == __file__  # stacklevel: the importing line
  for name, module in _MOVED.items():
    assert getattr(common, name) is getattr(module, name), name
