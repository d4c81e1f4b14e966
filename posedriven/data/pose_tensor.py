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

One sampler (:func:`subsequence_indices`) serves training, evaluation, export
and prediction; :func:`evaluation_indices` fixes the 10 test views. Sampling,
centring and derivatives are TensorFlow ops (:func:`pose_tensor`), so the
tf.data pipelines run them in graph mode; :func:`sample_subsequence`,
:func:`evaluation_subsequences` and :func:`build_pose_tensor` are the same
ops for eager callers, with their arguments checked.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from posedriven.data import clip as clip_lib
from posedriven.data import skeleton_layouts
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


_RANDOM_PREFIX = "random:"


def _random_order_seed(order: str) -> int:
  try:
    return int(order[len(_RANDOM_PREFIX):])
  except ValueError:
    raise ValueError(f"Unknown joint order {order!r}; 'random:<n>' needs an"
                     " integer seed n") from None


def resolve_joint_order(order: str, seed: int) -> str:
  """The joint order a run of seed ``seed`` uses, by a name that fixes it.

  ``"random"`` becomes ``"random:<seed>"``: each seed of a Table 3 run
  draws its own permutation (one fixed permutation for every seed would
  measure that permutation, not random orders), and evaluation, export and
  prediction, which read the order from the run, rebuild the same one.
  Other orders are returned unchanged.

  Raises:
    ValueError: unknown ``order``.
  """
  if order not in JOINT_ORDERS and not order.startswith(_RANDOM_PREFIX):
    raise ValueError(
        f"Unknown joint order {order!r}; expected one of {JOINT_ORDERS}")
  return f"{_RANDOM_PREFIX}{int(seed)}" if order == "random" else order


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
      * ``"random"``: a permutation of the joints drawn from
        ``np.random.default_rng(seed)`` (Table 3 ablation);
        ``"random:<n>"`` is the one drawn from seed ``n`` whatever ``seed``
        says: the name a run records (:func:`resolve_joint_order`).

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
  if order == "random" or order.startswith(_RANDOM_PREFIX):
    if order != "random":
      seed = _random_order_seed(order)
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
#
# The arithmetic is written once, in TensorFlow ops, so that the tf.data
# pipelines run it in graph mode (no numpy_function: no GIL, parallel maps,
# tf.data service) and eager callers (prediction, tests) get the same
# numbers; float64 keeps the frame choice exact for any clip length.


def _check_mode(mode: str) -> None:
  if mode not in SAMPLING_MODES:
    raise ValueError(
        f"Unknown sampling mode {mode!r}; expected one of {SAMPLING_MODES}")


def _floor_div(a: tf.Tensor, b: float) -> tf.Tensor:
  """``floor(a / b)`` exactly for ``a >= 0`` (a rounded-up quotient fixed)."""
  q = tf.floor(a / b)
  return tf.where(q * b > a, q - 1.0, q)


def subsequence_indices(num_frames, uniforms,
                        length: int = SUBSEQUENCE_LENGTH,
                        mode: str = "segments") -> tf.Tensor:
  """Frame indices of one sub-sequence, given uniforms in ``[0, 1)``.

  ``mode="segments"`` (default, see the module docstring): ``[0, num_frames)``
  is cut into ``length`` segments of (almost) equal integer size and frame
  ``start + floor(u[k] * size)`` is taken in segment ``k``; indices are
  strictly increasing. A clip shorter than ``length`` cannot give one frame
  per segment: the frames are then spread over the ``length`` slots,
  ``floor((k + u[0]) * num_frames / length)``, which repeats frames, never
  skips one, and keeps the order.

  ``mode="consecutive"``: ``length`` consecutive frames from start
  ``floor(u[0] * (num_frames - length + 1))``; a shorter clip holds its last
  frame.

  Training draws ``uniforms`` at random; evaluation fills them with one
  relative position (:func:`evaluation_indices`).

  Args:
    num_frames: int scalar ``T > 0`` (a tensor in tf.data pipelines).
    uniforms: float ``[length]`` in ``[0, 1)``.
    length: ``L``.
    mode: One of :data:`SAMPLING_MODES`.

  Returns:
    int64 ``[length]`` non-decreasing indices in ``[0, num_frames)``.
  """
  _check_mode(mode)
  n = tf.cast(num_frames, tf.int64)
  n_f = tf.cast(n, tf.float64)
  u = tf.cast(tf.reshape(uniforms, [length]), tf.float64)
  slots = tf.range(length, dtype=tf.int64)
  if mode == "consecutive":
    num_starts = tf.maximum(n - length + 1, 1)
    start = tf.cast(tf.floor(u[0] * tf.cast(num_starts, tf.float64)),
                    tf.int64)
    return tf.where(n <= length, tf.minimum(slots, n - 1), start + slots)
  short = tf.cast(
      _floor_div((tf.cast(slots, tf.float64) + u[0]) * n_f, float(length)),
      tf.int64)
  starts = slots * n // length
  sizes = (slots + 1) * n // length - starts
  within = tf.minimum(
      tf.cast(u * tf.cast(sizes, tf.float64), tf.int64), sizes - 1)
  return tf.where(n < length, short, starts + within)


