"""Helpers shared by several test packages (prepared files, logs, processes)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from posedriven.data import tfrecords

REPO_ROOT = Path(__file__).resolve().parents[1]


def tfrecord_bytes(directory: str | os.PathLike) -> dict[str, bytes]:
  """``{file name: bytes}`` of every finished TFRecord file in ``directory``."""
  return {p.name: p.read_bytes()
          for p in sorted(Path(directory).glob("*.tfrecord"))}


def records_by_name(directory: str | os.PathLike
                    ) -> dict[str, dict[str, object]]:
  """Every record of every TFRecord file, by clip name.

  Raises:
    AssertionError: a clip is written twice.
  """
  records = {}
  for path in sorted(Path(directory).glob("*.tfrecord")):
    for record in tfrecords.read_records(str(path)):
      name = record["name"].decode()
      assert name not in records, f"{name} written twice ({path.name})"
      records[name] = record
  return records


class LogRecords(logging.Handler):
  """Collects log records (stdlib and absl) while installed."""

  def __init__(self):
    super().__init__(logging.DEBUG)
    self.records: list[logging.LogRecord] = []

  def emit(self, record):
    self.records.append(record)

  def messages(self, *words: str, level: int = logging.INFO) -> list[str]:
    """Messages at ``level`` or above that contain every one of ``words``."""
    return [r.getMessage() for r in self.records
            if r.levelno >= level and all(w in r.getMessage() for w in words)]


@contextlib.contextmanager
def capture_logs(level: int = logging.INFO) -> Iterator[LogRecords]:
  """Like pytest's ``caplog``, usable in fixtures of any scope."""
  handler = LogRecords()
  root = logging.getLogger()
  # absl's logger has its own level, which parsing absl flags (a binary's
  # main() called by an earlier test) resets to WARNING.
  absl_logger = logging.getLogger("absl")
  previous = root.level, absl_logger.level
  root.addHandler(handler)
  root.setLevel(level)
  absl_logger.setLevel(level)
  try:
    yield handler
  finally:
    root.removeHandler(handler)
    root.setLevel(previous[0])
    absl_logger.setLevel(previous[1])


def python_command(code: str, *args: str) -> list[str]:
  return [sys.executable, "-c", code, *args]


def subprocess_env() -> dict[str, str]:
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
  env["PYTHONPATH"] = os.pathsep.join(
      [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(
          os.pathsep) if p])
  return env


def run_until_killed(command: Sequence[str],
                     condition: Callable[[], bool] | None = None, *,
                     timeout_s: float = 240.0,
                     poll_s: float = 0.005) -> subprocess.CompletedProcess:
  """Runs ``command`` until SIGKILL ends it and returns what it printed.

  Args:
    command: The process; it may SIGKILL itself (a hook at an exact code
      point), or be killed here.
    condition: Polled every ``poll_s``; when it holds, the process gets a
      SIGKILL from outside. None: the process must kill itself.
    timeout_s: A hung process is killed and reported as a failure.

  Raises:
    AssertionError: the process ended any other way (finished, crashed, or
      timed out): the kill point was never reached.
  """
  with subprocess.Popen(command, cwd=REPO_ROOT, env=subprocess_env(),
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        text=True) as process:
    deadline = time.monotonic() + timeout_s
    while process.poll() is None:
      if time.monotonic() > deadline:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"no kill after {timeout_s} s:\n{output[-3000:]}")
      if condition is not None and condition():
        process.send_signal(signal.SIGKILL)
        break
      time.sleep(poll_s)
    output, _ = process.communicate()
  assert process.returncode == -signal.SIGKILL, (
      f"expected death by SIGKILL, got exit code {process.returncode}:\n"
      f"{output[-3000:]}")
  return subprocess.CompletedProcess(command, process.returncode, output)


def write_video_rgb(path: Path, frames_rgb: list[np.ndarray],
                    fps: float = 30.0) -> Path:
  """An MJPG AVI, like the synthetic set's and OpenCV's default writer."""
  height, width = frames_rgb[0].shape[:2]
  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps,
                           (width, height))
  for frame in frames_rgb:
    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
  writer.release()
  return path
