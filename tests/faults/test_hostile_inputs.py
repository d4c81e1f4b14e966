"""Hostile inputs (issue 17): values that overflow their dtype, files that are
not files, memory bombs, wrong encodings. Each is refused by its reader with
an error naming the file (and line), or handled by a documented, logged
fallback; never a bare numpy error, a hang or an unbounded allocation."""

from __future__ import annotations

import os
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from posedriven.data.formats import file_guards
from posedriven.data.formats import msr
from posedriven.data.formats import ntu
from posedriven.data.formats import sbu
from posedriven.data.formats import tokenizer
from tests.faults import corpus


def _ntu_file(tmp_path: Path, fault: corpus.TextFault) -> Path:
  return corpus.break_skeleton(corpus.write_valid_skeleton(tmp_path), fault)


def _sbu_file(tmp_path: Path, rows: list[str]) -> Path:
  seq = tmp_path / "s01s02" / "01" / "001"
  seq.mkdir(parents=True)
  path = seq / sbu.SKELETON_FILE
  path.write_text("\n".join(rows) + "\n")
  return path


def _msr_file(tmp_path: Path, content: str) -> Path:
  path = tmp_path / "a01_s01_e01_skeleton.txt"
  path.write_text(content)
  return path


def _refused(load, path, error_type, *words, line=None):
  with pytest.raises(error_type) as info:
    load(path)
  assert type(info.value) is error_type  # not a bare ValueError
  where = f"{path}:{line}" if line is not None else str(path)
  assert where in str(info.value)
  for word in words:
    assert word in str(info.value)
  return info.value


# -- values validated in the dtype they are stored in ------------------------


def test_ntu_joint_overflowing_float32_is_untracked_not_inf(tmp_path, caplog):
  path = _ntu_file(tmp_path, corpus.joint_value(0, "1e39"))
  seq = ntu.load_skeleton(path)
  assert np.all(np.isfinite(seq.xyz))
  assert seq.tracking_state[0, 0, 0] == 0 and seq.xyz[0, 0, 0, 0] == 0
  assert seq.tracking_state[0, 0, 1] == 2
  assert "NaN/inf (in float32)" in caplog.text


def test_ntu_lean_overflowing_float32_is_zeroed(tmp_path):
  seq = ntu.load_skeleton(_ntu_file(tmp_path,
                                    corpus.body_header_value(7, "-1e39")))
  assert seq.lean_xy[0, 0, 0] == 0 and np.all(np.isfinite(seq.lean_xy))


@pytest.mark.parametrize("value,words", [
    ("1e26", "bodyID '1e26' is not an integer"),
    ("-5", "bodyID -5 is outside 0..18446744073709551615"),
    ("inf", "bodyID 'inf' is not an integer"),
    ("18446744073709551616", "is outside"),
])
def test_ntu_body_id_outside_uint64_names_file_and_line(tmp_path, value,
                                                        words):
  path = _ntu_file(tmp_path, corpus.body_header_value(0, value))
  _refused(ntu.load_skeleton, path, ntu.SkeletonFormatError, words,
           line=corpus.BODY_HEADER_LINE + 1)


def test_ntu_largest_uint64_body_id_is_kept_exactly(tmp_path):
  path = _ntu_file(tmp_path,
                   corpus.body_header_value(0, "18446744073709551615"))
  assert ntu.load_skeleton(path).body_ids[0] == np.uint64(2**64 - 1)


@pytest.mark.parametrize("column,value,words", [
    (1, "10000000000", "clipedEdges 10000000000 is outside"),
    (3, "300", "handLeftState 300 is outside -128..127"),
    (9, "7", "body trackingState 7 is outside 0..2"),
])
def test_ntu_header_field_outside_its_dtype_is_refused(tmp_path, column,
                                                       value, words):
  path = _ntu_file(tmp_path, corpus.body_header_value(column, value))
  _refused(ntu.load_skeleton, path, ntu.SkeletonFormatError, words,
           line=corpus.BODY_HEADER_LINE + 1)


@pytest.mark.parametrize("value", ["300", "-1", "3", "1.5"])
def test_ntu_tracking_state_is_a_state_not_an_int8_wrap(tmp_path, value):
  path = _ntu_file(tmp_path, corpus.joint_value(11, value, joint=2))
  _refused(ntu.load_skeleton, path, ntu.SkeletonFormatError,
           f"joint 3 trackingState '{value}' is not one of (0, 1, 2)",
           line=corpus.FIRST_JOINT_LINE + 3)