def random_subsequence(num_frames, seed, length: int = SUBSEQUENCE_LENGTH,
                       mode: str = "segments") -> tf.Tensor:
  """A training sub-sequence drawn with a stateless seed (``[2]`` ints)."""
  uniforms = tf.random.stateless_uniform([length], seed, dtype=tf.float64)
  return subsequence_indices(num_frames, uniforms, length, mode)


def evaluation_indices(num_frames, length: int = SUBSEQUENCE_LENGTH,
                       num_subsequences: int = NUM_EVAL_SUBSEQUENCES,
                       mode: str = "segments") -> tf.Tensor:
  """The ``K`` test-time sub-sequences; view ``k`` at offset ``(k + 0.5)/K``.

  Returns:
    int64 ``[K, length]`` frame indices.
  """
  if num_subsequences <= 0:
    raise ValueError(
        f"num_subsequences must be positive, got {num_subsequences}")
  offsets = ((tf.range(num_subsequences, dtype=tf.float64) + 0.5) /
             num_subsequences)
  # A Python loop, not tf.map_fn: K is a Python int, and map_fn's autograph
  # conversion cost 0.6 s on predict's first (eager) call.
  return tf.stack([
      subsequence_indices(num_frames, tf.fill([length], offset), length, mode)
      for offset in tf.unstack(offsets, num=num_subsequences)])


def sample_subsequence(num_frames: int, length: int = SUBSEQUENCE_LENGTH, *,
                       rng: np.random.Generator | None = None,
                       offset: float | None = None,
                       mode: str = "segments") -> np.ndarray:
  """:func:`subsequence_indices` for eager callers, with checked arguments.

  Exactly one of ``rng`` (a random sub-sequence) and ``offset`` (relative
  position in ``[0, 1)`` within every segment / of the start) decides the
  frames; with neither, ``offset`` is 0.5.

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
  _check_mode(mode)
  uniforms = (rng.random(length) if rng is not None else
              np.full(length, 0.5 if offset is None else offset))
  return subsequence_indices(num_frames, uniforms, length, mode).numpy()


def evaluation_subsequences(num_frames: int,
                            length: int = SUBSEQUENCE_LENGTH,
                            num_subsequences: int = NUM_EVAL_SUBSEQUENCES, *,
                            mode: str = "segments") -> np.ndarray:
  """:func:`evaluation_indices` for eager callers (prediction).

  Returns:
    int64 ``[num_subsequences, length]`` frame indices.
  """
  if int(num_frames) <= 0:
    raise ValueError(f"Cannot sample a sub-sequence from {num_frames} frames")
  return evaluation_indices(int(num_frames), length, num_subsequences,
                            mode).numpy()


# ---------------------------------------------------------------------------
# Normalisation and derivatives.


def body_centre(xyz, present, skeleton: skeletons.SkeletonDef) -> tf.Tensor:
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
    xyz: float ``[T, 2, J, 3]`` camera-space joints.
    present: bool ``[T, 2]``.
    skeleton: Gives the middle-of-spine joint.

  Returns:
    ``[T, 2, J, 3]`` (dtype of ``xyz``); absent people are exactly zero
    ("If only one subject is present in a frame, we set the coordinates of the
    second subject to zero"), everything is zero if nobody is present.
  """
  xyz = tf.convert_to_tensor(xyz)
  present = tf.cast(present, tf.bool)
  seen = tf.reduce_any(present, axis=0)  # [2]
  # argmax returns the first maximum: each person's first present frame.
  first = tf.argmax(tf.cast(present, tf.int32), axis=0, output_type=tf.int32)
  person = tf.where(seen[0], 0, 1)
  origin = tf.gather_nd(xyz, [first[person], person, skeleton.spine_mid])
  mask = present[:, :, tf.newaxis, tf.newaxis]
  # Where nobody is present the mask is all False: zeros, whatever origin is.
  return tf.where(mask, xyz - origin, tf.zeros_like(xyz))


def temporal_derivatives(x, valid=None) -> tuple[tf.Tensor, tf.Tensor]:
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
  x = tf.convert_to_tensor(x)
  if valid is None:
    valid = tf.ones(tf.shape(x)[:1], tf.bool)
  valid = tf.cast(valid, tf.bool)
  valid = tf.reshape(valid, tf.concat(
      [tf.shape(valid), tf.ones([x.shape.rank - valid.shape.rank], tf.int32)],
      0))

  def diff(values, ok):
    both = ok[1:] & ok[:-1]
    out = tf.where(both, values[1:] - values[:-1], tf.zeros_like(values[1:]))
    return (tf.concat([tf.zeros_like(values[:1]), out], 0),
            tf.concat([tf.zeros_like(ok[:1]), both], 0))

  velocity, velocity_ok = diff(x, valid)
  acceleration, _ = diff(velocity, velocity_ok)
  return velocity, acceleration


