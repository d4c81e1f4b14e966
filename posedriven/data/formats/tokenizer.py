"""The one tokenizer of the whitespace-separated skeleton formats.

:class:`Lines` walks a file's non-blank lines and reports every problem as
the reader's :class:`~posedriven.data.formats.file_guards.FormatError` at
the 1-based line of the fault. Numbers are checked strictly:

* they are parsed by their plain ASCII spelling only (:func:`parse_int`,
  :func:`parse_float`): Python's ``int`` and ``float`` also take ``1_03``
  (103), ``+3`` and non-ASCII digits, so a frame count ``1_03`` would be
  read as 103 and reported lines later as a truncation;
* they are validated in the dtype they are stored in (:func:`cast_finite`,
  :meth:`Lines.check_range`): ``1e39`` is finite as a Python float but
  ``inf`` as float32, and ``300`` wraps to ``44`` in int8;
* dense arrays stay within the file's memory budget (:meth:`Lines.zeros`,
  :func:`~posedriven.data.formats.file_guards.check_dense_budget`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from posedriven.data.formats import file_guards


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

  def __init__(self, path: Path, text: str,
               error_type: type[file_guards.FormatError]):
    self.path = path
    self.size_bytes = len(text)  # read_text's ASCII decode: 1 char per byte
    self.lines = text.splitlines()
    self.pos = 0
    self.error_type = error_type

  def error(self, message: str) -> file_guards.FormatError:
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
    file_guards.check_dense_budget(self.path, nbytes, self.size_bytes,
                                   what, self.error_type)
    return np.zeros(shape, dtype)
