"""What the text skeleton formats (NTU, SBU, MSR) share: errors, reading, lines.

Every format error names the file and, where one is to blame, the 1-based
line, so a user can open the file at the fault; :class:`Lines` is the one
tokenizer of whitespace-separated formats.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence


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


def read_text(path: Path, error_type: type[FormatError]) -> str:
  """The file's text; unreadable files raise ``error_type`` naming them.

  Bytes outside ASCII become U+FFFD, so they are reported as the token they
  spoil rather than as a decoding error without a line.
  """
  try:
    return path.read_text(encoding="ascii", errors="replace")
  except OSError as e:
    raise error_type(path, None, f"cannot read file: {e}") from e


def is_float(token: str) -> bool:
  try:
    float(token)
    return True
  except ValueError:
    return False


class Lines:
  """Cursor over the non-blank lines of a text file.

  Every problem becomes ``error_type(path, line, message)``; ``pos`` is the
  1-based number of the last line returned.
  """

  def __init__(self, path: Path, text: str, error_type: type[FormatError]):
    self.path = path
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

  def count(self, what: str, limit: int) -> int:
    """A line holding one non-negative integer no larger than ``limit``."""
    tokens = self.next_tokens(what)
    if len(tokens) != 1:
      raise self.error(f"expected a single {what}, got {len(tokens)} values")
    try:
      value = int(tokens[0])
    except ValueError:
      raise self.error(f"{what} {tokens[0]!r} is not an integer") from None
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
    try:
      return [float(t) for t in tokens]
    except ValueError:
      bad = next(t for t in tokens if not is_float(t))
      raise self.error(f"non-numeric value {bad!r} in {what}") from None

  def int_value(self, token: str, what: str) -> int:
    """An integer token; ``3.0`` is accepted, ``3.5`` and ``x`` are not."""
    try:
      return int(token)
    except ValueError:
      try:
        value = float(token)
      except ValueError:
        raise self.error(f"non-numeric value {token!r} in {what}") from None
      if not value.is_integer():
        raise self.error(f"{what} {token!r} is not an integer") from None
      return int(value)

  def numbers(self, what: str, n: int) -> list[float]:
    """The next line's ``n`` tokens as floats."""
    return self.floats(self.values(what, n), what)

  def integers(self, what: str, n: int) -> list[int]:
    """The next line's ``n`` tokens as integers (``3.0`` accepted)."""
    values = self.numbers(what, n)
    for v in values:
      if not v.is_integer():
        raise self.error(f"{what} value {v!r} is not an integer")
    return [int(v) for v in values]