def rotate_and_scale(xyz, angle_rad, scale) -> tf.Tensor:
  """Joints ``[..., 3]`` rotated about the vertical (y) axis and scaled.

  Training augmentation for small sets (``train_pose.rotation_augment_deg``
  and ``scale_augment``): another viewing direction and body size. The map
  is linear, so body-centring afterwards gives the same tensor as rotating
  about the body's own origin, and absent people (zeros) stay zero.
  """
  xyz = tf.convert_to_tensor(xyz)
  c = tf.cos(tf.cast(angle_rad, xyz.dtype))
  s = tf.sin(tf.cast(angle_rad, xyz.dtype))
  zero, one = tf.zeros_like(c), tf.ones_like(c)
  rotation = tf.stack([tf.stack([c, zero, s]), tf.stack([zero, one, zero]),
                       tf.stack([-s, zero, c])])
  return tf.einsum("...j,ij->...i", xyz,
                   rotation * tf.cast(scale, xyz.dtype))


# ---------------------------------------------------------------------------
# The tensor.


def pose_tensor(xyz, present, skeleton: skeletons.SkeletonDef, frame_indices,
                path) -> tf.Tensor:
  """Pose tensor ``X`` of one sub-sequence (paper, section 3.3), in TF ops.

  The sampled frames are body-centred (:func:`body_centre`) and the
  derivatives are taken between consecutive *sampled* frames, i.e. at the
  time scale the network sees. Arguments are trusted (graph mode, tf.data);
  :func:`build_pose_tensor` checks them for eager callers.

  Args:
    xyz: ``[T, 2, J, 3]`` camera-space joints, zeros where absent.
    present: bool ``[T, 2]``.
    skeleton: Definition of the ``J`` joints.
    frame_indices: int ``[L]`` frames to take.
    path: int ``[P]`` joint order (see :func:`joint_path`).

  Returns:
    float32 ``[L, 2 * P * 3, 3]``: column ``(p * P + i) * 3 + c`` holds
    coordinate ``c`` (x, y, z) of joint ``path[i]`` of person ``p``; channels
    are (coordinates, velocity, acceleration).
  """
  frames = tf.gather(tf.cast(xyz, tf.float32), frame_indices)
  frames_present = tf.gather(tf.cast(present, tf.bool), frame_indices)
  coords = body_centre(frames, frames_present, skeleton)
  velocity, acceleration = temporal_derivatives(coords, frames_present)
  length = tf.shape(frames)[0]
  channels = [tf.reshape(tf.gather(c, path, axis=2), [length, -1])
              for c in (coords, velocity, acceleration)]
  return tf.stack(channels, axis=-1)


def build_pose_tensor(xyz: np.ndarray, present: np.ndarray,
                      skeleton: skeletons.SkeletonDef,
                      frame_indices: Sequence[int] | np.ndarray,
                      path: Sequence[int] | np.ndarray) -> np.ndarray:
  """:func:`pose_tensor` for eager callers, with checked arguments.

  Returns:
    float32 ``[L, 2 * P * 3, 3]``.

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
  if not np.isfinite(frames[present[frame_indices]]).all():
    raise ValueError("non-finite joint coordinates for a present person")
  return pose_tensor(frames, present[frame_indices], skeleton,
                     np.arange(len(frame_indices)), path).numpy()


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
                     order: str = "topological",
                     layout: str = skeleton_layouts.NATIVE) -> np.ndarray:
  """:func:`build_pose_tensor` for a :class:`~posedriven.data.clip.Clip`.

  ``layout`` as in ``pipeline.train_dataset`` (``kinect_v2``: the clip's
  joints adapted to the NTU layout first, :mod:`skeleton_layouts`).

  Returns:
    float32 ``[L, W, 3]``, ``W = pose_tensor_width(skeleton, order)`` of the
    tensor's skeleton.
  """
  frame_indices = _check_indices(clip, frame_indices)
  source = skeletons.get_skeleton(clip.skeleton)
  skeleton = skeleton_layouts.tensor_skeleton(source, layout)
  xyz = clip.xyz
  if skeleton is not source:
    xyz = skeleton_layouts.adapt_joints(
        np.asarray(xyz, np.float32), source).numpy()
  try:
    return build_pose_tensor(xyz, clip.present, skeleton, frame_indices,
                             joint_path(skeleton, order))
  except ValueError as e:
    raise ValueError(f"{clip.name}: {e}") from e
