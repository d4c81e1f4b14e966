"""A training run killed by SIGKILL and resumed ends with the weights of an
uninterrupted run (tests/training/test_train_pose.py stops runs with exceptions;
here the process really dies)."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from posedriven.training import train_pose
from tests import helpers


# Slow (SIGKILLed training subprocesses): left out of the
# inner loop, `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

SMALL = dict(batch_size=8, epochs=4, filters=[4, 4], features=16,
             validation_fraction=0.3, verbose=0)

TRAIN = """
import json, sys
from tests.faults import sigkill
sigkill.install(json.loads(sys.argv[1]))
from posedriven.training import train_pose
train_pose.train_pose(sys.argv[2], sys.argv[3], **json.loads(sys.argv[4]))
"""


@pytest.fixture(scope="module")
def pose_data(tiny_pose_only):
  return tiny_pose_only


def _command(run, data, kill_point=None):
  return helpers.python_command(TRAIN, json.dumps(kill_point), str(run),
                                str(data), json.dumps(SMALL))


def _final_state(run):
  model = keras.models.load_model(helpers.backup_model_path(run))
  state = json.loads((run / "backup" / "state.json").read_text())
  history = [{k: v for k, v in h.items() if k != "seconds"}
             for h in state["history"]]
  return model.get_weights(), history


def test_killed_training_resumes_to_the_uninterrupted_weights(pose_data,
                                                              tmp_path):
  run = tmp_path / "killed"
  # 1. Between the two writes of epoch 2's backup: the model is saved, the
  #    loop state (epochs done) not yet.
  helpers.run_until_killed(_command(run, pose_data, {
      "replace_suffix": "backup/state.json", "nth": 2, "when": "before"}))
  state = json.loads((run / "backup" / "state.json").read_text())
  assert state["epochs_done"] == 1
  assert (run / "backup" / "model-002.keras").exists()  # not yet committed
  # 2. From outside, as soon as epoch 3 has a checkpoint: somewhere in its
  #    saves or in epoch 4.
  helpers.run_until_killed(
      _command(run, pose_data),
      lambda: (run / "checkpoints" / "epoch-003.weights.h5").exists())
  assert not (run / "FINISHED.json").exists()
  # 3. To the end (in this process: resuming is what is tested, not how).
  train_pose.train_pose(run, pose_data, **SMALL)

  reference = tmp_path / "reference"
  train_pose.train_pose(reference, pose_data, **SMALL)
  weights, history = _final_state(run)
  expected_weights, expected_history = _final_state(reference)
  assert history == expected_history and len(history) == SMALL["epochs"]
  for got, want in zip(weights, expected_weights, strict=True):
    np.testing.assert_array_equal(got, want)
  for name in ("best.keras", "checkpoints/epoch-003.weights.h5",
               "checkpoints/epoch-004.weights.h5"):
    assert (run / name).read_bytes() != b""
  assert len(list((run / "checkpoints").iterdir())) == 2  # keep_checkpoints
  # Only the committed backup is left.
  assert sorted(p.name for p in (run / "backup").iterdir()) == [
      "model-004.keras", "state.json"]
  assert json.loads((run / "FINISHED.json").read_text())["epochs"] == 4
