"""Atomic writes: a final path holds nothing, the old file, or the new one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from posedriven import atomic


def test_temporary_names_sit_beside_the_final_path(tmp_path):
  assert atomic.temp_path(tmp_path / "a.avi") == tmp_path / "a.avi.tmp"
  # Writers that pick the file type by its suffix keep the whole suffix.
  assert atomic.temp_path(tmp_path / "a.avi", keep_suffix=True) == (
      tmp_path / "a.tmp.avi")
  assert atomic.temp_path(tmp_path / "m.weights.h5", keep_suffix=True) == (
      tmp_path / "m.tmp.weights.h5")
  assert atomic.temp_path(tmp_path / "plain", keep_suffix=True) == (
      tmp_path / "plain.tmp")
  assert atomic.temp_path(tmp_path / "a.json", per_process=True) == (
      tmp_path / f"a.json.tmp-{os.getpid()}")


def test_replacing_renames_only_when_the_block_ends(tmp_path):
  target = tmp_path / "out.txt"
  target.write_text("old")
  with atomic.replacing(target) as tmp:
    assert tmp == atomic.temp_path(target)
    tmp.write_text("new")
    assert target.read_text() == "old"
  assert target.read_text() == "new"
  assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_failed_block_keeps_the_old_file_and_leaves_the_temporary_one(
    tmp_path):
  # As a killed job leaves it: the next write of the same path replaces it.
  target = tmp_path / "out.txt"
  target.write_text("old")
  with pytest.raises(RuntimeError, match="killed"):
    with atomic.replacing(target) as tmp:
      tmp.write_text("half")
      raise RuntimeError("killed")
  assert target.read_text() == "old"
  assert atomic.temp_path(target).read_text() == "half"
  atomic.write_text(target, "complete")
  assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
  assert target.read_text() == "complete"


def test_failed_write_leaves_no_temporary_file(tmp_path):
  target = tmp_path / "fig.png"
  with pytest.raises(OSError):
    with atomic.replacing(target, keep_suffix=True,
                          discard_on_error=True) as tmp:
      tmp.write_bytes(b"half")
      raise OSError("disk full")
  assert list(tmp_path.iterdir()) == []


def test_write_json_is_sorted_and_uses_the_fallback(tmp_path):
  target = tmp_path / "m.json"
  atomic.write_json(target, {"b": 1, "a": Path("x")}, indent=2, default=str)
  assert target.read_text() == '{\n  "a": "x",\n  "b": 1\n}'
  assert json.loads(target.read_text()) == {"a": "x", "b": 1}
  assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]
  with pytest.raises(TypeError):
    atomic.write_json(tmp_path / "n.json", {"a": Path("x")})
  assert not (tmp_path / "n.json").exists()


def test_output_exists_error_says_how_to_proceed(tmp_path):
  error = atomic.OutputExistsError(tmp_path / "run", "a finished run")
  assert isinstance(error, FileExistsError)
  assert error.path == str(tmp_path / "run")
  assert str(error) == (
      f"{tmp_path / 'run'} already holds a finished run; choose another"
      " output path or pass --overwrite (overwrite=True) to replace it")


def test_output_file_checks(tmp_path):
  existing = tmp_path / "a.png"
  existing.write_bytes(b"x")
  with pytest.raises(atomic.OutputExistsError, match="a.png already holds a"
                     " file.*--overwrite"):
    atomic.check_output_file(existing)
  assert atomic.check_output_file(existing, overwrite=True) == existing
  with pytest.raises(IsADirectoryError, match="is a directory"):
    atomic.check_output_file(tmp_path, overwrite=True)
  with pytest.raises(NotADirectoryError, match="a.png is not a directory"):
    atomic.check_output_file(existing / "sub" / "b.png")
  assert atomic.check_output_file(tmp_path / "new" / "b.png")
