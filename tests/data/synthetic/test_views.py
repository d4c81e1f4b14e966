"""Synthetic camera views: placement, projection, Kinect-like skeletons."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from posedriven.data import skeletons
from posedriven.data import synthetic
from posedriven.data.formats import ntu
from posedriven.data.synthetic import motion as synthetic_motion
from posedriven.data.synthetic import views as synthetic_views


def test_skeleton_values_are_kinect_like(dataset):
  root, names = dataset
  people = collections.Counter()
  for name in names:
    seq = ntu.load_skeleton(synthetic.skeleton_path(root, name))
    people[seq.num_bodies] += 1
    assert np.all(seq.body_ids >= synthetic_motion.BODY_ID_BASE)
    assert len(set(seq.body_ids.tolist())) == seq.num_bodies
    assert np.all(seq.tracking_state == 2) and np.all(seq.present)
    # Standing 2.5-4 m in front of the camera, 1.5-1.95 m tall.
    assert np.all((seq.xyz[..., 2] > 2.2) & (seq.xyz[..., 2] < 4.2))
    height = seq.xyz[:, :, 3, 1] - seq.xyz[:, :, 15, 1]  # Head - FootLeft.
    assert np.all((height > 1.3) & (height < 1.95)), name
    norms = np.linalg.norm(seq.orientation, axis=-1)
    leaves = [skeletons.KINECT_V2.joint_names.index(j) for j in (
        "Head", "FootLeft", "FootRight", "HandTipLeft", "ThumbLeft",
        "HandTipRight", "ThumbRight")]
    inner = [j for j in range(25) if j not in leaves]
    np.testing.assert_allclose(norms[..., inner], 1.0, atol=1e-5)
    assert np.all(norms[..., leaves] == 0)
    depth = seq.depth_xy
    assert np.all((depth >= 0) & (depth < np.array(ntu.DEPTH_SIZE)))
    # NTU's colour focal length (1050 px at 1920 wide) scaled to 320 wide.
    x, y, z = (seq.xyz[..., i].astype(float) for i in range(3))
    np.testing.assert_allclose(seq.color_xy[..., 0], 160 + 175 * x / z,
                               atol=1e-3)
    np.testing.assert_allclose(seq.color_xy[..., 1], 90 - 175 * y / z,
                               atol=1e-3)
  assert people[1] > 0 and people[2] > 0


def test_colour_camera_is_ntus_scaled_to_the_frame():
  assert synthetic_views.color_intrinsics((1920, 1080)) == (
      1050.0, 1050.0, 960.0, 540.0)
  assert synthetic_views.color_intrinsics((320, 180)) == pytest.approx(
      (175.0, 175.0, 160.0, 90.0))


def test_projection_centre_and_directions():
  size = (320, 180)
  np.testing.assert_allclose(
      synthetic_views.project_color(np.array([0.0, 0.0, 3.0]), size),
      [160.0, 90.0])
  # Kinect camera space: x to the image's right, y up.
  np.testing.assert_allclose(
      synthetic_views.project_color(np.array([[0.6, 0.3, 3.0]]), size),
      [[160.0 + 175.0 * 0.2, 90.0 - 175.0 * 0.1]])
  np.testing.assert_allclose(
      synthetic_views.project_depth(np.array([[0.0, 0.0, 2.0],
                                              [0.4, -0.4, 2.0]])),
      [[256.0, 212.0], [256.0 + 73.0, 212.0 + 73.0]])


def test_camera_views_are_fixed_per_setup():
  view = synthetic_views.camera_view(0, 1, 2)
  assert view == synthetic_views.camera_view(0, 1, 2)
  assert view != synthetic_views.camera_view(0, 2, 2)
  for camera, yaw in ((1, 0.0), (2, 45.0), (3, -45.0)):
    v = synthetic_views.camera_view(7, 1, camera)
    assert v.yaw_deg == yaw
    assert 2.9 <= v.distance_m <= 3.3 and 0.9 <= v.height_m <= 1.1
  with pytest.raises(ValueError, match="camera 4.*expected one of"):
    synthetic_views.camera_view(0, 1, 4)


def test_world_to_camera_puts_the_scene_centre_on_the_axis():
  view = synthetic_views.View(yaw_deg=45.0, distance_m=3.0, height_m=1.0)
  world = np.array([[0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
  camera = synthetic_views.world_to_camera(world, view)
  # float64: cos/sin(45 deg) rounded (<= eps/2 each) times coordinates of
  # at most 3 m, summed over three terms: a few eps x 3.
  np.testing.assert_allclose(camera[0], [0.0, 0.0, 3.0],
                             atol=8 * np.finfo(np.float64).eps * 3.0)
  # The yaw turns the scene about the vertical axis: distances to it stay.
  assert np.hypot(camera[1, 0], camera[1, 2] - 3.0) == pytest.approx(1.0)
  assert camera[1, 1] == pytest.approx(0.0)
  np.testing.assert_array_equal(world[0], [0.0, 1.0, 0.0])


def _rotate(q, v):
  """Rotates ``v`` by unit quaternions ``q`` (W, X, Y, Z)."""
  w, u = q[..., :1], q[..., 1:]
  return v + 2 * w * np.cross(u, v) + 2 * np.cross(u, np.cross(u, v))


def _one_person_sequence():
  performance = synthetic_motion.make_performance(
      1, 1, 2, 1, 3, num_frames_range=(9, 10), second_person_probability=0.0)
  return synthetic_views.skeleton_sequence(
      "S001C001P002R001A003", performance,
      synthetic_views.camera_view(1, 1, 1), (320, 180))


def test_orientations_turn_y_onto_the_bone():
  seq = _one_person_sequence()
  k = skeletons.KINECT_V2
  xyz = seq.xyz.astype(np.float64)
  checked = 0
  for j in range(k.num_joints):
    if not k.children(j):  # leaves: Kinect reports zeros
      np.testing.assert_array_equal(seq.orientation[..., j, :], 0.0)
      continue
    bone = xyz[..., k.children(j)[0], :] - xyz[..., j, :]
    bone /= np.linalg.norm(bone, axis=-1, keepdims=True)
    # float32 storage of joints ~3 m from the sensor (~2e-7 m) over bones
    # of >= 5 cm and of the quaternion (6e-8): well below 1e-4.
    up = _rotate(seq.orientation[..., j, :].astype(np.float64),
                 np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(up, bone, atol=1e-4, err_msg=k.joint_names[j])
    checked += 1
  assert checked == 18


def test_hand_pixels_are_the_hand_joints_colour_pixels():
  seq = _one_person_sequence()
  k = skeletons.KINECT_V2
  hands = synthetic_views.hand_pixels(seq)
  assert hands.shape == (seq.num_frames, 4, 2)
  np.testing.assert_array_equal(hands[:, 0], seq.color_xy[:, 0, k.left_hand])
  np.testing.assert_array_equal(hands[:, 1], seq.color_xy[:, 0, k.right_hand])
  np.testing.assert_array_equal(hands[:, 2:], 0.0)  # nobody else
