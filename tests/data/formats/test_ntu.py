"""NTU RGB+D reader: real sample files and tiny hand-written ones."""

from __future__ import annotations

import numpy as np
import pytest

from posedriven.data.formats import ntu
from posedriven.data.formats import ntu_dataset


def _joint_line(x=0.1, y=0.2, z=3.0, cx=900.0, cy=500.0, state=2):
  return f"{x} {y} {z} 250 200 {cx} {cy} 1 0 0 0 {state}"


def _body(body_id, *, joints=25, cx=900.0, lines_per_joint=None):
  out = [f"{body_id} 0 1 1 0 0 0 -0.1 0.1 2", str(joints)]
  for j in range(joints):
    out.append(lines_per_joint(j) if lines_per_joint else
               _joint_line(x=0.01 * j, cx=cx + j))
  return out


def _write(tmp_path, frames, name="S001C002P003R004A005.skeleton"):
  """frames: list of lists of body line-blocks."""
  lines = [str(len(frames))]
  for bodies in frames:
    lines.append(str(len(bodies)))
    for body in bodies:
      lines.extend(body)
  path = tmp_path / name
  path.write_text("\n".join(lines) + "\n")
  return path


SAMPLES = {
    # name: (frames, bodies)
    "S001C001P001R001A011": (82, 1),
    "S002C001P003R001A003": (100, 1),
    "S003C001P015R001A034": (71, 1),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_real_samples_load(ntu_samples, name):
  seq = ntu.load_skeleton(ntu_samples / f"{name}.skeleton")
  frames, bodies = SAMPLES[name]
  assert seq.num_frames == frames
  assert seq.num_bodies == bodies
  assert seq.xyz.shape == (frames, bodies, 25, 3)
  assert seq.color_xy.shape == (frames, bodies, 25, 2)
  assert seq.present.all()
  assert np.isfinite(seq.xyz).all()
  # Depth in metres for a person a few metres from the camera.
  assert 1.0 < float(np.median(seq.xyz[..., 2])) < 6.0
  clip = ntu.to_clip(seq)
  assert clip.label == int(name[-3:]) - 1
  hands = clip.hand_xy_px[:, :2][clip.hand_valid[:, :2]]
  assert len(hands) > 0.9 * 2 * frames
  assert (hands[:, 0] > 0).all() and (hands[:, 0] < 1920).all()
  assert (hands[:, 1] > 0).all() and (hands[:, 1] < 1080).all()
  # Person 2 is absent: zeros, not valid.
  assert not clip.present[:, 1].any()
  assert not clip.hand_valid[:, 2:].any()
  assert (clip.xyz[:, 1] == 0).all()


def test_first_joint_of_real_file_exact(ntu_samples):
  seq = ntu.load_skeleton(ntu_samples / "S001C001P001R001A011.skeleton")
  np.testing.assert_allclose(seq.xyz[0, 0, 0], [0.2058097, 0.1920515, 3.810989],
                             rtol=1e-6)
  np.testing.assert_allclose(seq.color_xy[0, 0, 0], [1032.328, 514.0889],
                             rtol=1e-6)
  np.testing.assert_allclose(seq.depth_xy[0, 0, 0], [276.0976, 190.0662],
                             rtol=1e-6)
  assert seq.body_ids[0] == 72057594037931648
  assert seq.tracking_state[0, 0, 5] == 1  # ElbowLeft inferred in frame 1.
  np.testing.assert_allclose(seq.lean_xy[0, 0], [-0.1159187, 0.1413209],
                             rtol=1e-6)


def test_write_then_load_is_exact(ntu_samples, tmp_path):
  seq = ntu.load_skeleton(ntu_samples / "S002C001P003R001A003.skeleton")
  out = tmp_path / "S002C001P003R001A003.skeleton"
  ntu.write_skeleton(out, seq)
  back = ntu.load_skeleton(out)
  for field in ("xyz", "color_xy", "depth_xy", "orientation", "tracking_state",
                "present", "body_ids", "lean_xy", "hand_state",
                "hand_confidence", "clipped_edges", "body_tracking_state"):
    np.testing.assert_array_equal(getattr(back, field), getattr(seq, field),
                                  err_msg=field)


def test_bodies_tracked_by_id_across_frames(tmp_path):
  path = _write(tmp_path, [
      [_body(11), _body(22)],
      [_body(22)],
      [],
      [_body(33), _body(11)],
  ])
  seq = ntu.load_skeleton(path)
  np.testing.assert_array_equal(seq.body_ids, [11, 22, 33])
  np.testing.assert_array_equal(
      seq.present, [[1, 1, 0], [0, 1, 0], [0, 0, 0], [1, 0, 1]])
  assert (seq.xyz[2] == 0).all()


def test_zero_bodies_everywhere_is_a_clear_error(tmp_path):
  path = _write(tmp_path, [[], [], []])
  seq = ntu.load_skeleton(path)
  assert seq.num_frames == 3 and seq.num_bodies == 0
  with pytest.raises(ntu.EmptySkeletonError, match="S001C002P003R004A005"):
    ntu.to_clip(seq)


@pytest.mark.parametrize("joints", [26, 27, 24])
def test_wrong_joint_count_is_refused(tmp_path, joints):
  path = _write(tmp_path, [[_body(1, joints=joints)]])
  with pytest.raises(ntu.SkeletonFormatError, match=f"{joints} joints") as e:
    ntu.load_skeleton(path)
  assert str(path) in str(e.value)
  assert e.value.line == 4


def test_truncated_file_names_line(tmp_path):
  path = _write(tmp_path, [[_body(1)], [_body(1)]])
  lines = path.read_text().splitlines()
  path.write_text("\n".join(lines[:-10]) + "\n")
  with pytest.raises(ntu.SkeletonFormatError, match="truncated") as e:
    ntu.load_skeleton(path)
  assert e.value.line == len(lines) - 10


def test_truncated_mid_joint_line(tmp_path):
  path = _write(tmp_path, [[_body(1)]])
  lines = path.read_text().splitlines()
  lines[10] = " ".join(lines[10].split()[:5])
  path.write_text("\n".join(lines) + "\n")
  with pytest.raises(ntu.SkeletonFormatError, match=":11: joint 7 has 5 values"):
    ntu.load_skeleton(path)


def test_non_numeric_token(tmp_path):
  path = _write(tmp_path, [[_body(1, lines_per_joint=lambda j: _joint_line(
      x="abc" if j == 3 else 0.0))]])
  with pytest.raises(ntu.SkeletonFormatError, match=r":8: non-numeric value 'abc'"):
    ntu.load_skeleton(path)


@pytest.mark.parametrize("header,message", [
    ("-3", "negative"), ("12abc", "not an integer"),
    ("999999999", "implausibly large"), ("", "empty"),
])
def test_bad_frame_count(tmp_path, header, message):
  path = tmp_path / "S001C001P001R001A001.skeleton"
  path.write_text(header + "\n")
  with pytest.raises(ntu.SkeletonFormatError, match=message):
    ntu.load_skeleton(path)


def test_negative_body_count(tmp_path):
  path = tmp_path / "S001C001P001R001A001.skeleton"
  path.write_text("1\n-1\n")
  with pytest.raises(ntu.SkeletonFormatError, match=":2: body count of frame 1 is negative"):
    ntu.load_skeleton(path)


def test_nan_joints_become_untracked(tmp_path):
  path = _write(tmp_path, [[_body(1, lines_per_joint=lambda j: _joint_line(
      x="nan" if j == 7 else 0.0, cx="inf" if j == 11 else 900.0))]] * 2)
  seq = ntu.load_skeleton(path)
  assert np.isfinite(seq.xyz).all() and np.isfinite(seq.color_xy).all()
  assert (seq.tracking_state[:, 0, 7] == 0).all()
  assert (seq.tracking_state[:, 0, 11] == 0).all()
  clip = ntu.to_clip(seq)
  # Joints 7 and 11 are the two hands of person 1: not valid for cropping.
  assert not clip.hand_valid[:, :2].any()


def test_duplicate_body_id_in_a_frame_keeps_first(tmp_path):
  path = _write(tmp_path, [[_body(5, cx=100.0), _body(5, cx=700.0)]])
  seq = ntu.load_skeleton(path)
  assert seq.num_bodies == 1
  assert seq.color_xy[0, 0, 0, 0] == 100.0


def _moving_body(body_id, amplitude, frames, wide=False):
  blocks = []
  for t in range(frames):
    def joint(j, t=t):
      dx = 0.5 * (j % 5) if wide else 0.02 * (j % 5)
      y = 0.1 * (j // 5)
      return _joint_line(x=dx + amplitude * np.sin(t), y=y, z=3.0)
    blocks.append(_body(body_id, lines_per_joint=joint))
  return blocks


def test_main_body_selection(tmp_path):
  frames = 30
  actor1 = _moving_body(1, 0.3, frames)
  actor2 = _moving_body(2, 0.2, frames)
  still = _moving_body(3, 0.0, frames)          # a third, motionless body
  flicker = _moving_body(4, 1.0, frames)[:5]    # seen in only 5 frames
  wide = _moving_body(5, 0.5, frames, wide=True)  # wider than tall: object
  per_frame = []
  for t in range(frames):
    bodies = [actor2[t], actor1[t], still[t], wide[t]]
    if t < 5:
      bodies.append(flicker[t])
    per_frame.append(bodies)
  seq = ntu.load_skeleton(_write(tmp_path, per_frame))
  chosen = ntu.select_main_bodies(seq)
  assert sorted(seq.body_ids[chosen].tolist()) == [1, 2]
  # First appearance order: body 2 was listed first in frame 1.
  assert seq.body_ids[chosen].tolist() == [2, 1]
  clip = ntu.to_clip(seq)
  assert clip.present.all()


def test_unnamed_file_loads_with_unknown_label(tmp_path):
  path = _write(tmp_path, [[_body(1)]], name="my_recording.skeleton")
  clip = ntu.load_clip(path)
  assert clip.label == -1 and clip.name == "my_recording"


# Every name that moved to ntu_dataset in issue 23, still read as ntu.<name>.
_MOVED_NAMES = (
    "SampleName", "parse_sample_name", "missing_skeleton_samples",
    "list_skeleton_files", "NTU60_CS_TRAIN_SUBJECTS", "NTU_CV_TRAIN_CAMERAS",
    "NTU_CAMERAS", "NTU120_CSUB_TRAIN_SUBJECTS", "cross_view_split",
    "NTU60_PROTOCOLS", "NTU120_PROTOCOLS")


@pytest.mark.parametrize("name", _MOVED_NAMES)
def test_moved_names_are_the_same_objects(name):
  assert getattr(ntu, name) is getattr(ntu_dataset, name)
