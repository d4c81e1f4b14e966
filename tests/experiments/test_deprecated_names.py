"""The demo's gin names before experiments still work, with a warning."""

import warnings

import pytest

from posedriven.experiments import deprecated_names
from posedriven.experiments import runner


def test_old_gin_names_translate_with_a_deprecation():
  with pytest.warns(DeprecationWarning, match="run_demo.num_subjects is"
                    " deprecated.*generate_dataset.num_subjects = 4"):
    new = deprecated_names.translate({"run_demo": {
        "num_subjects": 4, "seed": 2, "protocol": "synthetic_cv",
        "pose_config": {"epochs": 1, "filters": (8, 8)}}})
  assert new == ["generate_dataset.num_subjects = 4",
                 "experiment.seeds = [2]",
                 "prepare_dataset.protocol = 'synthetic_cv'",
                 "train_pose.epochs = 1", "train_pose.filters = (8, 8)"]
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    assert deprecated_names.translate({"run_full": {"seeds": (0, 1)}}) == [
        "experiment.seeds = [0, 1]"]
  with pytest.raises(ValueError, match="declared in the runs and rows"):
    deprecated_names.translate({"run_demo": {"ablations": ("B",)}})
  with pytest.raises(ValueError, match="never was"):
    deprecated_names.translate({"run_demo": {"no_such": 1}})


def test_old_gin_names_still_parse_in_files(tmp_path):
  old = tmp_path / "old.gin"
  old.write_text("run_demo.num_subjects = 4\nrun_full.seeds = (3,)\n")
  runner.load("demo", [str(old)])
  assert deprecated_names.bound_legacy_names() == {
      "run_demo": {"num_subjects": 4}, "run_full": {"seeds": (3,)}}
