"""Camera views of the synthetic set: placement, projection, skeleton files."""

from __future__ import annotations

import dataclasses

import numpy as np

from posedriven.data.formats import ntu
from posedriven.data import skeletons
from posedriven.data.synthetic import motion

_J = motion.JOINT_INDEX

CAMERA_YAW_DEG = {1: 0.0, 2: 45.0, 3: -45.0}

# NTU colour intrinsics for a 1920x1080 frame (focal length in pixels), and
# the Kinect v2 depth camera (512x424).
_COLOR_FOCAL_1920 = 1050.0
_DEPTH_FOCAL = 365.0

# Joints whose Kinect orientation is reported as 0 0 0 0 (no child bone).
_LEAF_JOINTS = ("Head", "FootLeft", "FootRight", "HandTipLeft", "ThumbLeft",
                "HandTipRight", "ThumbRight")

def color_intrinsics(image_size: tuple[int, int]
                     ) -> tuple[float, float, float, float]:
  """``(fx, fy, cx, cy)`` of NTU's colour camera scaled to ``image_size``."""
  width, height = image_size
  return (_COLOR_FOCAL_1920 * width / ntu.RGB_SIZE[0],
          _COLOR_FOCAL_1920 * height / ntu.RGB_SIZE[1], width / 2.0,
          height / 2.0)


def project_color(xyz: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
  """Camera space ``[..., 3]`` (metres) to colour pixels ``[..., 2]``.

  Kinect camera space has y up and x towards the right of the image, so
  colorY grows as y falls.
  """
  fx, fy, cx, cy = color_intrinsics(image_size)
  z = xyz[..., 2]
  return np.stack([cx + fx * xyz[..., 0] / z, cy - fy * xyz[..., 1] / z], -1)


def project_depth(xyz: np.ndarray) -> np.ndarray:
  """Camera space ``[..., 3]`` to 512x424 depth-frame pixels ``[..., 2]``."""
  z = xyz[..., 2]
  return np.stack([ntu.DEPTH_SIZE[0] / 2 + _DEPTH_FOCAL * xyz[..., 0] / z,
                   ntu.DEPTH_SIZE[1] / 2 - _DEPTH_FOCAL * xyz[..., 1] / z], -1)

# ----------------------------------------------------------------------------
# Camera views: skeleton files.


@dataclasses.dataclass(frozen=True)
class View:
  """A camera of one setup: yaw around the scene, distance, height (m)."""

  yaw_deg: float
  distance_m: float
  height_m: float


def camera_view(seed: int, setup: int, camera: int) -> View:
  """The fixed placement of ``camera`` in ``setup``."""
  if camera not in CAMERA_YAW_DEG:
    raise ValueError(
        f"camera {camera} is not a synthetic view; expected one of"
        f" {sorted(CAMERA_YAW_DEG)}")
  rng = np.random.default_rng([seed, motion.TAG_VIEW, setup, camera])
  return View(CAMERA_YAW_DEG[camera], float(rng.uniform(2.9, 3.3)),
              float(rng.uniform(0.9, 1.1)))


def world_to_camera(xyz_world: np.ndarray, view: View) -> np.ndarray:
  """World ``[..., 3]`` (y up, floor 0) to Kinect camera space (metres)."""
  xyz = motion.rotate_y(xyz_world, view.yaw_deg)
  xyz[..., 1] -= view.height_m
  xyz[..., 2] += view.distance_m
  return xyz


def _bone_quaternions(xyz: np.ndarray) -> np.ndarray:
  """Kinect-like joint orientations ``[..., 25, 4]`` (W, X, Y, Z).

  Kinect reports each joint's rotation taking +y onto the bone towards its
  child; leaves are reported as zeros. We use the shortest such rotation.
  """
  out = np.zeros(xyz.shape[:-1] + (4,))
  for j in range(ntu.NUM_JOINTS):
    if skeletons.KINECT_V2.joint_names[j] in _LEAF_JOINTS:
      continue
    child = skeletons.KINECT_V2.children(j)[0]
    bone = xyz[..., child, :] - xyz[..., j, :]
    bone /= np.maximum(np.linalg.norm(bone, axis=-1, keepdims=True), 1e-9)
    # q = normalise(1 + y.b, y x b) with y = (0, 1, 0).
    q = np.stack([1.0 + bone[..., 1], bone[..., 2], np.zeros_like(bone[..., 0]),
                  -bone[..., 0]], -1)
    out[..., j, :] = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True),
                                    1e-9)
  return out


def skeleton_sequence(name: str, performance: motion.Performance, view: View,
                      image_size: tuple[int, int]) -> ntu.SkeletonSequence:
  """The ``.skeleton`` content of ``performance`` seen from ``view``."""
  xyz = world_to_camera(performance.xyz_world, view)
  t, p = xyz.shape[:2]
  hand_state = np.full((t, p, 2), 2, np.int8)  # Kinect HandState: 2 open.
  for hand in range(2 * p):
    start, stop = performance.hand_windows[hand]
    if performance.hand_objects[hand] != motion.NO_OBJECT:
      hand_state[start:stop, hand // 2, hand % 2] = 3  # closed on an object.
  spine = xyz[:, :, _J["SpineMid"]]
  lean = np.stack([(spine[..., 0] - spine[:1, :, 0]) * 3.0,
                   np.full((t, p), 0.05)], -1)
  xyz32 = xyz.astype(np.float32)
  return ntu.SkeletonSequence(
      name=name,
      body_ids=np.array(performance.body_ids, np.uint64),
      present=np.ones((t, p), bool),
      xyz=xyz32,
      depth_xy=project_depth(xyz32.astype(np.float64)).astype(np.float32),
      color_xy=project_color(xyz32.astype(np.float64),
                             image_size).astype(np.float32),
      orientation=_bone_quaternions(xyz).astype(np.float32),
      tracking_state=np.full((t, p, ntu.NUM_JOINTS), 2, np.int8),
      clipped_edges=np.zeros((t, p), np.int32),
      hand_confidence=np.ones((t, p, 2), np.int8),
      hand_state=hand_state,
      is_restricted=np.zeros((t, p), np.int8),
      lean_xy=np.clip(lean, -1, 1).astype(np.float32),
      body_tracking_state=np.full((t, p), 2, np.int8),
  )


def hand_pixels(seq: ntu.SkeletonSequence) -> np.ndarray:
  """Hand colour pixels ``[T, 4, 2]`` in HAND_NAMES order (0 if absent)."""
  t = seq.num_frames
  out = np.zeros((t, skeletons.NUM_HANDS, 2), np.float32)
  hands = [skeletons.KINECT_V2.left_hand, skeletons.KINECT_V2.right_hand]
  for p in range(min(seq.num_bodies, skeletons.MAX_PEOPLE)):
    out[:, 2 * p:2 * p + 2] = seq.color_xy[:, p, hands]
  return out
