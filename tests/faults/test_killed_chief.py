"""A chief killed mid-training: the other worker stops, a rerun resumes.

The chief (worker 0 of two, ``tools/train_pose.py`` with
``train_pose.strategy = 'multi_worker'``) dies by SIGKILL inside ``fit`` at
the start of epoch 2, as in ``tests/training/test_multi_worker.py`` for a
lost non-chief. Worker 1 then waits in its collectives until TensorFlow
notices the chief is gone; it must end (not hang) with the loop's "rerun
every worker" message, and rerunning every worker must finish the run with
the weights and metric history of the uninterrupted two-worker run, exactly
(the same argument as there: the all-reduce of two float32 gradients is a
commutative sum, and the data and dropout of epoch e depend on e only).
"""

from __future__ import annotations

import json
import signal
import time

import numpy as np
import pytest

from tests.training import test_multi_worker as multi_worker

# Slow (a killed and a resumed two-worker run, ~50 s): left out of the
# inner loop, `pytest -m "not slow"`.
pytestmark = pytest.mark.slow


def test_chief_killed_mid_epoch_resumes_to_the_uninterrupted_weights(
    two_worker_reference, tiny_pose_only, tmp_path):
  run = tmp_path / "run"
  start = time.monotonic()
  done = multi_worker.run_workers(
      run, tiny_pose_only, tmp_path,
      ({"call": multi_worker.MID_EPOCH, "nth": 2}, None))
  killed_s = time.monotonic() - start
  assert done[0].returncode == -signal.SIGKILL, done[0].stdout[-3000:]
  assert done[1].returncode not in (0, -signal.SIGKILL), done[1].stdout[-3000:]
  tail = "\n".join(done[1].stdout.splitlines()[-15:])
  assert "worker" in tail and "rerun" in tail, tail
  assert json.loads((run / "backup" / "state.json").read_text()
                    )["epochs_done"] == 1
  assert not (run / "FINISHED.json").exists()

  start = time.monotonic()
  # The same temporary directories as the killed run: nothing may be left.
  resumed = multi_worker.run_workers(run, tiny_pose_only, tmp_path)
  print(f"chief killed: {killed_s:.1f} s, rerun:"
        f" {time.monotonic() - start:.1f} s")
  for d in resumed:
    assert d.returncode == 0, d.stdout[-3000:]
  assert "Resuming" in resumed[0].stdout and "Resuming" in resumed[1].stdout
  assert not list(tmp_path.rglob("posedriven-worker-*"))
  assert multi_worker.run_files(run) == multi_worker.FINISHED_FILES
  assert multi_worker.backup_history(run) == multi_worker.backup_history(
      two_worker_reference)
  for got, want in zip(multi_worker.backup_weights(run),
                       multi_worker.backup_weights(two_worker_reference),
                       strict=True):
    np.testing.assert_array_equal(got, want)
