"""The guards every text skeleton reader goes through, on tiny files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from posedriven.data.formats import file_guards


class _Error(file_guards.FormatError):
  pass


def test_format_error_names_file_and_line():
  error = _Error(Path("d/f.txt"), 3, "bad value")
  assert str(error) == "d/f.txt:3: bad value"
  assert (error.path, error.line) == ("d/f.txt", 3)
  assert str(_Error("d/f.txt", None, "empty")) == "d/f.txt: empty"
  assert isinstance(error, ValueError)


@pytest.mark.parametrize("head,words", [
    (b"\xef\xbb\xbf3\n", "UTF-8 byte-order mark"),
    (b"\xff\xfe3\x00\n\x00", "UTF-16 (little-endian)"),
    (b"\xfe\xff\x003\x00\n", "UTF-16 (big-endian)"),
    ("3\n1\n5 2 7\n".encode("utf-16-le"), "looks UTF-16"),
])
def test_encoding_problem_names_the_encoding(head, words):
  assert words in file_guards.encoding_problem(head)


def test_plain_ascii_and_latin1_noise_have_no_encoding_problem():
  assert file_guards.encoding_problem(
      b"3\n1\n72057594037965121 0 1 1\n") is None
  assert file_guards.encoding_problem(bytes(range(1, 256))) is None


def test_file_problem(tmp_path):
  regular = tmp_path / "a.txt"
  regular.write_text("1\n")
  assert file_guards.file_problem(regular) is None
  link = tmp_path / "link.txt"
  link.symlink_to(regular)
  assert file_guards.file_problem(link) is None  # links are resolved
  fifo = tmp_path / "fifo"
  os.mkfifo(fifo)
  assert "FIFO" in file_guards.file_problem(fifo)
  assert "directory" in file_guards.file_problem(tmp_path)
  assert file_guards.file_problem(tmp_path / "nope") == "does not exist"


def test_file_problem_tells_broken_links_and_loops(tmp_path):
  broken = tmp_path / "broken"
  broken.symlink_to(tmp_path / "gone")
  assert "broken symlink" in file_guards.file_problem(broken)
  (tmp_path / "a").symlink_to(tmp_path / "b")
  (tmp_path / "b").symlink_to(tmp_path / "a")
  assert "symlink loop" in file_guards.file_problem(tmp_path / "a")


def test_read_text_refuses_files_over_the_limit(tmp_path):
  path = tmp_path / "big.txt"
  path.write_text("1\n" * 100)
  assert file_guards.read_text(path, _Error) == "1\n" * 100
  with pytest.raises(_Error, match="200 bytes, more than any recording"):
    file_guards.read_text(path, _Error, max_bytes=199)


def test_read_text_reports_what_it_cannot_read(tmp_path):
  fifo = tmp_path / "fifo"
  os.mkfifo(fifo)  # refused before it is opened: no blocking read
  with pytest.raises(_Error, match="fifo: cannot read file: it is a FIFO"):
    file_guards.read_text(fifo, _Error)
  marked = tmp_path / "bom.txt"
  marked.write_bytes(b"\xef\xbb\xbf3\n")
  with pytest.raises(_Error, match="bom.txt: file starts with a UTF-8"):
    file_guards.read_text(marked, _Error)


def test_read_text_keeps_non_ascii_bytes_as_replacement_characters(tmp_path):
  path = tmp_path / "latin1.txt"
  path.write_bytes(b"1 \xe9 2\n")
  assert file_guards.read_text(path, _Error) == "1 \ufffd 2\n"


def test_dense_budget_is_a_floor_plus_a_multiple_of_the_file():
  floor = file_guards.DENSE_FLOOR_BYTES
  per_byte = file_guards.DENSE_BYTES_PER_FILE_BYTE
  file_guards.check_dense_budget(Path("f"), floor + per_byte * 1000, 1000,
                                 "arrays", _Error)
  with pytest.raises(_Error, match="f: 2 bodies would need .* MiB for a"):
    file_guards.check_dense_budget(Path("f"), floor + per_byte * 1000 + 1,
                                   1000, "2 bodies", _Error)
