"""Multi-worker and mirrored training, killed mid-epoch and resumed.

Two real worker processes on 127.0.0.1 (``MultiWorkerMirroredStrategy`` on
CPU, one ``TF_CONFIG`` each) run ``tools/train_pose.py``; the mirrored case
runs on two logical CPU devices of one process. Kill points
(``tests/faults/sigkill.py``) stop the workers inside ``fit`` at the start
of an epoch, so every run is interrupted at the same point.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

# Registers the custom layers the saved models reference.
from posedriven.models import streams  # pylint: disable=unused-import
from tests import helpers


# Slow (worker subprocesses, 30-50 s each): left out of the
# inner loop, `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

SMALL = dict(batch_size=4, epochs=3, filters=(4, 4), features=16,
             validation_fraction=0.3, verbose=0)
MID_EPOCH = "posedriven.training.loop:EpochSeeds.on_epoch_begin"

# The real binary, after an optional kill point.
WORKER = """
import json, runpy, sys
from tests.faults import sigkill
sigkill.install(json.loads(sys.argv.pop(1)))
sys.argv[0] = "tools/train_pose.py"
runpy.run_path("tools/train_pose.py", run_name="__main__")
"""

# Two logical CPUs must be configured before TensorFlow starts.
MIRRORED = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tests.faults import sigkill
sigkill.install(json.loads(sys.argv[1]))
from posedriven.training import train_pose
print(train_pose.train_pose(sys.argv[2], sys.argv[3], strategy="mirrored",
                            **json.loads(sys.argv[4])))
"""


def _free_ports(n: int) -> list[int]:
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _bindings() -> list[str]:
  return [f"--gin_bindings=train_pose.{k} = {v!r}" for k, v in SMALL.items()]