@pytest.mark.parametrize("value,words", [
    ("1000000", "frame number '1000000' is outside 0..999999"),
    ("-7", "frame number '-7' is outside 0..999999"),
    ("inf", "frame number 'inf' is not an integer"),
])
def test_sbu_frame_number_outside_the_file_names(tmp_path, value, words):
  rows = corpus.sbu_rows(3)
  rows[1] = ",".join([value] + rows[1].split(",")[1:])
  _refused(sbu.load_skeleton_file, _sbu_file(tmp_path, rows),
           sbu.SbuFormatError, words, line=2)


@pytest.mark.parametrize("value,words", [
    ("1e39", "NaN or infinite coordinate (in float32)"),
    ("1e37", "infinite once converted"),
])
def test_sbu_coordinate_overflowing_float32_names_the_line(tmp_path, value,
                                                           words):
  rows = corpus.sbu_rows(3)
  values = rows[2].split(",")
  values[5] = value
  rows[2] = ",".join(values)
  _refused(sbu.load_skeleton_file, _sbu_file(tmp_path, rows),
           sbu.SbuFormatError, words, line=3)


def test_msr_world_overflowing_float32_is_zeroed(tmp_path, caplog):
  content = corpus.msr_text((1,)).splitlines()
  content[2] = "1e39 0.5 2.5 1"
  clip = msr.load_clip(_msr_file(tmp_path, "\n".join(content) + "\n"))
  assert np.all(np.isfinite(clip.xyz)) and clip.xyz[0, 0, 0, 0] == 0
  assert "NaN/inf (in float32)" in caplog.text


# -- memory bounded by the file's size ----------------------------------------


def _peak_bytes(fn) -> tuple[int, BaseException | None]:
  tracemalloc.start()
  try:
    fn()
    error = None
  except Exception as e:  # pylint: disable=broad-except
    error = e
  finally:
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
  return peak, error


def test_new_body_id_every_frame_is_refused_within_file_size_memory(
    tmp_path):
  path = tmp_path / f"{corpus.SAMPLE_NAME}.skeleton"
  path.write_text(corpus.new_body_every_frame(300))  # 188 kB
  peak, error = _peak_bytes(lambda: ntu.load_skeleton(path))
  assert isinstance(error, ntu.SkeletonFormatError), error
  assert str(path) in str(error) and "300 distinct bodyIDs" in str(error)
  # The dense arrays would take 216 MB; parsing takes a few file sizes.
  assert peak < 20 * path.stat().st_size, peak


def test_few_new_body_ids_still_load(tmp_path):
  path = tmp_path / f"{corpus.SAMPLE_NAME}.skeleton"
  path.write_text(corpus.new_body_every_frame(40))
  seq = ntu.load_skeleton(path)
  assert seq.num_bodies == 40 and seq.present.sum() == 40


def test_msr_frame_count_beyond_the_file_is_refused_before_allocating(
    tmp_path):
  path = _msr_file(tmp_path, "99999 20\n0\n0\n")
  peak, error = _peak_bytes(lambda: msr.load_skeleton_file(path))
  assert isinstance(error, msr.MsrFormatError)
  assert f"{path}:1" in str(error) and "truncated" in str(error)
  assert peak < 2**20


def test_dense_budget_grows_with_the_file():
  path = Path("x.skeleton")
  floor = file_guards.DENSE_FLOOR_BYTES
  file_guards.check_dense_budget(path, floor, 0, "arrays",
                                 ntu.SkeletonFormatError)
  file_guards.check_dense_budget(path, floor + 16 * 10**6, 10**6, "arrays",
                                 ntu.SkeletonFormatError)
  with pytest.raises(ntu.SkeletonFormatError, match="x.skeleton: arrays"):
    file_guards.check_dense_budget(path, floor + 1, 0, "arrays",
                                   ntu.SkeletonFormatError)


# -- only regular files -------------------------------------------------------

_READERS = {
    "ntu": (lambda d: d / f"{corpus.SAMPLE_NAME}.skeleton",
            ntu.load_skeleton, ntu.SkeletonFormatError),
    "sbu": (lambda d: d / sbu.SKELETON_FILE, sbu.load_skeleton_file,
            sbu.SbuFormatError),
    "msr": (lambda d: d / "a01_s01_e01_skeleton.txt", msr.load_skeleton_file,
            msr.MsrFormatError),
}


