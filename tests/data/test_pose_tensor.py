"""Pose tensors: joint paths, sampling, centring, derivatives, layout."""

from __future__ import annotations

import numpy as np
import pytest

from posedriven.data import clip as clip_lib
from posedriven.data.formats import ntu
from posedriven.data import pose_tensor
from posedriven.data import skeletons

ALL_SKELETONS = [skeletons.KINECT_V2, skeletons.SBU, skeletons.KINECT_V1]
PATH_LENGTHS = {"kinect_v2": 50, "sbu": 30, "kinect_v1": 40}


# --- joint paths -----------------------------------------------------------


@pytest.mark.parametrize("skeleton", ALL_SKELETONS, ids=lambda s: s.name)
def test_topological_path_walks_neighbours_cyclically(skeleton):
  path = pose_tensor.joint_path(skeleton)
  assert len(path) == PATH_LENGTHS[skeleton.name] == 2 * skeleton.num_joints
  assert path[0] == skeleton.root
  adjacent = {frozenset(edge) for edge in skeleton.edges}
  for a, b in zip(path, np.roll(path, -1)):
    assert frozenset((int(a), int(b))) in adjacent, (
        skeleton.joint_names[a], skeleton.joint_names[b])
  assert set(path.tolist()) == set(range(skeleton.num_joints))
  # Every bone is walked exactly twice (out and back) in the closed cycle.
  bones = [frozenset((int(a), int(b))) for a, b in zip(path, np.roll(path, -1))]
  for parent, child in skeleton.edges:
    expected = 4 if skeleton.root == parent and child == path[1] else 2
    assert bones.count(frozenset((parent, child))) == expected


def test_topological_path_kinect_v2_start():
  names = [skeletons.KINECT_V2.joint_names[j]
           for j in pose_tensor.joint_path(skeletons.KINECT_V2)]
  assert names[:7] == ["SpineBase", "SpineMid", "SpineShoulder", "Neck",
                       "Head", "Neck", "SpineShoulder"]
  assert names[-2:] == ["SpineBase", "SpineMid"]


@pytest.mark.parametrize("skeleton", ALL_SKELETONS, ids=lambda s: s.name)
def test_widths(skeleton):
  assert pose_tensor.pose_tensor_width(skeleton) == (
      2 * PATH_LENGTHS[skeleton.name] * 3)
  assert pose_tensor.pose_tensor_width(skeleton) % 4 == 0
  assert pose_tensor.pose_tensor_width(skeleton, "random") == (
      6 * skeleton.num_joints)


def test_ntu_width_is_papers_300():
  assert pose_tensor.pose_tensor_width(skeletons.KINECT_V2) == 300


@pytest.mark.parametrize("skeleton", ALL_SKELETONS, ids=lambda s: s.name)
def test_no_double_is_preorder_once_each(skeleton):
  path = pose_tensor.joint_path(skeleton, "topological_no_double")
  assert sorted(path.tolist()) == list(range(skeleton.num_joints))
  assert path[0] == skeleton.root
  # Pre-order: each joint's parent comes before it.
  position = {int(j): i for i, j in enumerate(path)}
  for parent, child in skeleton.edges:
    assert position[parent] < position[child]
  # Same first-visit order as the doubled walk.
  doubled = pose_tensor.joint_path(skeleton)
  first_visits = list(dict.fromkeys(doubled.tolist()))
  assert path.tolist() == first_visits


@pytest.mark.parametrize("skeleton", ALL_SKELETONS, ids=lambda s: s.name)
def test_random_order_is_seeded_permutation(skeleton):
  a = pose_tensor.joint_path(skeleton, "random", seed=3)
  b = pose_tensor.joint_path(skeleton, "random", seed=3)
  c = pose_tensor.joint_path(skeleton, "random", seed=4)
  assert sorted(a.tolist()) == list(range(skeleton.num_joints))
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  assert not np.array_equal(a, np.arange(skeleton.num_joints))


