"""MSR Daily Activity 3D reader on tiny hand-written files."""

from __future__ import annotations

import numpy as np
import pytest

from posedriven.data.formats import msr
from posedriven.data.formats import ntu
from posedriven.data import skeletons


def _person_rows(frame: int, person: int) -> list[str]:
  """40 rows: per joint a world row and a screen row with known values."""
  rows = []
  for j in range(20):
    x, y, z = 0.01 * j + person, -0.02 * j + frame, 2.5 + 0.125 * person
    u, v = (j + 1) / 32, (person + 1) / 4 + frame / 64
    rows.append(f"{x!r} {y!r} {z!r} 1")
    rows.append(f"{u!r} {v!r} 2500 1")
  return rows


def _write(tmp_path, people_per_frame=(0, 1, 2),
           name="a03_s04_e02_skeleton.txt", header_second=20, frames=None):
  lines = [f"{len(people_per_frame)} {header_second}"]
  if frames is None:
    for t, people in enumerate(people_per_frame):
      lines.append(str(40 * people))
      for p in range(people):
        lines.extend(_person_rows(t, p))
  else:
    lines.extend(frames)
  path = tmp_path / name
  path.write_text("\n".join(lines) + "\n")
  return path


def test_load_skeleton_file(tmp_path):
  data = msr.load_skeleton_file(_write(tmp_path))
  assert data.num_frames == 3
  np.testing.assert_array_equal(data.present,
                                [[False, False], [True, False], [True, True]])
  assert data.xyz.shape == (3, 2, 20, 3)
  np.testing.assert_array_equal(data.xyz[0], 0.0)
  # Frame 2, person 2 (index 1), joint 6 (index 5).
  np.testing.assert_allclose(data.xyz[2, 1, 5],
                             [0.05 + 1, -0.1 + 2, 2.625], rtol=1e-6)
  np.testing.assert_allclose(data.screen_uvd[2, 1, 5],
                             [6 / 32, 0.5 + 2 / 64, 2500])
  np.testing.assert_allclose(data.color_xy_px[2, 1, 5],
                             [6 / 32 * 640, (0.5 + 2 / 64) * 480])


def test_header_with_rows_per_person(tmp_path):
  data = msr.load_skeleton_file(_write(tmp_path, header_second=40))
  assert data.present.sum() == 3


def test_load_clip(tmp_path):
  clip = msr.load_clip(_write(tmp_path))
  assert clip.name == "a03_s04_e02"
  assert clip.label == 2 and msr.MSR_CLASS_NAMES[clip.label] == "read book"
  assert clip.skeleton == "kinect_v1"
  assert clip.image_size == (640, 480)
  assert clip.metadata == {"action": 3, "subject": 4, "environment": 2}
  assert clip.xyz.shape == (3, 2, 20, 3)
  np.testing.assert_array_equal(
      clip.hand_valid,
      [[False] * 4, [True, True, False, False], [True] * 4])
  left, right = skeletons.KINECT_V1.left_hand, skeletons.KINECT_V1.right_hand
  np.testing.assert_allclose(clip.hand_xy_px[1, 1],
                             [(right + 1) / 32 * 640, (0.25 + 1 / 64) * 480])
  np.testing.assert_allclose(clip.hand_xy_px[2, 2],
                             [(left + 1) / 32 * 640, (0.5 + 2 / 64) * 480])
  np.testing.assert_array_equal(clip.hand_xy_px[0], 0.0)


def test_class_names():
  assert len(msr.MSR_CLASS_NAMES) == 16
  assert msr.MSR_CLASS_NAMES[0] == "drink"
  assert msr.MSR_CLASS_NAMES[15] == "sit down"


def test_bad_row_count_names_line(tmp_path):
  path = _write(tmp_path, frames=["40", *_person_rows(0, 0), "39"],
                people_per_frame=(1, 1))
  with pytest.raises(msr.MsrFormatError, match=r"_skeleton\.txt:43: .*39 rows"):
    msr.load_clip(path)


def test_wrong_column_count_names_line(tmp_path):
  rows = _person_rows(0, 0)
  rows[3] = "0.1 0.2 2500"
  path = _write(tmp_path, frames=["40", *rows], people_per_frame=(1,))
  with pytest.raises(msr.MsrFormatError,
                     match=r":6: frame 1 person 1 joint 2 screen row has 3"):
    msr.load_clip(path)


def test_non_numeric_names_line(tmp_path):
  rows = _person_rows(0, 0)
  rows[0] = "0.1 oops 2.5 1"
  path = _write(tmp_path, frames=["40", *rows], people_per_frame=(1,))
  with pytest.raises(msr.MsrFormatError, match=r":3: non-numeric value 'oops'"):
    msr.load_clip(path)


