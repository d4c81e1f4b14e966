"""A checkpoint write that fails (disk full) stops the run loudly, keeps the
last complete backup and lets a rerun resume to the uninterrupted weights."""

from __future__ import annotations

import errno
import json

import keras
import numpy as np
import pytest

from posedriven.training import train_pose
from tests import helpers


# Slow (training runs with failing writes, then resumed): left out of the
# inner loop, `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

SMALL = dict(batch_size=8, epochs=3, filters=(4, 4), features=16,
             validation_fraction=0.3, verbose=0)


@pytest.fixture(scope="module")
def reference(tiny_pose_only, tmp_path_factory):
  run = tmp_path_factory.mktemp("reference")
  train_pose.train_pose(run, tiny_pose_only, **SMALL)
  return run


def _disk_full_at(monkeypatch, method: str, name: str) -> None:
  """``keras.Model.<method>`` fails like a full disk when saving ``name``."""
  real = getattr(keras.Model, method)

  def save(self, path, *args, **kwargs):
    if name in str(path):
      with open(path, "wb") as f:
        f.write(b"partial")  # what a full disk leaves behind
      raise OSError(errno.ENOSPC, "No space left on device", str(path))
    return real(self, path, *args, **kwargs)

  monkeypatch.setattr(keras.Model, method, save)


@pytest.mark.parametrize("method,name,failed", [
    ("save_weights", "epoch-002", "checkpoints/epoch-002.weights.h5"),
    ("save", "model-002", "backup/model-002.keras"),
])
def test_failed_write_is_loud_keeps_backup_and_resumes(
    reference, tiny_pose_only, tmp_path, monkeypatch, method, name, failed):
  run = tmp_path / "run"
  with monkeypatch.context() as patch:
    _disk_full_at(patch, method, name)
    with pytest.raises(OSError) as error:
      train_pose.train_pose(run, tiny_pose_only, **SMALL)
  message = str(error.value)
  assert str(run / failed) in message and "No space left" in message
  assert "rerun" in message
  # The previous backup is the committed one, complete; no partial file.
  state = json.loads((run / "backup" / "state.json").read_text())
  assert state["epochs_done"] == 1 and state["model"] == "model-001.keras"
  keras.models.load_model(run / "backup" / "model-001.keras")
  assert (run / "checkpoints" / "epoch-001.weights.h5").stat().st_size > 1000
  assert not list(run.rglob("*.tmp*"))
  assert not (run / "FINISHED.json").exists()

  summary = train_pose.train_pose(run, tiny_pose_only, **SMALL)
  assert summary["epochs"] == 3
  got = keras.models.load_model(helpers.backup_model_path(run))
  want = keras.models.load_model(helpers.backup_model_path(reference))
  for a, b in zip(got.get_weights(), want.get_weights(), strict=True):
    np.testing.assert_array_equal(a, b)
