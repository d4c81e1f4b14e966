"""Atomic file writes: a file is either absent, the old one, or complete.

Every output of a long job is written to a temporary name beside its final
path and renamed onto it (``os.replace`` is atomic on POSIX), so a killed
job never leaves half a file under a final name and a rerun can trust what
it finds. A temporary file left by a killed job is overwritten by the next
write of the same path (and preparation removes stale ones).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator


def temp_path(path: str | os.PathLike, *, keep_suffix: bool = False,
              per_process: bool = False) -> Path:
  """The temporary name of ``path``.

  Args:
    path: The final path.
    keep_suffix: ``x.tmp.avi`` instead of ``x.avi.tmp`` (and
      ``x.tmp.weights.h5``), for writers that pick the file type by its
      suffix (OpenCV, Keras).
    per_process: Add the process id, for files that several processes may
      write at once (with the same content).
  """
  path = Path(path)
  tag = f"tmp-{os.getpid()}" if per_process else "tmp"
  if keep_suffix:
    # Before every suffix: Keras wants ``.weights.h5`` whole.
    suffix = "".join(path.suffixes)
    stem = path.name[:len(path.name) - len(suffix)] if suffix else path.name
    return path.with_name(f"{stem}.{tag}{suffix}")
  return path.with_name(f"{path.name}.{tag}")


@contextlib.contextmanager
def replacing(path: str | os.PathLike, *, keep_suffix: bool = False,
              per_process: bool = False) -> Iterator[Path]:
  """Yields the temporary path; renames it onto ``path`` if the block ends.

  On an exception nothing is renamed: ``path`` keeps its old content (or
  stays absent) and the temporary file is left as a killed job would leave
  it.
  """
  tmp = temp_path(path, keep_suffix=keep_suffix, per_process=per_process)
  yield tmp
  os.replace(tmp, path)


def write_text(path: str | os.PathLike, text: str,
               encoding: str = "utf-8") -> None:
  with replacing(path) as tmp:
    tmp.write_text(text, encoding=encoding)


def write_json(path: str | os.PathLike, value: Any) -> None:
  """``value`` as stable JSON (sorted keys, one item per line)."""
  # Shard workers may write the same manifest file at once.
  with replacing(path, per_process=True) as tmp:
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True))


class OutputExistsError(FileExistsError):
  """An existing output that a job will not replace silently.

  Every binary words it the same way: the message names the path, what it
  holds and how to proceed (another output path, or ``--overwrite``).
  """

  def __init__(self, path: str | os.PathLike, holds: str):
    self.path = str(path)
    super().__init__(
        f"{self.path} already holds {holds}; choose another output path or"
        " pass --overwrite (overwrite=True) to replace it")
