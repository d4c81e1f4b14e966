"""Pose tensors: the input ``X`` of the pose network (paper, sections 3.3, 4).

A pose tensor is float32 ``[L, W, 3]``:

* rows: the ``L`` (20) sampled time steps of a sub-sequence;
* width ``W = 2 people * len(path) * 3``: the x, y, z of the joints along a
  joint path (a topological walk over the kinematic tree, with the double
  entries the paper asks for), person 1's path first, then person 2's. NTU
  (Kinect v2, 25 joints, 50 path entries) gives ``W = 300``;
* channels: raw body-centred coordinates, velocity, acceleration.

Sub-sequence sampling. The paper follows Shahroudy et al. 2016 [31] and "cuts
videos into sub-sequences of 20 frames". Taking 20 *consecutive* frames would
be a 0.67 s window at 30 fps, while NTU actions last 2-10 s: the window would
see a fraction of the action (only the drinking, not the lifting of the cup).
The default, ``mode="segments"``, therefore splits the clip into 20 equal
segments and takes one frame from each (a random one for training, the frame
at a fixed relative position for evaluation), so every sub-sequence spans the
whole action, and 10 evaluation sub-sequences are 10 phase-shifted views of
it. ``mode="consecutive"`` is kept for comparison.

One sampler (:func:`sample_subsequence`) serves training, evaluation, export
and prediction; :func:`evaluation_subsequences` fixes the 10 test views.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from posedriven.data import clip as clip_lib
from posedriven.data import skeletons

JOINT_ORDERS = ("topological", "topological_no_double", "random")
SAMPLING_MODES = ("segments", "consecutive")
SUBSEQUENCE_LENGTH = 20
NUM_EVAL_SUBSEQUENCES = 10
NUM_CHANNELS = 3  # coordinates, velocity, acceleration

# ---------------------------------------------------------------------------
# Joint paths.


def _dfs_walk(skeleton: skeletons.SkeletonDef, root: int,
              double: bool) -> list[int]:
  out = [root]
  for child in skeleton.children(root):
    out.extend(_dfs_walk(skeleton, child, double))
    if double:
      out.append(root)
  return out


def joint_path(skeleton: skeletons.SkeletonDef, order: str = "topological",
               seed: int = 0) -> np.ndarray:
  """The order in which joints are laid out along the tensor's width.

  Args:
    skeleton: Kinematic tree.
    order: One of :data:`JOINT_ORDERS`:

      * ``"topological"``: the paper's path (section 3.3). A closed depth-first
        walk from the root that returns to a joint after each of its limbs
        (children visited in index order), so consecutive entries are always
        neighbours in the body: root, ..., root with ``2(J-1)+1`` entries.
        It is continued cyclically by one entry (the walk's second joint) to
        ``2J`` entries, which closes the cycle (the last entry neighbours the
        first) and makes the width ``2 * 3 * 2J`` a multiple of 4, as the pose
        CNN's two 2x poolings need (Kinect v2: 50 entries, SBU: 30,
        Kinect v1: 40).
      * ``"topological_no_double"``: the DFS pre-order, each joint once
        (Table 3 ablation).
      * ``"random"``: a fixed permutation of the joints drawn from
        ``np.random.default_rng(seed)`` (Table 3 ablation).

      The two ablations have ``J`` entries, so for Kinect v2 (25, odd) their
      width 150 is not a multiple of 4.
    seed: Only used by ``"random"``.

  Returns:
    int64 ``[P]`` joint indices.

  Raises:
    ValueError: unknown ``order``.
  """
  if order == "topological":
    walk = _dfs_walk(skeleton, skeleton.root, double=True)
    if len(walk) > 1:
      walk.append(walk[1])
    return np.asarray(walk, np.int64)
  if order == "topological_no_double":
    return np.asarray(_dfs_walk(skeleton, skeleton.root, double=False),
                      np.int64)
  if order == "random":
    rng = np.random.default_rng(seed)
    return rng.permutation(skeleton.num_joints).astype(np.int64)
  raise ValueError(
      f"Unknown joint order {order!r}; expected one of {JOINT_ORDERS}")


def pose_tensor_width(skeleton: skeletons.SkeletonDef,
                      order: str = "topological") -> int:
  """``W`` of the ``[L, W, 3]`` pose tensor: 2 people x path entries x xyz."""
  return skeletons.MAX_PEOPLE * len(joint_path(skeleton, order)) * 3


# ---------------------------------------------------------------------------
# Sub-sequence sampling.


def sample_subsequence(num_frames: int, length: int = SUBSEQUENCE_LENGTH, *,
                       rng: np.random.Generator | None = None,
                       offset: float | None = None,
                       mode: str = "segments") -> np.ndarray:
  """Frame indices of one sub-sequence.

  ``mode="segments"`` (default, see the module docstring): ``[0, num_frames)``
  is cut into ``length`` segments of (almost) equal integer size and one frame
  is taken per segment; indices are strictly increasing. A clip shorter than
  ``length`` cannot give one frame per segment: the frames are then spread
  over the ``length`` slots, ``floor((k + u) * num_frames / length)`` with one
  ``u`` for all slots, which repeats frames, never skips one, and keeps the
  order.

  ``mode="consecutive"``: ``length`` consecutive frames from a start in
  ``[0, num_frames - length]``; a shorter clip holds its last frame.

  Exactly one of ``rng`` (training: a random frame per segment / a random
  start) and ``offset`` (evaluation: relative position in ``[0, 1)`` within
  every segment / of the start) decides the frames; with neither, ``offset``
  is 0.5.

  Args:
    num_frames: Frames in the clip.
    length: Frames in the sub-sequence (``L``).
    rng: Random generator, for training.
    offset: Relative position in ``[0, 1)``, for evaluation.
    mode: One of :data:`SAMPLING_MODES`.

  Returns:
    int64 ``[length]`` non-decreasing indices in ``[0, num_frames)``.

  Raises:
    ValueError: ``num_frames <= 0``, ``length <= 0``, both or a bad ``offset``,
      or an unknown ``mode``.
  """
  num_frames = int(num_frames)
  if num_frames <= 0:
    raise ValueError(f"Cannot sample a sub-sequence from {num_frames} frames")
  if length <= 0:
    raise ValueError(f"Sub-sequence length must be positive, got {length}")
  if rng is not None and offset is not None:
    raise ValueError("Give either rng (training) or offset (evaluation)")
  if offset is not None and not 0.0 <= offset < 1.0:
    raise ValueError(f"offset must be in [0, 1), got {offset}")
  if mode not in SAMPLING_MODES:
    raise ValueError(
        f"Unknown sampling mode {mode!r}; expected one of {SAMPLING_MODES}")
  if rng is None and offset is None:
    offset = 0.5

  if mode == "consecutive":
    if num_frames <= length:
      return np.minimum(np.arange(length), num_frames - 1).astype(np.int64)
    num_starts = num_frames - length + 1
    if rng is not None:
      start = int(rng.integers(num_starts))
    else:
      start = int(offset * num_starts)
    return np.arange(start, start + length, dtype=np.int64)

  slots = np.arange(length)
  if num_frames < length:
    u = rng.random() if rng is not None else offset
    return ((slots + u) * num_frames // length).astype(np.int64)
  starts = slots * num_frames // length
  sizes = (slots + 1) * num_frames // length - starts
  u = rng.random(length) if rng is not None else np.full(length, offset)
  within = np.minimum((u * sizes).astype(np.int64), sizes - 1)
  return (starts + within).astype(np.int64)


def evaluation_subsequences(num_frames: int,
                            length: int = SUBSEQUENCE_LENGTH,
                            num_subsequences: int = NUM_EVAL_SUBSEQUENCES, *,
                            mode: str = "segments") -> np.ndarray:
  """The deterministic test-time sub-sequences whose logits are averaged.

  Sub-sequence ``k`` uses ``offset = (k + 0.5) / num_subsequences``.

  Returns:
    int64 ``[num_subsequences, length]`` frame indices.
  """
  if num_subsequences <= 0:
    raise ValueError(
        f"num_subsequences must be positive, got {num_subsequences}")
  return np.stack([
      sample_subsequence(num_frames, length,
                         offset=(k + 0.5) / num_subsequences, mode=mode)
      for k in range(num_subsequences)
  ])


# ---------------------------------------------------------------------------
# Normalisation and derivatives.


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


def _check_indices(clip: clip_lib.Clip, frame_indices) -> np.ndarray:
  frame_indices = np.asarray(frame_indices, np.int64)
  if frame_indices.ndim != 1 or (frame_indices.size and (
      frame_indices.min() < 0 or frame_indices.max() >= clip.num_frames)):
    raise ValueError(
        f"{clip.name}: frame indices must be 1-D in [0, {clip.num_frames}),"
        f" got {frame_indices}")
  return frame_indices


def clip_pose_tensor(clip: clip_lib.Clip,
                     frame_indices: Sequence[int] | np.ndarray,
                     order: str = "topological") -> np.ndarray:
  """:func:`build_pose_tensor` for a :class:`~posedriven.data.clip.Clip`.

  Returns:
    float32 ``[L, W, 3]``, ``W = pose_tensor_width(skeleton, order)``.
  """
  frame_indices = _check_indices(clip, frame_indices)
  skeleton = skeletons.get_skeleton(clip.skeleton)
  try:
    return build_pose_tensor(clip.xyz, clip.present, skeleton, frame_indices,
                             joint_path(skeleton, order))
  except ValueError as e:
    raise ValueError(f"{clip.name}: {e}") from e