def _within_seconds(seconds: float, fn):
  """``fn()``'s exception, failing the test if it does not return in time."""
  result: list = []

  def run():
    try:
      fn()
      result.append(None)
    except Exception as e:  # pylint: disable=broad-except
      result.append(e)

  thread = threading.Thread(target=run, daemon=True)
  thread.start()
  thread.join(seconds)
  assert result, f"still blocked after {seconds} s"
  return result[0]


def _fifo(path):
  os.mkfifo(path)


def _dev_zero(path):
  os.symlink("/dev/zero", path)


def _directory(path):
  path.mkdir()


def _loop(path):
  os.symlink(path.name, path)


def _broken_link(path):
  os.symlink(path.with_name("gone"), path)


NOT_FILES = {
    "fifo": (_fifo, "is a FIFO (named pipe), not a regular file"),
    "dev_zero": (_dev_zero, "is a character device, not a regular file"),
    "directory": (_directory, "is a directory, not a regular file"),
    "symlink_loop": (_loop, "is a symlink loop"),
    "broken_symlink": (_broken_link, "is a broken symlink"),
}


@pytest.mark.parametrize("reader", sorted(_READERS))
@pytest.mark.parametrize("kind", sorted(NOT_FILES))
def test_reader_refuses_what_is_not_a_regular_file(tmp_path, reader, kind):
  name, load, error_type = _READERS[reader]
  make, words = NOT_FILES[kind]
  path = name(tmp_path)
  make(path)
  error = _within_seconds(10, lambda: load(path))
  assert type(error) is error_type, error
  assert str(path) in str(error) and words in str(error)


def test_symlink_to_a_regular_file_is_read(tmp_path):
  elsewhere = tmp_path / "elsewhere"
  elsewhere.mkdir()
  target = corpus.write_valid_skeleton(elsewhere)
  link = tmp_path / "S001C001P001R001A001.skeleton"
  link.symlink_to(target)
  assert ntu.load_skeleton(link).num_frames == 4


# -- encodings ---------------------------------------------------------------