def test_random_order_is_resolved_per_seed():
  """A run's ``random`` is the permutation of its own seed, by a name that
  rebuilds it wherever the run is read (evaluation, export, prediction)."""
  skeleton = skeletons.KINECT_V1
  assert pose_tensor.resolve_joint_order("random", 3) == "random:3"
  assert pose_tensor.resolve_joint_order("topological", 3) == "topological"
  np.testing.assert_array_equal(
      pose_tensor.joint_path(skeleton, "random:3"),
      pose_tensor.joint_path(skeleton, "random", seed=3))
  paths = {tuple(pose_tensor.joint_path(
      skeleton, pose_tensor.resolve_joint_order("random", s)))
           for s in range(5)}
  assert len(paths) == 5
  assert pose_tensor.pose_tensor_width(skeleton, "random:1") == (
      pose_tensor.pose_tensor_width(skeleton, "random"))
  for bad in ("random:x", "bfs"):
    with pytest.raises(ValueError, match="joint order"):
      pose_tensor.resolve_joint_order(bad, 0) if bad == "bfs" else (
          pose_tensor.joint_path(skeleton, bad))


def test_unknown_order_names_valid_ones():
  with pytest.raises(ValueError, match="topological_no_double"):
    pose_tensor.joint_path(skeletons.SBU, "bfs")
  assert pose_tensor.JOINT_ORDERS == (
      "topological", "topological_no_double", "random")


# --- sampling --------------------------------------------------------------


@pytest.mark.parametrize("num_frames", [20, 21, 37, 82, 300])
def test_segments_one_frame_per_segment(num_frames):
  rng = np.random.default_rng(0)
  starts = np.arange(20) * num_frames // 20
  ends = (np.arange(20) + 1) * num_frames // 20
  for indices in [pose_tensor.sample_subsequence(num_frames, rng=rng),
                  pose_tensor.sample_subsequence(num_frames, offset=0.0),
                  pose_tensor.sample_subsequence(num_frames, offset=0.99)]:
    assert indices.shape == (20,)
    assert np.issubdtype(indices.dtype, np.integer)
    assert (indices >= starts).all() and (indices < ends).all()
    assert (np.diff(indices) > 0).all()


def test_segments_span_the_whole_clip():
  indices = pose_tensor.sample_subsequence(300, offset=0.5)
  assert indices[0] < 15 and indices[-1] >= 285


def test_training_sampling_varies_and_is_reproducible():
  rng = np.random.default_rng(1)
  draws = {tuple(pose_tensor.sample_subsequence(100, rng=rng))
           for _ in range(5)}
  assert len(draws) == 5
  again = pose_tensor.sample_subsequence(100, rng=np.random.default_rng(1))
  first = pose_tensor.sample_subsequence(100, rng=np.random.default_rng(1))
  np.testing.assert_array_equal(again, first)


