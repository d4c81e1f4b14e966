"""What the text skeleton formats (NTU, SBU, MSR) share: errors, reading, lines.

Every format error names the file and, where one is to blame, the 1-based
line, so a user can open the file at the fault; :class:`Lines` is the one
tokenizer of whitespace-separated formats.

The guards against hostile files live here, once for every reader:

* only regular files are read, after resolving links (:func:`file_problem`):
  a FIFO would block the reader forever, ``/dev/zero`` would never end, a
  directory or a symlink loop would fail with an error that hides the cause;
* a file is read in one bounded ``read`` of its size (at most
  :data:`MAX_FILE_BYTES`), so memory follows the file's size, and dense
  arrays are only allocated within :data:`DENSE_BYTES_PER_FILE_BYTE` times
  the file's size (:meth:`Lines.zeros`, :func:`check_dense_budget`);
* a byte-order mark or UTF-16 text is reported as an encoding problem
  rather than as the first number it spoils (:func:`encoding_problem`);
* numbers are validated in the dtype they are stored in
  (:func:`cast_finite`, :meth:`Lines.check_range`): ``1e39`` is finite as a
  Python float but ``inf`` as float32, and ``300`` wraps to ``44`` in int8;
* numbers are parsed by their plain ASCII spelling only
  (:func:`parse_int`, :func:`parse_float`): Python's ``int`` and ``float``
  also take ``1_03`` (103), ``+3`` and non-ASCII digits, so a frame count
  ``1_03`` would be read as 103 and reported lines later as a truncation.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import Sequence

import numpy as np

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


def cast_finite(values: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray]:
  """``values`` in ``dtype`` and the mask of entries not finite there.

  ``1e39`` passes a float64 finiteness check but is ``inf`` in float32: the
  check belongs after the cast.
  """
  with np.errstate(over="ignore", invalid="ignore"):
    cast = np.asarray(values).astype(dtype)
  return cast, ~np.isfinite(cast)


def dtype_range(dtype) -> tuple[int, int]:
  info = np.iinfo(dtype)
  return int(info.min), int(info.max)


# The spellings the formats use: C's printf / MATLAB output. Python's own
# parsers accept more (digit-group underscores, a leading '+' on integers,
# Unicode digits), which would silently give another number.
_INT_RE = re.compile(r"-?[0-9]+")
_FLOAT_RE = re.compile(
    r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?(?:nan|inf|infinity)", re.IGNORECASE)


def parse_int(token: str) -> int | None:
  """``token`` as an integer if it is plain ASCII decimal digits with an
  optional leading ``-``, else None (``1_03``, ``+3``, ``3.0``, ``\u0663``)."""
  return int(token) if _INT_RE.fullmatch(token) else None


def parse_float(token: str) -> float | None:
  """``token`` as a float if it is a plain ASCII decimal number (``1.5``,
  ``-2e-3``, ``.5``, ``nan``, ``inf``), else None (``1_0``, ``0x1p3``)."""
  return float(token) if _FLOAT_RE.fullmatch(token) else None


def is_float(token: str) -> bool:
  return parse_float(token) is not None


class Lines:
  """Cursor over the non-blank lines of a text file.

  Every problem becomes ``error_type(path, line, message)``; ``pos`` is the
  1-based number of the last line returned.
  """

  def __init__(self, path: Path, text: str, error_type: type[FormatError]):
    self.path = path
    self.size_bytes = len(text)  # read_text's ASCII decode: 1 char per byte
    self.lines = text.splitlines()
    self.pos = 0
    self.error_type = error_type

  def error(self, message: str) -> FormatError:
    return self.error_type(self.path, self.pos, message)

  def next_tokens(self, what: str) -> list[str]:
    while self.pos < len(self.lines):
      self.pos += 1
      tokens = self.lines[self.pos - 1].split()
      if tokens:
        return tokens
    if not any(line.strip() for line in self.lines):
      # "Truncated after line 0" would send one looking for a partial copy.
      raise self.error_type(self.path, None, "file is empty (no data)")
    raise self.error(f"file is truncated: expected {what} after the last line")

  def has_more(self) -> bool:
    return any(line.strip() for line in self.lines[self.pos:])

  def remaining(self) -> int:
    """Lines after the cursor (an upper bound on what is left to read)."""
    return len(self.lines) - self.pos

  def count(self, what: str, limit: int) -> int:
    """A line holding one non-negative integer no larger than ``limit``."""
    tokens = self.next_tokens(what)
    if len(tokens) != 1:
      raise self.error(f"expected a single {what}, got {len(tokens)} values")
    value = parse_int(tokens[0])
    if value is None:
      raise self.error(f"{what} {tokens[0]!r} is not an integer (plain"
                       " decimal digits expected)")
    if value < 0:
      raise self.error(f"{what} is negative ({value})")
    if value > limit:
      raise self.error(f"{what} {value} is implausibly large (limit {limit})")
    return value

  def values(self, what: str, n: int) -> list[str]:
    """The next line's ``n`` tokens, as strings."""
    tokens = self.next_tokens(what)
    if len(tokens) != n:
      raise self.error(f"{what} has {len(tokens)} values, expected {n}")
    return tokens

  def floats(self, tokens: Sequence[str], what: str) -> list[float]:
    values = [parse_float(t) for t in tokens]
    if None in values:
      bad = tokens[values.index(None)]
      raise self.error(f"non-numeric value {bad!r} in {what}")
    return values

  def check_range(self, value: int, what: str, lo: int, hi: int) -> int:
    """``value`` if ``lo <= value <= hi`` (its storage range), else an error."""
    if not lo <= value <= hi:
      raise self.error(f"{what} {value} is outside {lo}..{hi}")
    return value

  def int_value(self, token: str, what: str, lo: int | None = None,
                hi: int | None = None) -> int:
    """An integer token (plain decimal digits, :func:`parse_int`) within
    ``[lo, hi]``; ``3.0``, ``3.5``, ``1_0``, ``inf`` and ``x`` are refused."""
    value = parse_int(token)
    if value is None:
      if not is_float(token):
        raise self.error(f"non-numeric value {token!r} in {what}")
      raise self.error(f"{what} {token!r} is not an integer (plain decimal"
                       " digits expected)")
    if lo is not None and hi is not None:
      self.check_range(value, what, lo, hi)
    return value

  def numbers(self, what: str, n: int) -> list[float]:
    """The next line's ``n`` tokens as floats."""
    return self.floats(self.values(what, n), what)

  def integers(self, what: str, n: int) -> list[int]:
    """The next line's ``n`` tokens as integers (:meth:`int_value`)."""
    return [self.int_value(t, what)
            for t in self.values(what, n)]

  def zeros(self, shape: Sequence[int], dtype, what: str) -> np.ndarray:
    """``np.zeros(shape, dtype)`` within the file's memory budget."""
    nbytes = int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
    check_dense_budget(self.path, nbytes, self.size_bytes, what,
                       self.error_type)
    return np.zeros(shape, dtype)
