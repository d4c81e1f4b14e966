"""The clip every reader produces: shapes, usable joints, hands, cutting."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from posedriven.data import clip as clip_lib
from posedriven.data import skeletons
from posedriven.data.formats import ntu
from tests.faults import corpus

SBU = skeletons.SBU  # 15 joints: small arrays


def _clip(num_frames=3, **fields) -> clip_lib.Clip:
  j = SBU.num_joints
  xyz = np.arange(num_frames * 2 * j * 3, dtype=np.float32).reshape(
      num_frames, 2, j, 3) + 1
  values = dict(name="c", label=0, skeleton=SBU.name, xyz=xyz,
                present=np.ones((num_frames, 2), bool),
                hand_xy_px=np.ones((num_frames, 4, 2), np.float32),
                hand_valid=np.ones((num_frames, 4), bool),
                image_size=(640, 480))
  values.update(fields)
  return clip_lib.Clip(**values)


def test_shapes_are_checked_against_the_skeleton():
  assert _clip(num_frames=4).num_frames == 4
  with pytest.raises(ValueError, match=r"c: Clip.xyz has shape \(3, 2, 25, "
                     r"3\), expected \(3, 2, 15, 3\)"):
    _clip(xyz=np.ones((3, 2, 25, 3), np.float32))
  with pytest.raises(ValueError, match=r"Clip.hand_valid.*expected \(3, 4\)"):
    _clip(hand_valid=np.ones((3, 2), bool))
  with pytest.raises(ValueError, match="Unknown skeleton 'kinect_v3'"):
    _clip(skeleton="kinect_v3")


def test_usable_joints_need_a_present_person_and_a_finite_nonzero_position():
  clip = _clip()
  clip.present[1, 1] = False
  clip.xyz[0, 0, 2] = np.nan
  clip.xyz[0, 0, 3] = (0.0, np.inf, 1.0)
  clip.xyz[2, 1, 4] = 0.0
  usable = clip_lib.usable_joints(clip)
  expected = np.ones((3, 2, SBU.num_joints), bool)
  expected[1, 1] = False
  expected[0, 0, [2, 3]] = False
  expected[2, 1, 4] = False
  np.testing.assert_array_equal(usable, expected)


def test_check_usable_refuses_only_a_clip_without_any_joint(tmp_path):
  clip = ntu.load_clip(corpus.write_valid_skeleton(tmp_path))
  clip_lib.check_usable(clip, "x")
  one_joint = dataclasses.replace(clip, xyz=np.zeros_like(clip.xyz))
  one_joint.xyz[2, 0, 5] = (0.1, 0.0, 0.0)
  clip_lib.check_usable(one_joint, "x")  # one joint in one frame suffices
  absent = dataclasses.replace(one_joint, present=np.zeros_like(clip.present))
  with pytest.raises(clip_lib.EmptySkeletonError, match="x: no usable joint"):
    clip_lib.check_usable(absent, "x")
  nan = dataclasses.replace(clip, xyz=np.full_like(clip.xyz, np.nan))
  with pytest.raises(ntu.EmptySkeletonError):  # one error for every reader
    clip_lib.check_usable(nan, "x")


def test_first_frames_cuts_every_per_frame_array():
  clip = _clip(num_frames=5)
  assert clip_lib.first_frames(clip, 5) is clip
  cut = clip_lib.first_frames(clip, 2)
  assert cut.num_frames == 2
  np.testing.assert_array_equal(cut.xyz, clip.xyz[:2])
  for field in ("present", "hand_xy_px", "hand_valid"):
    assert getattr(cut, field).shape[0] == 2, field
  assert (cut.name, cut.label, cut.image_size) == ("c", 0, (640, 480))


def test_hands_from_people_in_hand_names_order():
  t, j = 2, SBU.num_joints
  xy = np.zeros((t, 2, j, 2))
  for person in range(2):
    xy[:, person, SBU.left_hand] = (10 * person + 1, 0)
    xy[:, person, SBU.right_hand] = (10 * person + 2, 0)
  present = np.array([[True, True], [True, False]])
  joint_valid = np.ones((t, 2, j), bool)
  joint_valid[0, 0, SBU.right_hand] = False
  xy[0, 1, SBU.left_hand, 1] = np.nan
  hands, valid = clip_lib.hands_from_people(xy, present, SBU, joint_valid)
  assert hands.dtype == np.float32 and hands.shape == (t, 4, 2)
  # person1_left, person1_right, person2_left, person2_right.
  np.testing.assert_array_equal(hands[1, :, 0], [1, 2, 0, 0])
  np.testing.assert_array_equal(valid, [[True, False, False, True],
                                        [True, True, False, False]])
  # Invalid hands are zeros, never NaN.
  np.testing.assert_array_equal(hands[0], [[1, 0], [0, 0], [0, 0], [12, 0]])