ENCODINGS = {
    "utf8_bom": (corpus.utf8_bom, "UTF-8 byte-order mark"),
    "utf16": (corpus.utf16, "UTF-16 (little-endian) byte-order mark"),
    "utf16_without_bom": (corpus.utf16_without_bom, "looks UTF-16"),
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_wrong_encoding_is_named_as_the_problem(tmp_path, encoding):
  fault, words = ENCODINGS[encoding]
  path = _ntu_file(tmp_path, fault)
  error = _refused(ntu.load_skeleton, path, ntu.SkeletonFormatError, words)
  assert "ASCII" in str(error) and "not an integer" not in str(error)
  sbu_path = _sbu_file(tmp_path, corpus.sbu_rows(2))
  sbu_path.write_bytes(fault(sbu_path.read_text()).encode("latin-1"))
  _refused(sbu.load_skeleton_file, sbu_path, sbu.SbuFormatError, words)
  msr_path = tmp_path / "a01_s01_e01_skeleton.txt"
  msr_path.write_bytes(fault(corpus.msr_text()).encode("latin-1"))
  _refused(msr.load_skeleton_file, msr_path, msr.MsrFormatError, words)


def test_binary_garbage_is_not_taken_for_utf16():
  garbage = corpus.binary_garbage("").encode("latin-1")
  assert file_guards.encoding_problem(garbage) is None
  assert file_guards.encoding_problem(b"3\n1\n") is None


# -- integers spelt only as plain decimal digits (issue 25) -------------------

# Python's int() reads all of these, and float() the first two: a frame count
# "1_03" was 103 frames and the error came lines later ("truncated").
NOT_PLAIN_INTEGERS = ["1_03", "+3", "3.0", "1e2", "0x1F", "\u0663"]


def _with_line(path: Path, index: int, value: str) -> Path:
  lines = path.read_text().splitlines()
  lines[index] = value
  path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
  return path


@pytest.mark.parametrize("value", NOT_PLAIN_INTEGERS)
@pytest.mark.parametrize("index,what", [
    (corpus.FRAME_COUNT_LINE, "frame count"),
    (corpus.BODY_COUNT_LINE, "body count of frame 1"),
    (corpus.JOINT_COUNT_LINE, "joint count"),
])
def test_ntu_counts_are_plain_integers(tmp_path, index, what, value):
  path = _with_line(corpus.write_valid_skeleton(tmp_path), index, value)
  error = _refused(ntu.load_skeleton, path, ntu.SkeletonFormatError,
                   line=index + 1)
  assert what in str(error)
  if value.isascii():
    assert f"{value!r} is not an integer" in str(error)


@pytest.mark.parametrize("value", [v for v in NOT_PLAIN_INTEGERS
                                   if v.isascii()])
@pytest.mark.parametrize("column", [0, 1, 9])  # bodyID, clipedEdges, state
def test_ntu_body_header_integers_are_plain(tmp_path, column, value):
  path = _ntu_file(tmp_path, corpus.body_header_value(column, value))
  _refused(ntu.load_skeleton, path, ntu.SkeletonFormatError,
           line=corpus.BODY_HEADER_LINE + 1)


@pytest.mark.parametrize("value", ["1_0", "+1", "2.0"])
def test_ntu_joint_tracking_state_is_a_plain_integer(tmp_path, value):
  path = _ntu_file(tmp_path, corpus.joint_value(11, value, joint=2))
  _refused(ntu.load_skeleton, path, ntu.SkeletonFormatError, "joint 3",
           line=corpus.FIRST_JOINT_LINE + 3)


@pytest.mark.parametrize("value", ["1_0", "0_5e1", "1__0"])
def test_ntu_float_fields_refuse_digit_separators(tmp_path, value):
  # float("1_0") == 10.0: a coordinate would silently be scaled.
  for fault, line in ((corpus.joint_value(0, value, joint=1),
                       corpus.FIRST_JOINT_LINE + 2),
                      (corpus.body_header_value(7, value),
                       corpus.BODY_HEADER_LINE + 1)):
    path = corpus.break_skeleton(corpus.write_valid_skeleton(tmp_path), fault)
    _refused(ntu.load_skeleton, path, ntu.SkeletonFormatError,
             "non-numeric value", line=line)


@pytest.mark.parametrize("value", NOT_PLAIN_INTEGERS)
def test_sbu_frame_number_is_a_plain_integer(tmp_path, value):
  rows = corpus.sbu_rows(3)
  rows[1] = ",".join([value] + rows[1].split(",")[1:])
  _refused(sbu.load_skeleton_file, _sbu_file(tmp_path, rows),
           sbu.SbuFormatError, "frame number", line=2)


def test_sbu_coordinate_refuses_digit_separators(tmp_path):
  rows = corpus.sbu_rows(3)
  values = rows[2].split(",")
  values[4] = "0_5"
  rows[2] = ",".join(values)
  _refused(sbu.load_skeleton_file, _sbu_file(tmp_path, rows),
           sbu.SbuFormatError, "non-numeric value '0_5'", line=3)


@pytest.mark.parametrize("value", NOT_PLAIN_INTEGERS)
@pytest.mark.parametrize("index,template,what", [
    (0, "{} 20", "header <num_frames> <num_joints>"),
    (0, "3 {}", "header <num_frames> <num_joints>"),
    (1, "{}", "row count of frame 1"),
])
def test_msr_integers_are_plain(tmp_path, index, template, what, value):
  lines = corpus.msr_text().splitlines()
  lines[index] = template.format(value)
  path = tmp_path / "a01_s01_e01_skeleton.txt"
  path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
  error = _refused(msr.load_skeleton_file, path, msr.MsrFormatError,
                   line=index + 1)
  if value.isascii():
    assert what in str(error)


def test_msr_coordinate_refuses_digit_separators(tmp_path):
  lines = corpus.msr_text().splitlines()
  lines[2] = "0_1 0.5 2.5 1"
  _refused(msr.load_skeleton_file,
           _msr_file(tmp_path, "\n".join(lines) + "\n"), msr.MsrFormatError,
           "non-numeric value '0_1'", line=3)


def test_plain_spellings_still_parse():
  assert [tokenizer.parse_int(t) for t in ("0", "-7", "0042")] == [0, -7, 42]
  assert [tokenizer.parse_float(t)
          for t in ("1.5", "-2e-3", ".5", "5.", "+1E3")
          ] == [1.5, -2e-3, 0.5, 5.0, 1000.0]
  assert np.isnan(tokenizer.parse_float("NaN"))
  assert tokenizer.parse_float("-inf") == -np.inf
