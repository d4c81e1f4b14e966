"""SBU / MSR joints placed on the NTU (Kinect v2) layout."""

import numpy as np
import pytest

from posedriven.data import pose_tensor
from posedriven.data import skeleton_layouts
from posedriven.data import skeletons

V2 = skeletons.KINECT_V2


def _named(skeleton, rng):
  """Random ``[T, 2, J, 3]`` joints of ``skeleton`` and a name lookup."""
  xyz = rng.normal(size=(3, 2, skeleton.num_joints, 3)).astype(np.float32)
  return xyz, lambda name: xyz[:, :, skeleton.joint_names.index(name)]


@pytest.mark.parametrize("source", [skeletons.SBU, skeletons.KINECT_V1])
def test_rows_are_copies_or_means(source):
  matrix = skeleton_layouts.adaptation_matrix(source)
  assert matrix.shape == (25, source.num_joints)
  np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
  assert (matrix >= 0).all()
  # Every source joint is used: nothing the dataset recorded is dropped.
  assert (matrix.sum(axis=0) > 0).all()


def test_sbu_joints_land_where_ntu_has_them():
  xyz, sbu = _named(skeletons.SBU, np.random.default_rng(0))
  out = skeleton_layouts.adapt_joints(xyz, skeletons.SBU).numpy()
  assert out.shape == (3, 2, 25, 3)
  v2 = lambda name: out[:, :, V2.joint_names.index(name)]
  np.testing.assert_allclose(v2("SpineMid"), sbu("Torso"), atol=1e-6)
  np.testing.assert_allclose(v2("SpineShoulder"), sbu("Neck"), atol=1e-6)
  np.testing.assert_allclose(v2("Head"), sbu("Head"), atol=1e-6)
  np.testing.assert_allclose(v2("ElbowRight"), sbu("ElbowRight"), atol=1e-6)
  np.testing.assert_allclose(v2("WristLeft"), sbu("HandLeft"), atol=1e-6)
  np.testing.assert_allclose(v2("ThumbRight"), sbu("HandRight"), atol=1e-6)
  np.testing.assert_allclose(v2("AnkleLeft"), sbu("FootLeft"), atol=1e-6)
  np.testing.assert_allclose(
      v2("SpineBase"), (sbu("HipLeft") + sbu("HipRight")) / 2, atol=1e-6)
  np.testing.assert_allclose(
      v2("Neck"), (sbu("Neck") + sbu("Head")) / 2, atol=1e-6)


def test_kinect_v1_joints_land_where_ntu_has_them():
  xyz, v1 = _named(skeletons.KINECT_V1, np.random.default_rng(1))
  out = skeleton_layouts.adapt_joints(xyz, skeletons.KINECT_V1).numpy()
  v2 = lambda name: out[:, :, V2.joint_names.index(name)]
  np.testing.assert_allclose(v2("SpineBase"), v1("HipCenter"), atol=1e-6)
  np.testing.assert_allclose(v2("SpineMid"), v1("Spine"), atol=1e-6)
  np.testing.assert_allclose(v2("WristLeft"), v1("WristLeft"), atol=1e-6)
  np.testing.assert_allclose(v2("AnkleRight"), v1("AnkleRight"), atol=1e-6)
  np.testing.assert_allclose(v2("HandTipLeft"), v1("HandLeft"), atol=1e-6)


def test_kinect_v2_is_unchanged_and_absent_people_stay_zero():
  xyz = np.random.default_rng(2).normal(size=(2, 2, 25, 3)).astype("float32")
  np.testing.assert_array_equal(
      skeleton_layouts.adapt_joints(xyz, V2).numpy(), xyz)
  sbu = np.zeros((2, 2, 15, 3), np.float32)
  sbu[:, 0] = 1.0
  out = skeleton_layouts.adapt_joints(sbu, skeletons.SBU).numpy()
  assert (out[:, 1] == 0).all() and np.allclose(out[:, 0], 1.0)


def test_adapted_sbu_tensor_has_the_ntu_width_and_native_keeps_its_own():
  rng = np.random.default_rng(3)
  t = 25
  from posedriven.data import clip as clip_lib
  clip = clip_lib.Clip(
      name="x", label=0, skeleton="sbu",
      xyz=rng.normal(size=(t, 2, 15, 3)).astype(np.float32),
      present=np.ones((t, 2), bool),
      hand_xy_px=np.zeros((t, 4, 2), np.float32),
      hand_valid=np.ones((t, 4), bool), image_size=(640, 480), metadata={})
  frames = np.arange(20)
  native = pose_tensor.clip_pose_tensor(clip, frames)
  adapted = pose_tensor.clip_pose_tensor(clip, frames, layout="kinect_v2")
  assert native.shape == (20, 180, 3) and adapted.shape == (20, 300, 3)
  # Column of person 1's first path entry (SpineBase, root of Kinect v2):
  # the hips' mean, body-centred on the torso of frame 0.
  sbu = skeletons.SBU
  hips = clip.xyz[:20, 0, [sbu.joint_names.index("HipLeft"),
                           sbu.joint_names.index("HipRight")]].mean(1)
  origin = clip.xyz[0, 0, sbu.spine_mid]
  np.testing.assert_allclose(adapted[:, 0:3, 0], hips - origin, atol=1e-5)


def test_unknown_layout_and_skeleton_are_refused():
  with pytest.raises(ValueError, match="skeleton_layout"):
    skeleton_layouts.tensor_skeleton(skeletons.SBU, "ntu")
  other = skeletons.SkeletonDef("other", ("a",), (-1,), 0, 0, 0)
  with pytest.raises(ValueError, match="no Kinect v2 adaptation"):
    skeleton_layouts.adaptation_matrix(other)
