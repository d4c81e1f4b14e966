"""A non-chief worker killed by SIGKILL leaves no temporary directory for good.

``distribute.write_dir`` gives each non-chief worker a directory under
``$TMPDIR`` and removes it in a ``finally``, which SIGKILL skips. The next
non-chief worker started with the same ``$TMPDIR`` (the rerun) removes the
orphan, and only it: the directory of a worker that still runs stays.
Two real processes hold the directories (one alive and waiting, then one
killed inside the block); the rerun is this process.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from posedriven.training import distribute
from tests import helpers

# Slow (worker subprocesses killed with SIGKILL): left out of the
# inner loop, `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

# A worker's use of write_dir: print the directory, then die in it or wait
# until stdin closes.
WORKER = """
import sys
from posedriven.training import distribute
from tests.faults import sigkill
with distribute.write_dir(sys.argv[1], chief=False) as local:
  (local / "backup").mkdir()
  print(local, flush=True)
  if sys.argv[2] == "die":
    sigkill.die()
  sys.stdin.readline()
"""


def _start(tmp_path, how: str) -> subprocess.Popen:
  env = helpers.subprocess_env()
  env["TMPDIR"] = str(tmp_path / "tmpdir")
  return subprocess.Popen(
      [sys.executable, "-c", WORKER, str(tmp_path / "run"), how],
      cwd=helpers.REPO_ROOT, env=env, stdin=subprocess.PIPE,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _worker_dirs(tmp_path) -> list[Path]:
  return sorted((tmp_path / "tmpdir").glob(distribute.WORKER_DIR_PREFIX + "*"))


def test_rerun_removes_a_killed_workers_dir_not_a_live_ones(tmp_path,
                                                            monkeypatch):
  (tmp_path / "tmpdir").mkdir()
  # One after the other: a worker that starts after another was killed
  # removes that one's directory itself.
  live = _start(tmp_path, "wait")
  try:
    live_line = live.stdout.readline()
    assert live_line, live.stderr.read()[-3000:]
    in_use = Path(live_line.strip())
    killed = _start(tmp_path, "die")
    killed_out, killed_err = killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed_err[-3000:]
    orphan = Path(killed_out.strip())
    # What SIGKILL leaves today: the killed worker's files.
    assert (orphan / "backup").is_dir()
    assert _worker_dirs(tmp_path) == sorted([orphan, in_use])

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmpdir"))
    with distribute.write_dir(tmp_path / "run", chief=False) as rerun:
      assert not orphan.exists()
      assert (in_use / "backup").is_dir()
      assert _worker_dirs(tmp_path) == sorted([in_use, rerun])
    assert _worker_dirs(tmp_path) == [in_use]
  finally:
    _, live_err = live.communicate(input="\n", timeout=120)
  assert live.returncode == 0, live_err[-3000:]
  assert _worker_dirs(tmp_path) == []

