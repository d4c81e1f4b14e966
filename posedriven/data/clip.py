"""The dataset-independent clip that every reader produces.

Readers (NTU, SBU, MSR, synthetic) differ in file formats; downstream code
(pose tensors, glimpse cropping, TFRecords) only sees a :class:`Clip`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from posedriven.data import skeletons


@dataclasses.dataclass
class Clip:
  """One activity sample: up to two people's poses and hand image positions.

  Attributes:
    name: Sample name, e.g. ``S001C001P001R001A001``; used in every log line.
    label: 0-based class index (-1 if unknown, e.g. at prediction time).
    skeleton: Key into :data:`skeletons.SKELETONS`.
    xyz: float32 ``[T, 2, J, 3]`` camera-space joints (metres); zeros where a
      person is absent.
    present: bool ``[T, 2]``: person p is tracked in frame t.
    hand_xy_px: float32 ``[T, 4, 2]`` hand joints in RGB-frame pixels, in
      :data:`skeletons.HAND_NAMES` order.
    hand_valid: bool ``[T, 4]``: the hand is tracked in frame t.
    image_size: ``(width, height)`` of the RGB frames the pixels refer to.
    metadata: Protocol keys (``subject``, ``camera``, ``setup``, ...).
    defects: Why the reader finds the recording degraded though readable
      (e.g. the person missing in most frames), one reason each; empty for
      a sound clip. Preparation records such a clip as ``degraded``.
  """

  name: str
  label: int
  skeleton: str
  xyz: np.ndarray
  present: np.ndarray
  hand_xy_px: np.ndarray
  hand_valid: np.ndarray
  image_size: tuple[int, int]
  metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
  defects: tuple[str, ...] = ()

  @property
  def num_frames(self) -> int:
    return int(self.xyz.shape[0])

  def __post_init__(self):
    num_joints = skeletons.get_skeleton(self.skeleton).num_joints
    t = self.xyz.shape[0]
    expected = {
        "xyz": (t, skeletons.MAX_PEOPLE, num_joints, 3),
        "present": (t, skeletons.MAX_PEOPLE),
        "hand_xy_px": (t, skeletons.NUM_HANDS, 2),
        "hand_valid": (t, skeletons.NUM_HANDS),
    }
    for field, shape in expected.items():
      actual = getattr(self, field).shape
      if tuple(actual) != shape:
        raise ValueError(
            f"{self.name}: Clip.{field} has shape {actual}, expected {shape}")


class EmptySkeletonError(ValueError):
  """A skeleton holds no usable joint in any frame: nothing to learn from."""


def usable_joints(clip: Clip) -> np.ndarray:
  """bool ``[T, 2, J]``: joints of a present person with a usable position.

  Readers write ``(0, 0, 0)`` for a joint whose values were NaN/inf (NTU,
  MSR) or not tracked (SBU); no real camera-space joint is at the sensor's
  origin, so those joints carry no pose.
  """
  finite = np.all(np.isfinite(clip.xyz), axis=-1)
  return clip.present[..., None] & finite & np.any(clip.xyz != 0, axis=-1)


def check_usable(clip: Clip, where: object) -> None:
  """Refuses a clip whose pose tensor would be all zeros.

  Zero frames, no person present, or every joint NaN/inf are one situation:
  no usable skeleton. Each is an error (not a degraded clip, which still
  has a pose to learn from).

  Args:
    clip: The clip as read.
    where: The file or directory to name in the message.

  Raises:
    EmptySkeletonError: no usable joint in any frame.
  """
  if not usable_joints(clip).any():
    raise EmptySkeletonError(
        f"{where}: no usable joint in any of its {clip.num_frames} frames (no"
        " person present, or every joint NaN/inf/0): the pose tensor would"
        " be all zeros")


def first_frames(clip: Clip, num_frames: int) -> Clip:
  """The clip cut to its first ``num_frames`` frames (video alignment)."""
  if num_frames == clip.num_frames:
    return clip
  return dataclasses.replace(
      clip, xyz=clip.xyz[:num_frames], present=clip.present[:num_frames],
      hand_xy_px=clip.hand_xy_px[:num_frames],
      hand_valid=clip.hand_valid[:num_frames])

def hands_from_people(xyz_px: np.ndarray, present: np.ndarray,
                      skeleton: skeletons.SkeletonDef,
                      joint_valid: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
  """Picks the 4 attention points out of per-joint image coordinates.

  Args:
    xyz_px: ``[T, 2, J, 2]`` joint positions in image pixels.
    present: bool ``[T, 2]``.
    skeleton: Definition giving the hand joints.
    joint_valid: optional bool ``[T, 2, J]`` per-joint tracking flags.

  Returns:
    ``hand_xy_px`` float32 ``[T, 4, 2]`` and ``hand_valid`` bool ``[T, 4]`` in
    :data:`skeletons.HAND_NAMES` order.
  """
  hands = [skeleton.left_hand, skeleton.right_hand]
  xy = xyz_px[:, :, hands, :].reshape(xyz_px.shape[0], 4, 2)
  valid = np.repeat(present, 2, axis=1)
  if joint_valid is not None:
    valid = valid & joint_valid[:, :, hands].reshape(-1, 4)
  valid = valid & np.all(np.isfinite(xy), axis=-1)
  return np.where(valid[..., None], xy, 0.0).astype(np.float32), valid
