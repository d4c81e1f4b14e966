"""tf.data readers of the prepared clip TFRecords (training and evaluation).

Each element gives the network a sub-sequence of ``L`` (20) frames:

* ``"pose"``: float32 ``[L, W, 3]`` pose tensor
  (:func:`posedriven.data.pose_tensor.build_pose_tensor`);
* ``"glimpses"``: float32 ``[L, 4, D]`` stored glimpse features, or
  ``"crops"``: uint8 ``[L, 4, S, S, 3]`` stored hand crops (``features=``).

Training (:func:`train_dataset`) samples ONE random sub-sequence per clip per
pass over the data (paper, section 4) with
:func:`pose_tensor.sample_subsequence`, seeded per element from
``tf.data.Dataset.random`` so that a ``seed`` makes the stream reproducible
whatever the parallelism, and every new pass draws new sub-sequences.

Evaluation (:func:`eval_dataset`) takes the 10 fixed sub-sequences of
:func:`pose_tensor.evaluation_subsequences` per clip. Layout: a batch holds
``batch_size`` clips *flattened*: inputs are ``[B * K, L, ...]`` where rows
``k * K .. k * K + K - 1`` are the ``K`` sub-sequences of clip ``k``, and the
labels are repeated per row ``[B * K]``. The model runs on the batch as is;
:func:`average_logits_per_clip` turns its ``[B * K, C]`` logits into
``[B, C]``; the clip labels ``[B]`` are ``labels[::K]``.

Validation: the paper holds out 5% of the training set. Preparation writes
only train / test files; the held-out clips are chosen by a stable hash of
the clip name (``protocols.is_validation``), so ``validation=False`` drops
them from the train files, ``validation=True`` keeps only them and
``validation=None`` keeps every clip.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from posedriven.data import pose_tensor
from posedriven.data import protocols
from posedriven.data import skeletons
from posedriven.data import tfrecords

FEATURES = ("glimpses", "crops", "none")
VALIDATION_FRACTION = 0.05


def list_files(file_pattern: str | Sequence[str]) -> list[str]:
  """Sorted files matching a glob pattern (or several).

  Raises:
    FileNotFoundError: nothing matches.
  """
  patterns = [file_pattern] if isinstance(file_pattern, str) else list(
      file_pattern)
  files = sorted({f for p in patterns for f in tf.io.gfile.glob(str(p))})
  if not files:
    raise FileNotFoundError(f"no TFRecord file matches {file_pattern}")
  return files


def dataset_info(files: Sequence[str]) -> dict[str, Any]:
  """Skeleton, glimpse dim and crop size, read from the first record.

  Raises:
    ValueError: every file is empty.
  """
  for path in files:
    for record in tf.data.TFRecordDataset(path).take(1):
      parsed = tfrecords.parse_clip(record)
      return {
          "skeleton": parsed[tfrecords.SKELETON].numpy().decode("utf-8"),
          "glimpse_dim": int(parsed[tfrecords.GLIMPSE_DIM]),
          "crop_size": int(parsed[tfrecords.CROP_SIZE]),
          "store": parsed[tfrecords.STORE].numpy().decode("ascii"),
      }
  raise ValueError(f"all {len(files)} TFRecord files are empty: {files[:3]}")


def _check_features(features: str, info: dict[str, Any], files) -> None:
  if features not in FEATURES:
    raise ValueError(f"features must be one of {FEATURES}, got {features!r}")
  needed = {"glimpses": tfrecords.STORE_FEATURES,
            "crops": tfrecords.STORE_CROPS}.get(features)
  if needed is not None and info["store"] != needed:
    raise ValueError(
        f"features={features!r} needs records prepared with store={needed!r};"
        f" {files[0]} holds store={info['store']!r}")


def _is_validation(name: tf.Tensor, fraction: float, seed: int) -> tf.Tensor:
  flag = tf.numpy_function(
      lambda n: np.bool_(protocols.is_validation(n.decode("utf-8"), fraction,
                                                 seed)),
      [name], tf.bool, stateful=False)
  return tf.ensure_shape(flag, [])


def _records(files: list[str], *, shuffle_files: bool, seed: int | None,
             cycle_length: int, deterministic: bool) -> tf.data.Dataset:
  ds = tf.data.Dataset.from_tensor_slices(files)
  if shuffle_files:
    ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
  return ds.interleave(
      tf.data.TFRecordDataset, cycle_length=max(1, min(cycle_length,
                                                       len(files))),
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)


def _filter_validation(ds: tf.data.Dataset, validation: bool | None,
                       fraction: float, seed: int) -> tf.data.Dataset:
  if validation is None:
    return ds
  keep = bool(validation)
  return ds.filter(lambda clip: tf.equal(
      _is_validation(clip[tfrecords.NAME], fraction, seed), keep))


class _Sampler:
  """Pose tensors and stored glimpses at given frames (numpy side)."""

  def __init__(self, skeleton: str, joint_order: str, num_steps: int,
               mode: str):
    self.skeleton = skeletons.get_skeleton(skeleton)
    self.path = pose_tensor.joint_path(self.skeleton, joint_order)
    self.width = pose_tensor.pose_tensor_width(self.skeleton, joint_order)
    self.num_steps = num_steps
    self.mode = mode

  def train_indices(self, num_frames, element_seed) -> np.ndarray:
    rng = np.random.default_rng(int(element_seed) & 0xFFFFFFFFFFFFFFFF)
    return pose_tensor.sample_subsequence(int(num_frames), self.num_steps,
                                          rng=rng, mode=self.mode)

  def pose(self, xyz, present, indices) -> np.ndarray:
    return pose_tensor.build_pose_tensor(xyz, present, self.skeleton, indices,
                                         self.path)

  def clip_pose(self, name, label, xyz, present, indices,
                require_label: bool = True) -> np.ndarray:
    """:meth:`pose` of one record, checked; errors name the clip.

    An error raised inside tf.data surfaces far from the record it is
    about; a record that preparation could not have written (a negative
    label for training, non-finite joints) is named here instead of failing
    as a loss. Evaluation (``require_label=False``) accepts unknown labels.
    """
    clip = name.decode() if isinstance(name, bytes) else str(name)
    try:
      if require_label and int(label) < 0:
        raise ValueError(f"label {int(label)} is negative")
      pose = self.pose(xyz, present, indices)
      if not np.all(np.isfinite(pose)):
        raise ValueError("the pose tensor holds NaN or inf")
    except Exception as e:  # pylint: disable=broad-except
      raise ValueError(f"clip {clip}: {type(e).__name__}: {e}") from e
    return pose


def _gather_inputs(clip: dict[str, tf.Tensor], pose: tf.Tensor,
                   indices: tf.Tensor, features: str) -> dict[str, tf.Tensor]:
  inputs = {"pose": pose}
  if features == "glimpses":
    inputs["glimpses"] = tf.cast(
        tf.gather(clip[tfrecords.GLIMPSE_FEATURES], indices), tf.float32)
  elif features == "crops":
    inputs["crops"] = tf.gather(clip[tfrecords.CROPS], indices)
  return inputs


def _static_shapes(inputs: dict[str, tf.Tensor], lead: list[int | None],
                   sampler: _Sampler, info: dict[str, Any]
                   ) -> dict[str, tf.Tensor]:
  hands = skeletons.NUM_HANDS
  shapes = {
      "pose": [sampler.num_steps, sampler.width, pose_tensor.NUM_CHANNELS],
      "glimpses": [sampler.num_steps, hands, info["glimpse_dim"]],
      "crops": [sampler.num_steps, hands, info["crop_size"], info["crop_size"],
                3],
  }
  return {k: tf.ensure_shape(v, lead + shapes[k]) for k, v in inputs.items()}


def train_dataset(file_pattern: str | Sequence[str], *,
                  batch_size: int = 64,
                  num_steps: int = pose_tensor.SUBSEQUENCE_LENGTH,
                  joint_order: str = "topological",
                  shuffle_buffer: int = 2048,
                  seed: int | None = None,
                  validation: bool | None = False,
                  validation_fraction: float = VALIDATION_FRACTION,
                  features: str = "glimpses",
                  subsequence_mode: str = "segments",
                  drop_remainder: bool = False,
                  cycle_length: int = 8) -> tf.data.Dataset:
  """Training stream: one random sub-sequence per clip per pass.

  Args:
    file_pattern: Glob(s) of TFRecord files, e.g. ``out/train-*.tfrecord``.
    batch_size: Sub-sequences (= clips) per batch.
    num_steps: ``L``, frames per sub-sequence.
    joint_order: Pose tensor joint path (``pose_tensor.JOINT_ORDERS``).
    shuffle_buffer: Sub-sequences in the shuffle buffer (they are small:
      the whole clip is never buffered).
    seed: Makes file order, sub-sequences and shuffling reproducible.
    validation: False: drop the held-out validation clips; True: only them;
      None: all clips.
    validation_fraction: Held-out share (paper: 5%).
    features: ``glimpses``, ``crops`` or ``none`` (pose only).
    subsequence_mode: ``segments`` or ``consecutive``.
    drop_remainder: Drop a last partial batch.
    cycle_length: Files read in parallel (interleaved).

  Returns:
    Dataset of ``(inputs, label)``: ``inputs["pose"]`` float32
    ``[B, L, W, 3]``, ``inputs["glimpses"]`` float32 ``[B, L, 4, D]`` (or
    ``inputs["crops"]`` uint8 ``[B, L, 4, S, S, 3]``), label int64 ``[B]``.
  """
  files = list_files(file_pattern)
  info = dataset_info(files)
  _check_features(features, info, files)
  sampler = _Sampler(info["skeleton"], joint_order, num_steps,
                     subsequence_mode)
  deterministic = seed is not None
  ds = _records(files, shuffle_files=True, seed=seed,
                cycle_length=cycle_length, deterministic=deterministic)
  ds = ds.map(tfrecords.parse_clip, num_parallel_calls=tf.data.AUTOTUNE,
              deterministic=deterministic)
  ds = _filter_validation(ds, validation, validation_fraction, 0)
  ds = tf.data.Dataset.zip(
      ds, tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True))

  def sample(clip, element_seed):
    indices = tf.numpy_function(
        sampler.train_indices, [clip[tfrecords.NUM_FRAMES], element_seed],
        tf.int64, stateful=False)
    pose = tf.numpy_function(
        sampler.clip_pose,
        [clip[tfrecords.NAME], clip[tfrecords.LABEL], clip[tfrecords.XYZ],
         clip[tfrecords.PRESENT], indices], tf.float32, stateful=False)
    indices = tf.ensure_shape(indices, [num_steps])
    inputs = _gather_inputs(clip, pose, indices, features)
    return _static_shapes(inputs, [], sampler, info), clip[tfrecords.LABEL]

  ds = ds.map(sample, num_parallel_calls=tf.data.AUTOTUNE,
              deterministic=deterministic)
  ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
  ds = ds.batch(batch_size, drop_remainder=drop_remainder)
  return ds.prefetch(tf.data.AUTOTUNE)


def eval_dataset(file_pattern: str | Sequence[str], *,
                 batch_size: int = 8,
                 num_subsequences: int = pose_tensor.NUM_EVAL_SUBSEQUENCES,
                 num_steps: int = pose_tensor.SUBSEQUENCE_LENGTH,
                 joint_order: str = "topological",
                 validation: bool | None = None,
                 validation_fraction: float = VALIDATION_FRACTION,
                 features: str = "glimpses",
                 subsequence_mode: str = "segments",
                 with_names: bool = False,
                 cycle_length: int = 8) -> tf.data.Dataset:
  """Evaluation stream: the ``K`` fixed sub-sequences of every clip, in order.

  Args:
    file_pattern: Glob(s) of TFRecord files, e.g. ``out/test-*.tfrecord``.
    batch_size: Clips per batch (``B``); a batch has ``B * K`` rows.
    num_subsequences: ``K`` (paper: 10).
    num_steps: ``L``.
    joint_order: Pose tensor joint path.
    validation: None: all clips; True: only the held-out validation clips
      (for validating on the train files); False: all but those.
    validation_fraction: Held-out share.
    features: ``glimpses``, ``crops`` or ``none``.
    subsequence_mode: ``segments`` or ``consecutive``.
    with_names: Add ``inputs["name"]`` string ``[B * K]`` (pop it before
      calling a model).
    cycle_length: Files read in parallel (the order stays deterministic).

  Returns:
    Dataset of ``(inputs, labels)`` with inputs ``[B * K, L, ...]`` as in
    :func:`train_dataset` and labels int64 ``[B * K]``; rows of one clip are
    consecutive (see the module docstring).
  """
  files = list_files(file_pattern)
  info = dataset_info(files)
  _check_features(features, info, files)
  sampler = _Sampler(info["skeleton"], joint_order, num_steps,
                     subsequence_mode)
  k = num_subsequences

  def indices_and_poses(name, label, num_frames, xyz, present):
    indices = pose_tensor.evaluation_subsequences(
        int(num_frames), num_steps, k, mode=subsequence_mode)
    poses = np.stack([sampler.clip_pose(name, label, xyz, present, i,
                                        require_label=False)
                      for i in indices])
    return indices, poses

  def sample(clip):
    indices, poses = tf.numpy_function(
        indices_and_poses,
        [clip[tfrecords.NAME], clip[tfrecords.LABEL],
         clip[tfrecords.NUM_FRAMES], clip[tfrecords.XYZ],
         clip[tfrecords.PRESENT]], [tf.int64, tf.float32], stateful=False)
    indices = tf.ensure_shape(indices, [k, num_steps])
    inputs = _gather_inputs(clip, poses, indices, features)
    inputs = _static_shapes(inputs, [k], sampler, info)
    if with_names:
      inputs["name"] = tf.repeat(clip[tfrecords.NAME], k)
    return inputs, tf.repeat(clip[tfrecords.LABEL], k)

  def flatten(inputs, labels):
    inputs = {key: tf.reshape(v, tf.concat([[-1], tf.shape(v)[2:]], 0))
              for key, v in inputs.items()}
    return inputs, tf.reshape(labels, [-1])

  ds = _records(files, shuffle_files=False, seed=None,
                cycle_length=cycle_length, deterministic=True)
  ds = ds.map(tfrecords.parse_clip, num_parallel_calls=tf.data.AUTOTUNE)
  ds = _filter_validation(ds, validation, validation_fraction, 0)
  ds = ds.map(sample, num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.batch(batch_size).map(flatten)
  return ds.prefetch(tf.data.AUTOTUNE)


def average_logits_per_clip(logits, num_subsequences: int =
                            pose_tensor.NUM_EVAL_SUBSEQUENCES):
  """``[N * K, C]`` logits of :func:`eval_dataset` rows -> ``[N, C]`` means.

  Works on numpy arrays (returns numpy) and tensors (returns a tensor).
  """
  if isinstance(logits, np.ndarray):
    if logits.shape[0] % num_subsequences:
      raise ValueError(
          f"{logits.shape[0]} rows is not a multiple of {num_subsequences}"
          " sub-sequences per clip")
    return logits.reshape(-1, num_subsequences,
                          *logits.shape[1:]).mean(axis=1)
  logits = tf.convert_to_tensor(logits)
  shape = tf.concat([[-1, num_subsequences], tf.shape(logits)[1:]], 0)
  return tf.reduce_mean(tf.reshape(logits, shape), axis=1)
