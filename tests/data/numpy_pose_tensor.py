"""The numpy pose-tensor code that ran in tf.data through numpy_function.

Kept as the oracle the TensorFlow ops of ``posedriven.data.pose_tensor`` are
tested against (issue 15): sampling with its random draws factored out into
``uniforms`` (the rest is the code as it was), centring, derivatives and the
tensor verbatim.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from posedriven.data import skeletons


def subsequence_indices(num_frames: int, uniforms: np.ndarray, length: int,
                        mode: str) -> np.ndarray:
  u_all = np.asarray(uniforms, np.float64)
  if mode == "consecutive":
    if num_frames <= length:
      return np.minimum(np.arange(length), num_frames - 1).astype(np.int64)
    num_starts = num_frames - length + 1
    start = int(u_all[0] * num_starts)
    return np.arange(start, start + length, dtype=np.int64)
  slots = np.arange(length)
  if num_frames < length:
    u = u_all[0]
    return ((slots + u) * num_frames // length).astype(np.int64)
  starts = slots * num_frames // length
  sizes = (slots + 1) * num_frames // length - starts
  within = np.minimum((u_all * sizes).astype(np.int64), sizes - 1)
  return (starts + within).astype(np.int64)


def body_centre(xyz: np.ndarray, present: np.ndarray,
                skeleton: skeletons.SkeletonDef) -> np.ndarray:
  """Translates both people to a body-centred coordinate system.

  The paper only says coordinates are "body centred on the middle of the
  spine". We use ONE origin for the whole (sub-)sequence and both people:
  person 1's middle-of-spine joint in the first frame where person 1 is
  present (person 2's if person 1 never is). Re-centring every frame, or each
  person on themselves, would erase walking towards / away from each other,
  pushing, falling and the like: the relative position of the two people and
  each body's translation over time carry the action in those classes, and
  velocities would lose the whole-body motion.

  Args:
    xyz: ``[T, 2, J, 3]`` camera-space joints.
    present: bool ``[T, 2]``.
    skeleton: Gives the middle-of-spine joint.

  Returns:
    ``[T, 2, J, 3]`` (dtype of ``xyz``); absent people are exactly zero
    ("If only one subject is present in a frame, we set the coordinates of the
    second subject to zero"), everything is zero if nobody is present.
  """
  xyz = np.asarray(xyz)
  present = np.asarray(present, bool)
  mask = present[:, :, None, None]
  for person in range(present.shape[1]):
    frames = np.flatnonzero(present[:, person])
    if len(frames):
      origin = xyz[frames[0], person, skeleton.spine_mid]
      return np.where(mask, xyz - origin, 0).astype(xyz.dtype)
  return np.zeros_like(xyz)


def temporal_derivatives(x: np.ndarray, valid: np.ndarray | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
  """Finite-difference velocity and acceleration along axis 0.

  ``v[t] = x[t] - x[t-1]`` and ``a[t] = v[t] - v[t-1]``. A difference is only
  taken between two valid values and is zero otherwise, so a person appearing
  or leaving makes no spike from the zeros that stand for "absent": ``v[t]``
  needs ``valid`` at ``t`` and ``t-1``, ``a[t]`` needs ``v`` valid at ``t``
  and ``t-1`` (``valid`` at ``t-2..t``). ``v[0] = a[0] = a[1] = 0``: the
  velocity before the first frame is unknown, so ``a[1]`` would be ``v[1]``,
  not an acceleration.

  Args:
    x: ``[T, ...]``.
    valid: bool ``[T, ...]`` broadcastable against ``x`` after appending
      trailing axes (e.g. ``present [T, 2]`` for ``x [T, 2, J, 3]``); None
      means all valid.

  Returns:
    ``(velocity, acceleration)``, each shaped and typed like ``x``.
  """
  x = np.asarray(x)
  if valid is None:
    valid = np.ones(x.shape[:1], bool)
  valid = np.asarray(valid, bool)
  valid = valid.reshape(valid.shape + (1,) * (x.ndim - valid.ndim))

  def diff(values, ok):
    out = np.zeros_like(values)
    both = ok[1:] & ok[:-1]
    out[1:] = np.where(both, values[1:] - values[:-1], 0)
    ok_out = np.zeros_like(ok)
    ok_out[1:] = both
    return out, ok_out

  velocity, velocity_ok = diff(x, valid)
  acceleration, _ = diff(velocity, velocity_ok)
  return velocity, acceleration


# ---------------------------------------------------------------------------
# The tensor.


def build_pose_tensor(xyz: np.ndarray, present: np.ndarray,
                      skeleton: skeletons.SkeletonDef,
                      frame_indices: Sequence[int] | np.ndarray,
                      path: Sequence[int] | np.ndarray) -> np.ndarray:
  """Pose tensor ``X`` of one sub-sequence (paper, section 3.3).

  The sampled frames are body-centred (:func:`body_centre`) and the
  derivatives are taken between consecutive *sampled* frames, i.e. at the
  time scale the network sees.

  Args:
    xyz: ``[T, 2, J, 3]`` camera-space joints, zeros where absent.
    present: bool ``[T, 2]``.
    skeleton: Definition of the ``J`` joints.
    frame_indices: ``[L]`` frames to take (see :func:`sample_subsequence`).
    path: ``[P]`` joint order (see :func:`joint_path`).

  Returns:
    float32 ``[L, 2 * P * 3, 3]``: column ``(p * P + i) * 3 + c`` holds
    coordinate ``c`` (x, y, z) of joint ``path[i]`` of person ``p``; channels
    are (coordinates, velocity, acceleration).

  Raises:
    ValueError: shapes disagree with the skeleton, indices are out of range,
      or a present person has non-finite coordinates.
  """
  xyz = np.asarray(xyz)
  present = np.asarray(present, bool)
  t, j = xyz.shape[0], skeleton.num_joints
  if xyz.shape != (t, skeletons.MAX_PEOPLE, j, 3):
    raise ValueError(f"xyz has shape {xyz.shape}, expected [T, "
                     f"{skeletons.MAX_PEOPLE}, {j}, 3] for {skeleton.name}")
  if present.shape != (t, skeletons.MAX_PEOPLE):
    raise ValueError(f"present has shape {present.shape}, expected "
                     f"{(t, skeletons.MAX_PEOPLE)}")
  frame_indices = np.asarray(frame_indices, np.int64)
  path = np.asarray(path, np.int64)
  if frame_indices.ndim != 1 or (
      frame_indices.size and not 0 <= frame_indices.min() <= frame_indices.max()
      < t):
    raise ValueError(
        f"frame indices must be 1-D in [0, {t}), got {frame_indices}")
  if path.ndim != 1 or (path.size and not 0 <= path.min() <= path.max() < j):
    raise ValueError(f"path must be 1-D joint indices in [0, {j}), got {path}")

  frames = xyz[frame_indices].astype(np.float32)
  frames_present = present[frame_indices]
  if not np.isfinite(frames[frames_present]).all():
    raise ValueError("non-finite joint coordinates for a present person")
  coords = body_centre(frames, frames_present, skeleton)
  velocity, acceleration = temporal_derivatives(coords, frames_present)
  length = len(frame_indices)
  channels = [
      c[:, :, path, :].reshape(length, -1)
      for c in (coords, velocity, acceleration)
  ]
  return np.stack(channels, axis=-1).astype(np.float32)
