"""Broken SBU and MSR Daily Activity 3D inputs: clear errors naming the file,
and dataset runs that list the broken sequences and write the others."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posedriven.data.formats import msr
from posedriven.data.formats import ntu
from posedriven import prepare
from posedriven.data.formats import sbu
from tests import helpers
from tests.faults import corpus


def _replace_row(index, change):
  def fault(rows):
    rows = list(rows)
    rows[index] = change(rows[index])
    return rows
  return fault


def _set_value(index, value):
  def change(row):
    values = row.split(",")
    values[index] = value
    return ",".join(values)
  return change


SBU_REFUSED = {
    "row_with_90_values": (_replace_row(1, lambda r: r.rsplit(",", 1)[0]),
                           ":2: row has 90 comma-separated values, expected"
                           " 91"),
    "row_with_92_values": (_replace_row(2, lambda r: r + ",0.5"),
                           ":3: row has 92"),
    "semicolons": (_replace_row(0, lambda r: r.replace(",", ";")),
                   ":1: row has 1 comma-separated values"),
    "empty_file": (lambda rows: [], "no frames"),
    "blank_lines_only": (lambda rows: ["", "   ", ""], "no frames"),
    "non_numeric": (_replace_row(1, _set_value(7, "x0.3")),
                    ":2: non-numeric value 'x0.3'"),
    "nan_coordinate": (_replace_row(0, _set_value(4, "nan")),
                       "NaN or infinite"),
    "fractional_frame_number": (_replace_row(0, _set_value(0, "1.5")),
                                "frame number '1.5' is not an integer"),
}


def _sbu_sequence(root, rows, set_name="s01s02", action="01", seq="001",
                  images=3):
  seq_dir = root / set_name / action / seq
  seq_dir.mkdir(parents=True)
  (seq_dir / sbu.SKELETON_FILE).write_text("\n".join(rows) + "\n"
                                           if rows else "")
  frame = np.full((480, 640, 3), 90, np.uint8)
  for i in range(1, images + 1):
    cv2.imwrite(str(sbu.frame_path(seq_dir, i)), frame)
  return seq_dir


@pytest.mark.parametrize("case", sorted(SBU_REFUSED))
def test_sbu_malformed_file_is_refused(case, tmp_path):
  fault, words = SBU_REFUSED[case]
  seq_dir = _sbu_sequence(tmp_path, fault(corpus.sbu_rows()), images=0)
  with pytest.raises(sbu.SbuFormatError) as info:
    sbu.load_clip(seq_dir)
  assert type(info.value) is sbu.SbuFormatError
  assert str(seq_dir / sbu.SKELETON_FILE) in str(info.value)
  assert words in str(info.value)


def test_sbu_missing_skeleton_file(tmp_path):
  seq_dir = tmp_path / "s01s02" / "01" / "001"
  seq_dir.mkdir(parents=True)
  with pytest.raises(sbu.SbuFormatError, match="skeleton_pos.txt: cannot read"):
    sbu.load_clip(seq_dir)


def _msr_lines(index, change):
  def fault(text):
    lines = text.splitlines()
    lines[index] = change(lines[index])
    return "\n".join(lines) + "\n"
  return fault


MSR_REFUSED = {
    "row_with_3_values": (_msr_lines(3, lambda l: " ".join(l.split()[:3])),
                          ":4: frame 1 person 1 joint 1 screen row has 3"
                          " values, expected 4"),
    "row_with_5_values": (_msr_lines(4, lambda l: l + " 7"),
                          ":5: frame 1 person 1 joint 2 world row has 5"),
    "empty_file": (lambda text: "", "empty"),
    "blank_lines_only": (lambda text: "\n\n  \n", "empty"),
    "39_rows": (_msr_lines(1, lambda l: "39"), ":2: frame 1 has 39 rows"),
    "truncated_mid_person": (lambda text: "\n".join(
        text.splitlines()[:30]), "truncated"),
    "non_numeric": (_msr_lines(2, lambda l: "0.1 oops 2.5 1"),
                    ":3: non-numeric value 'oops'"),
    "one_value_header": (_msr_lines(0, lambda l: "3"),
                         ":1: header <num_frames> <num_joints> has 1 values"),
    "negative_frame_count": (_msr_lines(0, lambda l: "-3 20"),
                             "frame count -3 is outside"),
    "absurd_frame_count": (_msr_lines(0, lambda l: "99999999 20"),
                           "frame count 99999999 is outside"),
}


@pytest.mark.parametrize("case", sorted(MSR_REFUSED))
def test_msr_malformed_file_is_refused(case, tmp_path):
  fault, words = MSR_REFUSED[case]
  path = tmp_path / "a03_s04_e02_skeleton.txt"
  path.write_text(fault(corpus.msr_text()))
  with pytest.raises(msr.MsrFormatError) as info:
    msr.load_clip(path)
  assert type(info.value) is msr.MsrFormatError
  assert str(path) in str(info.value) and words in str(info.value)


@pytest.mark.parametrize("text", ["0 20\n", "2 20\n0\n0\n"])
def test_msr_sequence_without_people_is_refused(text, tmp_path):
  path = tmp_path / "a03_s04_e02_skeleton.txt"
  path.write_text(text)
  with pytest.raises(ntu.EmptySkeletonError,
                     match=f"{path}: no frame contains a person"):
    msr.load_clip(path)


# -- dataset runs -------------------------------------------------------------


def test_sbu_dataset_run(tmp_path):
  root = tmp_path / "sbu"
  _sbu_sequence(root, corpus.sbu_rows(), "s01s02", "01", "001")
  _sbu_sequence(root, corpus.sbu_rows(), "s02s03", "01", "001")
  _sbu_sequence(root, SBU_REFUSED["row_with_90_values"][0](corpus.sbu_rows()),
                "s01s02", "02", "001")
  _sbu_sequence(root, [], "s02s03", "03", "001")
  _sbu_sequence(root, corpus.sbu_rows(), "s02s03", "04", "001", images=0)
  _sbu_sequence(root, corpus.sbu_rows(), "s02s03", "05", "001", images=2)
  out = tmp_path / "out"
  with helpers.capture_logs() as logs:
    summary = prepare.prepare_dataset(root, out, dataset="sbu",
                                      protocol="sbu_fold1", store="crops",
                                      log_every_s=1e9)
  entries = {e["name"]: e for e in summary["manifest"]["clips"]}
  assert summary["manifest"]["complete"]
  reasons = {
      "s01s02_a02_001": "row has 90 comma-separated values",
      "s02s03_a03_001": "no frames",
      "s02s03_a04_001": "first frame of the image sequence is missing",
  }
  for name, words in reasons.items():
    assert entries[name]["status"] == "error"
    assert words in entries[name]["reason"]
    # The reason names the file or folder: sXXsYY/AA/SSS.
    set_name, action, seq = name.split("_")
    assert f"{set_name}/{action[1:]}/{seq}" in entries[name]["reason"]
    # "skipped" is the official missing lists' word (README), not errors'.
    assert logs.messages(name, "error") and not logs.messages(name,
                                                              "skipped")
  records = helpers.records_by_name(out)
  assert sorted(records) == ["s01s02_a01_001", "s02s03_a01_001",
                             "s02s03_a05_001"]
  # A missing image mid-sequence: the frames before it are kept (logged).
  short = entries["s02s03_a05_001"]
  assert (short["status"], short["skeleton_frames"], short["frames"]) == (
      "ok", 3, 2)
  assert logs.messages("s02s03_a05_001", "keeping the first 2 frames")


def test_msr_dataset_run(tmp_path):
  root = tmp_path / "msr"
  root.mkdir()
  frames = [np.full((480, 640, 3), 70 + 20 * i, np.uint8) for i in range(3)]
  texts = {
      "a01_s01_e01": corpus.msr_text(),
      "a01_s02_e01": corpus.msr_text(),
      "a02_s01_e01": MSR_REFUSED["row_with_3_values"][0](corpus.msr_text()),
      "a03_s01_e01": "",
      "a04_s01_e01": "0 20\n",
  }
  for name, text in texts.items():
    (root / f"{name}_skeleton.txt").write_text(text)
    helpers.write_video_rgb(root / f"{name}_rgb.avi", frames)
  (root / "a05_s01_e01_skeleton.txt").write_text(corpus.msr_text())
  corpus.random_bytes(root / "a05_s01_e01_rgb.avi")
  out = tmp_path / "out"
  with helpers.capture_logs() as logs:
    summary = prepare.prepare_dataset(root, out, dataset="msr",
                                      protocol="msr_cs", store="crops",
                                      log_every_s=1e9)
  entries = {e["name"]: e for e in summary["manifest"]["clips"]}
  reasons = {
      "a02_s01_e01": ("a02_s01_e01_skeleton.txt:4", "has 3 values"),
      "a03_s01_e01": ("a03_s01_e01_skeleton.txt", "empty"),
      "a04_s01_e01": ("a04_s01_e01_skeleton.txt", "no frame contains a person"),
      "a05_s01_e01": ("a05_s01_e01_rgb.avi", "not a decodable video"),
  }
  for name, words in reasons.items():
    assert entries[name]["status"] == "error"
    for word in words:
      assert word in entries[name]["reason"]
    # "skipped" is the official missing lists' word (README), not errors'.
    assert logs.messages(name, "error") and not logs.messages(name,
                                                              "skipped")
  records = helpers.records_by_name(out)
  assert sorted(records) == ["a01_s01_e01", "a01_s02_e01"]
  assert [int(records[n]["num_frames"]) for n in sorted(records)] == [3, 3]