def run_workers(run: Path, data: Path, tmp: Path,
                kill_points=(None, None), timeout_s: float = 300.0
                ) -> list[subprocess.CompletedProcess]:
  """Starts two workers of one cluster and waits for both to end.

  Each worker's temporary files go under ``tmp/worker-<i>``.
  """
  ports = _free_ports(2)
  processes = []
  for index, point in enumerate(kill_points):
    env = helpers.subprocess_env()
    env["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
        "task": {"type": "worker", "index": index}})
    env["TMPDIR"] = str(tmp / f"worker-{index}")
    os.makedirs(env["TMPDIR"], exist_ok=True)
    processes.append(subprocess.Popen(
        [sys.executable, "-c", WORKER, json.dumps(point),
         f"--data_dir={data}", f"--output_dir={run}",
         "--gin_bindings=train_pose.strategy = 'multi_worker'",
         *_bindings()],
        cwd=helpers.REPO_ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True))
  done = []
  deadline = time.monotonic() + timeout_s
  for process in processes:
    try:
      output, _ = process.communicate(
          timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
      for p in processes:
        p.kill()
      raise
    done.append(subprocess.CompletedProcess(process.args, process.returncode,
                                            output))
  return done


def backup_weights(run: Path) -> list[np.ndarray]:
  return keras.models.load_model(helpers.backup_model_path(run)).get_weights()


def backup_history(run: Path) -> list[dict]:
  state = json.loads((run / "backup" / "state.json").read_text())
  return [{k: v for k, v in h.items() if k != "seconds"}
          for h in state["history"]]


def run_files(run: Path) -> list[str]:
  return sorted(str(p.relative_to(run)) for p in run.rglob("*")
                if p.is_file() and "tensorboard" not in p.parts)


FINISHED_FILES = sorted([
    "FINISHED.json", "best.keras", "backup/model-003.keras",
    "backup/state.json", "checkpoints/epoch-002.weights.h5",
    "checkpoints/epoch-003.weights.h5", "operative_config.gin",
    "stage.json"])


def _assert_ok(done):
  for d in done:
    assert d.returncode == 0, d.stdout[-3000:]


def _no_worker_dirs(tmp: Path) -> None:
  assert not list(tmp.rglob("posedriven-worker-*"))


def uninterrupted_run(data: Path, root: Path) -> Path:
  """An uninterrupted two-worker run in ``root / "run"``: the reference."""
  start = time.monotonic()
  done = run_workers(root / "run", data, root)
  _assert_ok(done)
  print(f"two-worker reference run: {time.monotonic() - start:.1f} s")
  _no_worker_dirs(root)
  return root / "run"


@pytest.fixture(scope="module")
def reference(two_worker_reference):
  # Shared with tests/faults/test_killed_chief.py (tests/conftest.py).
  return two_worker_reference


def test_two_workers_write_one_run(reference):
  assert run_files(reference) == FINISHED_FILES
  # TensorBoard from the chief only: one event file.
  events = list((reference / "tensorboard").rglob("events.out.tfevents.*"))
  assert len(events) == 1, events
  assert json.loads((reference / "FINISHED.json").read_text())["epochs"] == 3


def test_both_workers_killed_mid_epoch_resume(reference, tiny_pose_only,
                                              tmp_path):
  run = tmp_path / "run"
  # Both die inside fit() at the start of epoch 2, as a lost machine would
  # take its peer's collectives down with it.
  point = {"call": MID_EPOCH, "nth": 2}
  killed = run_workers(run, tiny_pose_only, tmp_path, (point, point))
  for d in killed:
    assert d.returncode == -signal.SIGKILL, d.stdout[-3000:]
  assert json.loads((run / "backup" / "state.json").read_text()
                    )["epochs_done"] == 1
  assert not (run / "FINISHED.json").exists()

  resumed = run_workers(run, tiny_pose_only, tmp_path / "rerun")
  _assert_ok(resumed)
  assert "Resuming" in resumed[1].stdout  # the non-chief resumed too
  _no_worker_dirs(tmp_path / "rerun")
  assert run_files(run) == FINISHED_FILES
  assert backup_history(run) == backup_history(reference)
  for got, want in zip(backup_weights(run), backup_weights(reference),
                       strict=True):
    np.testing.assert_array_equal(got, want)
  # One event file per chief process (the killed one and the rerun).
  assert len(list((run / "tensorboard").rglob("events.out.tfevents.*"))) == 2


def test_worker_lost_mid_run_fails_loudly_and_resumes(reference,
                                                      tiny_pose_only,
                                                      tmp_path):
  run = tmp_path / "run"
  # Only worker 1 dies, inside epoch 2: the chief must not hang or finish.
  done = run_workers(run, tiny_pose_only, tmp_path,
                     (None, {"call": MID_EPOCH, "nth": 2}))
  assert done[1].returncode == -signal.SIGKILL
  assert done[0].returncode not in (0, -signal.SIGKILL), done[0].stdout[-3000:]
  tail = "\n".join(done[0].stdout.splitlines()[-15:])
  assert "worker" in tail and "rerun" in tail, tail
  assert json.loads((run / "backup" / "state.json").read_text()
                    )["epochs_done"] == 1
  assert (run / "backup" / "model-001.keras").exists()

  _assert_ok(run_workers(run, tiny_pose_only, tmp_path / "rerun"))
  assert run_files(run) == FINISHED_FILES
  for got, want in zip(backup_weights(run), backup_weights(reference),
                       strict=True):
    np.testing.assert_array_equal(got, want)


def _mirrored(run: Path, data: Path, point=None):
  return subprocess.run(
      helpers.python_command(MIRRORED, json.dumps(point), str(run), str(data),
                             json.dumps(SMALL)),
      cwd=helpers.REPO_ROOT, env=helpers.subprocess_env(),
      capture_output=True, text=True, timeout=300, check=False)


def test_mirrored_on_two_cpus_killed_mid_epoch_resumes(tiny_pose_only,
                                                       tmp_path):
  reference_run = tmp_path / "reference"
  done = _mirrored(reference_run, tiny_pose_only)
  assert done.returncode == 0, done.stderr[-3000:]
  run = tmp_path / "run"
  killed = _mirrored(run, tiny_pose_only, {"call": MID_EPOCH, "nth": 2})
  assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
  done = _mirrored(run, tiny_pose_only)
  assert done.returncode == 0, done.stderr[-3000:]
  assert run_files(run) == run_files(reference_run) == FINISHED_FILES
  assert backup_history(run) == backup_history(reference_run)
  for got, want in zip(backup_weights(run), backup_weights(reference_run),
                       strict=True):
    np.testing.assert_array_equal(got, want)
