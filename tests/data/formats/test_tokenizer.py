"""The tokenizer of the whitespace-separated formats, on tiny inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posedriven.data.formats import file_guards
from posedriven.data.formats import tokenizer


class _Error(file_guards.FormatError):
  pass


def _lines(content: str) -> tokenizer.Lines:
  return tokenizer.Lines(Path("f.txt"), content, _Error)


def test_cast_finite_checks_in_the_stored_dtype():
  values = np.array([1.0, 1e39, 3.4e38, np.nan], np.float64)
  assert np.all(np.isfinite(values[:3]))  # fine in float64 ...
  cast, bad = tokenizer.cast_finite(values, np.float32)
  assert cast.dtype == np.float32
  assert bad.tolist() == [False, True, False, True]  # ... not in float32


def test_dtype_range():
  assert tokenizer.dtype_range(np.int8) == (-128, 127)
  assert tokenizer.dtype_range(np.uint64) == (0, 2**64 - 1)


def test_parse_int_takes_plain_decimal_digits_only():
  assert [tokenizer.parse_int(t) for t in ("0", "-7", "0042")] == [0, -7, 42]
  for token in ("1_03", "+3", "3.0", "\u0663", "", "1e3", " 3"):
    assert tokenizer.parse_int(token) is None, token


def test_parse_float_takes_plain_ascii_numbers_only():
  assert [tokenizer.parse_float(t) for t in ("1.5", "-2e-3", ".5", "5.")] == [
      1.5, -2e-3, 0.5, 5.0]
  assert np.isnan(tokenizer.parse_float("nan"))
  assert tokenizer.parse_float("-Infinity") == -np.inf
  for token in ("1_0", "0x1p3", "\u0661.5", ".", "e3", "1.5f"):
    assert tokenizer.parse_float(token) is None, token
    assert not tokenizer.is_float(token)


def test_next_tokens_skips_blank_lines_and_counts_from_one():
  lines = _lines("\n3 4\n  \n5\n")
  assert lines.next_tokens("header") == ["3", "4"] and lines.pos == 2
  assert lines.has_more() and lines.remaining() == 2
  assert lines.next_tokens("x") == ["5"] and lines.pos == 4
  assert not lines.has_more()
  with pytest.raises(_Error, match="f.txt:4: file is truncated: expected y"):
    lines.next_tokens("y")


def test_empty_file_is_reported_without_a_line():
  with pytest.raises(_Error, match=r"^f.txt: file is empty \(no data\)$"):
    _lines(" \n\n").next_tokens("frame count")


def test_count_is_one_bounded_non_negative_integer():
  assert _lines("7\n").count("frame count", 10) == 7
  for content, words in (("1 2\n", "expected a single frame count, got 2"),
                         ("1_0\n", "'1_0' is not an integer"),
                         ("-1\n", "frame count is negative"),
                         ("11\n", "frame count 11 is implausibly large")):
    with pytest.raises(_Error, match=words) as info:
      _lines(content).count("frame count", 10)
    assert str(info.value).startswith("f.txt:1: ")


def test_values_numbers_and_integers_check_the_count_and_spelling():
  lines = _lines("1 2.5 -3\n1 2\n4 x\n4 5\n")
  assert lines.numbers("joint", 3) == [1.0, 2.5, -3.0]
  with pytest.raises(_Error, match="f.txt:2: joint has 2 values, expected 3"):
    lines.numbers("joint", 3)
  with pytest.raises(_Error, match="f.txt:3: non-numeric value 'x' in joint"):
    lines.numbers("joint", 2)
  assert lines.integers("ids", 2) == [4, 5]


def test_int_value_is_checked_against_its_range():
  lines = _lines("x\n")
  lines.next_tokens("x")
  assert lines.int_value("3", "n", 0, 5) == 3
  assert lines.int_value("18446744073709551615", "id", 0, 2**64 - 1) == (
      2**64 - 1)
  for token, words in (("300", "n 300 is outside -128..127"),
                       ("3.0", "is not an integer"),
                       ("1e30", "is not an integer"),
                       ("inf", "is not an integer"),
                       ("nan", "is not an integer"), ("x", "non-numeric")):
    with pytest.raises(_Error, match=words) as info:
      lines.int_value(token, "n", *tokenizer.dtype_range(np.int8))
    assert str(info.value).startswith("f.txt:1: ")


def test_zeros_stays_within_the_file_budget():
  lines = _lines("1\n" * 10)
  assert lines.zeros((4, 4), np.float64, "a").shape == (4, 4)
  with pytest.raises(_Error, match="f.txt: 2 bodies would need"):
    lines.zeros((file_guards.DENSE_FLOOR_BYTES, 2), np.float64, "2 bodies")