def test_evaluation_subsequences_deterministic_and_shifted():
  views = pose_tensor.evaluation_subsequences(100)
  assert views.shape == (10, 20)
  np.testing.assert_array_equal(views,
                                pose_tensor.evaluation_subsequences(100))
  # Segment size 5: offsets 0.05 ... 0.95 give frames 0..4 within segment 0.
  np.testing.assert_array_equal(views[:, 0], [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
  np.testing.assert_array_equal(views[4], np.arange(20) * 5 + 2)
  for k, view in enumerate(views):
    np.testing.assert_array_equal(
        view, pose_tensor.sample_subsequence(100, offset=(k + 0.5) / 10))


@pytest.mark.parametrize("num_frames", [1, 5, 19])
@pytest.mark.parametrize("mode", pose_tensor.SAMPLING_MODES)
def test_short_clips_repeat_frames(num_frames, mode):
  rng = np.random.default_rng(0)
  for indices in [pose_tensor.sample_subsequence(num_frames, rng=rng,
                                                 mode=mode),
                  pose_tensor.sample_subsequence(num_frames, offset=0.0,
                                                 mode=mode),
                  pose_tensor.sample_subsequence(num_frames, offset=0.95,
                                                 mode=mode)]:
    assert indices.shape == (20,)
    assert (np.diff(indices) >= 0).all()
    assert set(indices.tolist()) == set(range(num_frames))
  assert pose_tensor.evaluation_subsequences(num_frames, mode=mode).shape == (
      10, 20)


def test_short_clip_training_covers_every_frame_for_many_draws():
  rng = np.random.default_rng(5)
  for _ in range(50):
    indices = pose_tensor.sample_subsequence(19, rng=rng)
    assert set(indices.tolist()) == set(range(19))
    assert (np.diff(indices) >= 0).all()


def test_consecutive_mode():
  rng = np.random.default_rng(2)
  starts = set()
  for _ in range(20):
    indices = pose_tensor.sample_subsequence(50, rng=rng, mode="consecutive")
    np.testing.assert_array_equal(indices, np.arange(20) + indices[0])
    assert 0 <= indices[0] <= 30
    starts.add(int(indices[0]))
  assert len(starts) > 1
  views = pose_tensor.evaluation_subsequences(50, mode="consecutive")
  assert (np.diff(views[:, 0]) > 0).all()
  assert views[0, 0] >= 0 and views[-1, -1] <= 49
  np.testing.assert_array_equal(
      pose_tensor.sample_subsequence(5, offset=0.5, mode="consecutive"),
      [0, 1, 2, 3, 4] + [4] * 15)


@pytest.mark.parametrize("kwargs", [
    dict(num_frames=0), dict(num_frames=-3), dict(num_frames=10, length=0),
    dict(num_frames=10, offset=1.0), dict(num_frames=10, offset=-0.1),
    dict(num_frames=10, offset=0.5, rng=np.random.default_rng(0)),
    dict(num_frames=10, mode="window"),
])
def test_bad_sampling_arguments(kwargs):
  with pytest.raises(ValueError):
    pose_tensor.sample_subsequence(**kwargs)


# --- centring and derivatives ----------------------------------------------


def _two_people(t=4, j=15, seed=0):
  rng = np.random.default_rng(seed)
  return rng.normal(size=(t, 2, j, 3)).astype(np.float32) + 5.0


def test_body_centre_uses_first_present_frame_of_person1():
  sk = skeletons.SBU
  xyz = _two_people()
  present = np.array([[False, True], [True, True], [True, False],
                      [True, True]])
  xyz[~present] = 0.0
  out = np.asarray(pose_tensor.body_centre(xyz, present, sk))
  np.testing.assert_allclose(out[1, 0, sk.spine_mid], 0.0, atol=1e-6)
  origin = xyz[1, 0, sk.spine_mid]
  # One origin for all frames and both people: differences survive.
  np.testing.assert_allclose(out[3, 1], xyz[3, 1] - origin, atol=1e-5)
  np.testing.assert_allclose(out[0, 1], xyz[0, 1] - origin, atol=1e-5)
  np.testing.assert_allclose(out[3, 0] - out[1, 0], xyz[3, 0] - xyz[1, 0],
                             atol=1e-5)
  assert (out[0, 0] == 0).all() and (out[2, 1] == 0).all()
  assert out.dtype == np.float32


def test_body_centre_absent_stays_zero_even_if_input_is_not():
  sk = skeletons.SBU
  xyz = _two_people()
  present = np.array([[True, False]] * 4)
  out = np.asarray(pose_tensor.body_centre(xyz, present, sk))
  assert (out[:, 1] == 0).all()


def test_body_centre_falls_back_to_person2_then_zeros():
  sk = skeletons.KINECT_V1
  xyz = _two_people(j=20)
  present = np.array([[False, False], [False, True], [False, True],
                      [False, False]])
  out = np.asarray(pose_tensor.body_centre(xyz, present, sk))
  np.testing.assert_allclose(out[1, 1, sk.spine_mid], 0.0, atol=1e-6)
  assert (out[:, 0] == 0).all() and (out[[0, 3]] == 0).all()
  nobody = np.asarray(pose_tensor.body_centre(xyz, np.zeros((4, 2), bool), sk))
  assert (nobody == 0).all() and nobody.shape == xyz.shape


def test_derivatives_of_linear_trajectory():
  t = np.arange(6, dtype=np.float32)
  x = np.stack([2.0 * t + 1.0, -0.5 * t], axis=-1)  # [T, 2]
  velocity, acceleration = (
      np.asarray(d) for d in pose_tensor.temporal_derivatives(x))
  np.testing.assert_allclose(velocity[0], 0.0)
  np.testing.assert_allclose(velocity[1:], [[2.0, -0.5]] * 5)
  np.testing.assert_allclose(acceleration, 0.0)


def test_derivatives_of_quadratic_trajectory():
  t = np.arange(5, dtype=np.float64)
  velocity, acceleration = (
      np.asarray(d) for d in pose_tensor.temporal_derivatives(t**2))
  np.testing.assert_allclose(velocity, [0, 1, 3, 5, 7])
  np.testing.assert_allclose(acceleration, [0, 0, 2, 2, 2])


def test_derivatives_zero_around_absence():
  x = np.arange(1.0, 7.0)[:, None, None] * np.ones((6, 2, 3))
  valid = np.array([[True, True], [True, False], [True, True], [True, True],
                    [True, True], [True, True]])
  x[~valid] = 0.0
  velocity, acceleration = (
      np.asarray(d) for d in pose_tensor.temporal_derivatives(x, valid))
  assert velocity.shape == acceleration.shape == x.shape
  np.testing.assert_allclose(velocity[1:, 0], 1.0)
  # Person 2 absent at t=1: no velocity at t=1, 2; first velocity at t=3.
  np.testing.assert_allclose(velocity[:, 1, 0], [0, 0, 0, 1, 1, 1])
  # Acceleration needs two valid velocities: none from the 0 -> 1 jump.
  np.testing.assert_allclose(acceleration[:, 1, 0], 0.0)
  np.testing.assert_allclose(acceleration[:, 0], 0.0)


# --- the tensor ------------------------------------------------------------


def test_build_pose_tensor_exact_layout():
  sk = skeletons.SBU
  t, j = 3, sk.num_joints
  # Coordinates encode (frame, person, joint, axis) so columns can be read.
  xyz = np.zeros((t, 2, j, 3), np.float32)
  for f in range(t):
    for p in range(2):
      for joint in range(j):
        xyz[f, p, joint] = [joint, 100 * p + f, 10 * f * f]
  present = np.ones((t, 2), bool)
  path = np.array([sk.spine_mid, 0, 5])  # Torso, Head, HandLeft
  x = pose_tensor.build_pose_tensor(xyz, present, sk, [0, 1, 2], path)
  assert x.shape == (3, 2 * 3 * 3, 3) and x.dtype == np.float32
  origin = xyz[0, 0, sk.spine_mid]  # [2, 0, 0]
  for f in range(t):
    for p in range(2):
      for i, joint in enumerate(path):
        for c in range(3):
          column = (p * len(path) + i) * 3 + c
          assert x[f, column, 0] == xyz[f, p, joint, c] - origin[c]
  # Person 2, HandLeft, y at frame 2: 100 + 2.
  assert x[2, (1 * 3 + 2) * 3 + 1, 0] == 102.0
  # x-coordinate column of HandLeft for person 1: joint index 5 minus 2.
  np.testing.assert_array_equal(x[:, (0 * 3 + 2) * 3 + 0, 0], [3, 3, 3])
  # Channels: velocity of y is 1, of z is 0, 10, 30; acceleration of z 0,0,20.
  np.testing.assert_array_equal(x[:, 1, 1], [0, 1, 1])
  np.testing.assert_array_equal(x[:, 2, 1], [0, 10, 30])
  np.testing.assert_array_equal(x[:, 2, 2], [0, 0, 20])
  np.testing.assert_array_equal(x[:, 0, 1], 0)  # x never moves


def test_build_pose_tensor_samples_frames_and_zeros_absent_person():
  sk = skeletons.SBU
  xyz = _two_people(t=10)
  present = np.ones((10, 2), bool)
  present[4:, 1] = False
  xyz[~present] = 0.0
  path = pose_tensor.joint_path(sk)
  x = pose_tensor.build_pose_tensor(xyz, present, sk, [0, 2, 4, 6], path)
  width = len(path) * 3
  assert x.shape == (4, 2 * width, 3)
  assert (x[2:, width:] == 0).all()
  # Velocity over the sampled frames (0 -> 2), not adjacent raw frames.
  first_column = (xyz[2, 0, path[0], 0] - xyz[0, 0, path[0], 0])
  np.testing.assert_allclose(x[1, 0, 1], first_column, rtol=1e-5)


def test_build_pose_tensor_rejects_bad_input():
  sk = skeletons.SBU
  xyz = _two_people(t=3)
  present = np.ones((3, 2), bool)
  path = pose_tensor.joint_path(sk)
  with pytest.raises(ValueError, match="frame indices"):
    pose_tensor.build_pose_tensor(xyz, present, sk, [0, 3], path)
  with pytest.raises(ValueError, match="path"):
    pose_tensor.build_pose_tensor(xyz, present, sk, [0], [15])
  with pytest.raises(ValueError, match=r"\[T, 2, 20, 3\] for kinect_v1"):
    pose_tensor.build_pose_tensor(xyz, present, skeletons.KINECT_V1, [0],
                                  [0])
  xyz[1, 0, 2, 1] = np.nan
  with pytest.raises(ValueError, match="non-finite"):
    pose_tensor.build_pose_tensor(xyz, present, sk, [0, 1], path)


def _tiny_clip(t=6):
  sk = skeletons.SBU
  xyz = _two_people(t=t)
  present = np.ones((t, 2), bool)
  hands = np.arange(t * 4 * 2, dtype=np.float32).reshape(t, 4, 2)
  valid = np.ones((t, 4), bool)
  return clip_lib.Clip(name="tiny", label=0, skeleton=sk.name, xyz=xyz,
                       present=present, hand_xy_px=hands, hand_valid=valid,
                       image_size=(640, 480))


def test_clip_helpers():
  clip = _tiny_clip()
  x = pose_tensor.clip_pose_tensor(clip, [0, 2, 5])
  assert x.shape == (3, 180, 3)
  x = pose_tensor.clip_pose_tensor(clip, [0, 2, 5], "topological_no_double")
  assert x.shape == (3, 90, 3)
  with pytest.raises(ValueError, match="tiny"):
    pose_tensor.clip_pose_tensor(clip, [6])
  with pytest.raises(ValueError, match="tiny"):
    pose_tensor.clip_pose_tensor(clip, [-1])


def test_real_ntu_clip(ntu_samples):
  clip = ntu.load_clip(ntu_samples / "S001C001P001R001A011.skeleton")
  frames = pose_tensor.sample_subsequence(clip.num_frames,
                                          rng=np.random.default_rng(0))
  x = pose_tensor.clip_pose_tensor(clip, frames)
  assert x.shape == (20, 300, 3) and x.dtype == np.float32
  assert np.isfinite(x).all()
  assert (x[:, 150:] == 0).all()
  assert np.abs(x[:, :150, 0]).max() > 0.1  # limbs are away from the spine
  # Person 1 spans under 2 m around its spine, and moves smoothly.
  assert np.abs(x[:, :150, 0]).max() < 2.0
  assert np.abs(x[:, :150, 1]).max() < 1.0
  # The spine-mid column of the first frame is the origin.
  spine_entry = int(np.flatnonzero(
      pose_tensor.joint_path(skeletons.KINECT_V2)
      == skeletons.KINECT_V2.spine_mid)[0])
  np.testing.assert_allclose(x[0, 3 * spine_entry:3 * spine_entry + 3, 0], 0,
                             atol=1e-6)
  for view in pose_tensor.evaluation_subsequences(clip.num_frames):
    assert np.isfinite(pose_tensor.clip_pose_tensor(clip, view)).all()
  # The loader finds person 1's hands and none of the absent person 2's.
  hand_valid = clip.hand_valid[frames]
  assert hand_valid[:, :2].mean() > 0.9 and not hand_valid[:, 2:].any()
