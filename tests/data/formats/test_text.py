"""The shared reader guards of formats/text.py, on tiny inputs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from posedriven.data.formats import text


class _Error(text.FormatError):
  pass


def _lines(content: str) -> text.Lines:
  return text.Lines(Path("f.txt"), content, _Error)


def test_cast_finite_checks_in_the_stored_dtype():
  values = np.array([1.0, 1e39, 3.4e38, np.nan], np.float64)
  assert np.all(np.isfinite(values[:3]))  # fine in float64 ...
  cast, bad = text.cast_finite(values, np.float32)
  assert cast.dtype == np.float32
  assert bad.tolist() == [False, True, False, True]  # ... not in float32


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
      lines.int_value(token, "n", *text.dtype_range(np.int8))
    assert str(info.value).startswith("f.txt:1: ")


def test_zeros_stays_within_the_file_budget():
  lines = _lines("1\n" * 10)
  assert lines.zeros((4, 4), np.float64, "a").shape == (4, 4)
  with pytest.raises(_Error, match="f.txt: 2 bodies would need"):
    lines.zeros((text.DENSE_FLOOR_BYTES, 2), np.float64, "2 bodies")


@pytest.mark.parametrize("head,words", [
    (b"\xef\xbb\xbf3\n", "UTF-8 byte-order mark"),
    (b"\xff\xfe3\x00\n\x00", "UTF-16 (little-endian)"),
    (b"\xfe\xff\x003\x00\n", "UTF-16 (big-endian)"),
    ("3\n1\n5 2 7\n".encode("utf-16-le"), "looks UTF-16"),
])
def test_encoding_problem_names_the_encoding(head, words):
  assert words in text.encoding_problem(head)


def test_plain_ascii_and_latin1_noise_have_no_encoding_problem():
  assert text.encoding_problem(b"3\n1\n72057594037965121 0 1 1\n") is None
  assert text.encoding_problem(bytes(range(1, 256))) is None


def test_file_problem(tmp_path):
  regular = tmp_path / "a.txt"
  regular.write_text("1\n")
  assert text.file_problem(regular) is None
  link = tmp_path / "link.txt"
  link.symlink_to(regular)
  assert text.file_problem(link) is None  # links are resolved
  fifo = tmp_path / "fifo"
  os.mkfifo(fifo)
  assert "FIFO" in text.file_problem(fifo)
  assert "directory" in text.file_problem(tmp_path)
  assert text.file_problem(tmp_path / "nope") == "does not exist"


def test_read_text_refuses_files_over_the_limit(tmp_path):
  path = tmp_path / "big.txt"
  path.write_text("1\n" * 100)
  assert text.read_text(path, _Error) == "1\n" * 100
  with pytest.raises(_Error, match="200 bytes, more than any recording"):
    text.read_text(path, _Error, max_bytes=199)
