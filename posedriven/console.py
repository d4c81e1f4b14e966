"""A newcomer's console: TensorFlow's native start-up chatter filtered out.

TensorFlow 2.21 logs from C++ through absl before ``absl::InitializeLog``
is called, so ``TF_CPP_MIN_LOG_LEVEL`` no longer silences lines such as
"oneDNN custom operations are on", "Could not find cuda drivers" or the
grappler cost estimator's warnings. The binaries call
:func:`filter_native_logs` before TensorFlow is imported: file descriptor 2
then goes through a pipe whose reader drops native INFO/WARNING lines and
the CUDA start-up errors of a machine without a GPU, and forwards
everything else (Python logging, tracebacks, other native errors)
unchanged. Library code never calls it; ``POSEDRIVEN_NATIVE_LOGS=1`` in the
environment turns it off (to see every native line when debugging).

This module must not import TensorFlow.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

# Native lines logged before absl::InitializeLog carry a zero date and the
# Unix time as seconds ("I0000 00:00:1796010785.869092  20016 port.cc:153] ");
# Python's absl handler writes a real date ("I1130 03:44:05.103660 ...")
# and is never filtered.
_NATIVE = re.compile(rb"^([IWEF])0000 00:00:\d+\.\d+\s+\d+ [^\]]+\] ")
_BANNER = b"WARNING: All log messages before absl::InitializeLog()"
# Native errors that only say "this machine has no GPU".
_NO_GPU = re.compile(
    rb"cuda|cudnn|cufft|cublas|cuInit|GPU will not be used|TensorRT",
    re.IGNORECASE)
# The follow-up line of cpu_feature_guard's message (no prefix of its own).
_CPU_FEATURES = re.compile(
    rb"^To enable the following instructions:.*rebuild TensorFlow")

_installed = False


def is_noise(line: bytes) -> bool:
  """True for one line of TensorFlow's native chatter (see module doc)."""
  if line.startswith(_BANNER) or _CPU_FEATURES.match(line):
    return True
  match = _NATIVE.match(line)
  if not match:
    return False
  level = match.group(1)
  if level in (b"I", b"W"):
    return True
  return level == b"E" and bool(_NO_GPU.search(line))


def _forward(read_fd: int, write_fd: int) -> None:
  with os.fdopen(read_fd, "rb", buffering=0) as pipe:
    pending = b""
    while True:
      chunk = pipe.read(65536)
      if not chunk:
        break
      pending += chunk
      *lines, pending = pending.split(b"\n")
      kept = b"".join(l + b"\n" for l in lines if not is_noise(l))
      if kept:
        os.write(write_fd, kept)
    if pending and not is_noise(pending):
      os.write(write_fd, pending)


def filter_native_logs() -> None:
  """Routes this process's stderr through :func:`is_noise` (idempotent)."""
  global _installed
  if _installed or os.environ.get("POSEDRIVEN_NATIVE_LOGS") == "1":
    return
  _installed = True
  original = os.dup(2)
  read_fd, write_fd = os.pipe()
  os.dup2(write_fd, 2)
  os.close(write_fd)
  thread = threading.Thread(target=_forward, args=(read_fd, original),
                            name="native-log-filter", daemon=True)
  thread.start()

  def _flush():
    sys.stderr.flush()
    # Closing the last write end lets the reader drain and stop.
    os.dup2(original, 2)
    thread.join(timeout=5)

  atexit.register(_flush)