def test_truncated(tmp_path):
  path = _write(tmp_path, frames=["40", *_person_rows(0, 0)[:10]],
                people_per_frame=(1,))
  with pytest.raises(msr.MsrFormatError, match=r":12: file is truncated"):
    msr.load_clip(path)
  path = _write(tmp_path, frames=["0"], people_per_frame=(0, 0),
                name="a01_s01_e01_skeleton.txt")
  with pytest.raises(msr.MsrFormatError, match="truncated.*frame 2"):
    msr.load_clip(path)


def test_bad_header(tmp_path):
  path = _write(tmp_path, header_second=25)
  with pytest.raises(msr.MsrFormatError, match=r":1: header's second value"):
    msr.load_clip(path)
  path.write_text("")
  with pytest.raises(msr.MsrFormatError, match="empty"):
    msr.load_clip(path)


def test_nobody_present(tmp_path):
  path = _write(tmp_path, people_per_frame=(0, 0))
  with pytest.raises(ntu.EmptySkeletonError, match=r"a03_s04_e02.*no frame"):
    msr.load_clip(path)


def test_bad_file_name(tmp_path):
  path = _write(tmp_path, name="drink_s01.txt")
  with pytest.raises(ValueError, match=r"drink_s01\.txt.*aXX_sYY_eZZ"):
    msr.load_clip(path)
  with pytest.raises(ValueError, match="action 17"):
    msr.parse_sample_name("a17_s01_e01_skeleton.txt")


def test_list_and_video_path(tmp_path):
  _write(tmp_path, name="a02_s01_e01_skeleton.txt")
  _write(tmp_path, name="a01_s02_e01_skeleton.txt")
  (tmp_path / "readme_skeleton.txt").write_text("")
  found = msr.list_skeleton_files(tmp_path)
  assert [p.name for p in found] == ["a01_s02_e01_skeleton.txt",
                                     "a02_s01_e01_skeleton.txt"]
  assert msr.video_path(found[0]) == tmp_path / "a01_s02_e01_rgb.avi"


def test_cross_subject_split():
  assert [msr.cross_subject_split(s) for s in range(1, 11)] == [
      "train", "test"] * 5
  with pytest.raises(ValueError, match="1-10"):
    msr.cross_subject_split(11)


# Real recordings (issue 13): Windows line endings, trailing blank lines,
# people lost and found again.


def _crlf_file(tmp_path, people_per_frame, trailing="\r\n\r\n\r\n"):
  path = _write(tmp_path, people_per_frame)
  text = path.read_text().rstrip("\n").replace("\n", "\r\n") + trailing
  path.write_bytes(text.encode("ascii"))
  return path


def test_crlf_and_trailing_blank_lines_and_people_coming_and_going(tmp_path):
  path = _crlf_file(tmp_path, (1, 0, 2, 1, 0, 1))
  clip = msr.load_clip(path)
  np.testing.assert_array_equal(clip.present[:, 0], [1, 0, 1, 1, 0, 1])
  np.testing.assert_array_equal(clip.present[:, 1], [0, 0, 1, 0, 0, 0])
  assert (clip.xyz[1] == 0).all() and (clip.xyz[4] == 0).all()
  np.testing.assert_allclose(clip.xyz[3, 0, 5], [0.05, -0.1 + 3, 2.5],
                             rtol=1e-6)
  np.testing.assert_array_equal(clip.hand_valid[:, 0], [1, 0, 1, 1, 0, 1])


def test_bad_value_in_crlf_file_names_file_and_line(tmp_path):
  path = _crlf_file(tmp_path, (1, 1))
  lines = path.read_bytes().decode("ascii").split("\r\n")
  # Header, frame 1's count, then its rows: line 3 + 40 = frame 2's count,
  # line 44 its first world row.
  lines[43] = "0.1 oops 2.5 1"
  path.write_bytes("\r\n".join(lines).encode("ascii"))
  with pytest.raises(msr.MsrFormatError,
                     match=r"a03_s04_e02_skeleton.txt:44: .*'oops'"):
    msr.load_skeleton_file(path)


def test_format_file_round_trips(tmp_path):
  rng = np.random.default_rng(0)
  present = np.array([[1, 0], [1, 1], [0, 0]], bool)
  xyz = rng.normal(size=(3, 2, 20, 3)).astype(np.float32)
  uvd = rng.uniform(size=(3, 2, 20, 3)).astype(np.float32)
  xyz[~present], uvd[~present] = 0.0, 0.0
  path = tmp_path / "a01_s01_e01_skeleton.txt"
  path.write_text(msr.format_file(present, xyz, uvd))
  data = msr.load_skeleton_file(path)
  np.testing.assert_array_equal(data.present, present)
  np.testing.assert_array_equal(data.xyz, xyz)
  np.testing.assert_array_equal(data.screen_uvd, uvd)
  with pytest.raises(ValueError, match="person 2 present without person 1"):
    msr.format_file(np.array([[0, 1]], bool), xyz[:1], uvd[:1])
