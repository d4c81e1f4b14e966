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
from typing import Any, Callable, Iterator


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
              per_process: bool = False,
              discard_on_error: bool = False) -> Iterator[Path]:
  """Yields the temporary path; renames it onto ``path`` if the block ends.

  On an exception nothing is renamed: ``path`` keeps its old content (or
  stays absent) and the temporary file is left as a killed job would leave
  it (a resumable job replaces it on its next write), or removed with
  ``discard_on_error`` (one-shot outputs that nothing resumes).
  """
  tmp = temp_path(path, keep_suffix=keep_suffix, per_process=per_process)
  try:
    yield tmp
    os.replace(tmp, path)
  except Exception:
    if discard_on_error:
      tmp.unlink(missing_ok=True)
    raise


def write_text(path: str | os.PathLike, text: str,
               encoding: str = "utf-8") -> None:
  with replacing(path) as tmp:
    tmp.write_text(text, encoding=encoding)


def write_json(path: str | os.PathLike, value: Any, *, indent: int = 1,
               default: Callable[[Any], Any] | None = None,
               per_process: bool = True) -> None:
  """``value`` as stable JSON (sorted keys, one item per line).

  Args:
    path: The final path.
    value: What ``json.dumps`` takes.
    indent: Spaces per level (run directories and results use 2).
    default: ``json.dumps``'s fallback for values it cannot write.
    per_process: A temporary name per process: shard workers may write the
      same manifest file at once. Files that one process writes (run
      directories, results) keep one temporary name, so that the next write
      replaces what a killed one left.
  """
  with replacing(path, per_process=per_process) as tmp:
    tmp.write_text(json.dumps(value, indent=indent, sort_keys=True,
                              default=default))


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


def check_output_file(path: str | os.PathLike, overwrite: bool = False
                      ) -> Path:
  """Refuses, before any work is done, a file path that will not be written.

  Binaries call it on every output file before computing what goes there, so
  that a bad path never costs a result already computed.

  Raises:
    OutputExistsError: ``path`` exists and ``overwrite`` is False.
    IsADirectoryError: ``path`` is a directory.
    NotADirectoryError: a parent of ``path`` is a file.
    PermissionError: the nearest existing parent is not writable.
  """
  path = Path(path)
  if path.is_dir():
    raise IsADirectoryError(
        f"{path} is a directory; give a file path for the output")
  if path.exists() and not overwrite:
    raise OutputExistsError(path, "a file")
  parent = path.parent
  while not parent.exists() and parent != parent.parent:
    parent = parent.parent
  if not parent.is_dir():
    raise NotADirectoryError(f"{path}: {parent} is not a directory")
  if not os.access(parent, os.W_OK | os.X_OK):
    raise PermissionError(f"{path}: cannot write in {parent}")
  return path
