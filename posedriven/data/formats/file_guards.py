"""Guards against hostile files, once for every text skeleton reader.

Every format error names the file and, where one is to blame, the 1-based
line (:class:`FormatError`), so a user can open the file at the fault. Every
skeleton reader (NTU, SBU, MSR) reads through these guards, and the video
reader checks its files with :func:`file_problem`:

* only regular files are read, after resolving links (:func:`file_problem`):
  a FIFO would block the reader forever, ``/dev/zero`` would never end, a
  directory or a symlink loop would fail with an error that hides the cause;
* a file is read in one bounded ``read`` of its size (at most
  :data:`MAX_FILE_BYTES`), so memory follows the file's size, and dense
  arrays are only allocated within :data:`DENSE_BYTES_PER_FILE_BYTE` times
  the file's size (:func:`check_dense_budget`);
* a byte-order mark or UTF-16 text is reported as an encoding problem
  rather than as the first number it spoils (:func:`encoding_problem`).

Tokens and numbers are :mod:`posedriven.data.formats.tokenizer`'s business.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

# Real skeleton files are at most a few MB (NTU: 300 frames x 6 bodies);
# this only refuses inputs that cannot be a recording.
MAX_FILE_BYTES = 256 * 2**20
# Dense per-frame arrays may take this many bytes per byte of file, plus
# DENSE_FLOOR_BYTES: O(file size) however the file is crafted (a new NTU
# bodyID in every frame would otherwise make [T, B] grow as T^2).
DENSE_BYTES_PER_FILE_BYTE = 16
DENSE_FLOOR_BYTES = 64 * 2**20

_BOMS = (
    (b"\xef\xbb\xbf", "a UTF-8 byte-order mark"),
    (b"\xff\xfe", "a UTF-16 (little-endian) byte-order mark"),
    (b"\xfe\xff", "a UTF-16 (big-endian) byte-order mark"),
)


class FormatError(ValueError):
  """A file does not follow its format; the message names file and line.

  Attributes:
    path: The file.
    line: 1-based line of the fault, or None for the whole file.
  """

  def __init__(self, path: str | os.PathLike, line: int | None, message: str):
    self.path = str(path)
    self.line = line
    where = f"{self.path}:{line}" if line is not None else self.path
    super().__init__(f"{where}: {message}")


def _kind(mode: int) -> str:
  if stat.S_ISDIR(mode):
    return "a directory"
  if stat.S_ISFIFO(mode):
    return "a FIFO (named pipe)"
  if stat.S_ISCHR(mode):
    return "a character device"
  if stat.S_ISBLK(mode):
    return "a block device"
  if stat.S_ISSOCK(mode):
    return "a socket"
  return "not a regular file"


def file_problem(path: str | os.PathLike) -> str | None:
  """Why ``path`` cannot be read as a data file, or None if it can.

  Links are resolved first: a symlink to a regular file is fine, one to
  ``/dev/zero`` is a character device. Nothing is opened, so a FIFO does
  not block.
  """
  try:
    mode = os.stat(path).st_mode
  except OSError as e:
    if e.errno == errno.ELOOP:
      return "is a symlink loop (links point at each other)"
    if e.errno == errno.ENOENT:
      return "does not exist" if not os.path.islink(path) else (
          "is a broken symlink (its target does not exist)")
    return f"cannot be read: {e.strerror}"
  if stat.S_ISREG(mode):
    return None
  kind = _kind(mode)
  if kind == "not a regular file":
    return kind
  return f"is {kind}, not a regular file"


def encoding_problem(head: bytes) -> str | None:
  """Why text starting with ``head`` is not in the ASCII formats' encoding.

  A byte-order mark, or NUL bytes in every other position (UTF-16 without
  a mark), would otherwise surface as "frame count '...' is not an integer".
  """
  for bom, name in _BOMS:
    if head.startswith(bom):
      return (f"file starts with {name}: the format is plain ASCII text;"
              " re-save it as ASCII/UTF-8 without a byte-order mark")
  sample = head[:64]
  if len(sample) >= 8 and (sample[1::2].count(0) >= len(sample) // 4 or
                           sample[0::2].count(0) >= len(sample) // 4):
    return ("file holds NUL bytes between characters: it looks UTF-16"
            " encoded; the format is plain ASCII text, re-save it as ASCII")
  return None


def read_text(path: Path, error_type: type[FormatError],
              max_bytes: int = MAX_FILE_BYTES) -> str:
  """The file's text; unreadable files raise ``error_type`` naming them.

  Refuses what is not a regular file (after resolving links), files over
  ``max_bytes`` and UTF-16 / byte-order-marked text. Bytes outside ASCII
  become U+FFFD, so they are reported as the token they spoil rather than
  as a decoding error without a line.
  """
  problem = file_problem(path)
  if problem is not None:
    raise error_type(path, None, f"cannot read file: it {problem}")
  try:
    # O_NONBLOCK: if the file was swapped for a FIFO since the check, open
    # returns at once and fstat below refuses it.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
  except OSError as e:
    raise error_type(path, None, f"cannot read file: {e}") from e
  with os.fdopen(fd, "rb") as f:
    info = os.fstat(f.fileno())
    if not stat.S_ISREG(info.st_mode):
      raise error_type(path, None, f"cannot read file: it is"
                       f" {_kind(info.st_mode)}, not a regular file")
    if info.st_size > max_bytes:
      raise error_type(path, None, f"file is {info.st_size} bytes, more than"
                       f" any recording ({max_bytes} bytes); refusing to read"
                       " it")
    try:
      data = f.read(info.st_size)
    except OSError as e:
      raise error_type(path, None, f"cannot read file: {e}") from e
  problem = encoding_problem(data)
  if problem is not None:
    raise error_type(path, None, problem)
  return data.decode("ascii", errors="replace")


def check_dense_budget(path: Path, nbytes: int, file_bytes: int,
                       what: str, error_type: type[FormatError]) -> None:
  """Refuses a dense allocation that the file's size cannot justify."""
  budget = DENSE_FLOOR_BYTES + DENSE_BYTES_PER_FILE_BYTE * file_bytes
  if nbytes > budget:
    raise error_type(
        path, None,
        f"{what} would need {nbytes / 2**20:.0f} MiB for a"
        f" {file_bytes / 2**20:.2f} MiB file (limit {budget / 2**20:.0f}"
        " MiB); the file cannot be a real recording")
