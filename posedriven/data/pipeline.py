"""tf.data readers of the prepared clip TFRecords (training and evaluation).

Each element gives the network a sub-sequence of ``L`` (20) frames:

* ``"pose"``: float32 ``[L, W, 3]`` pose tensor
  (:func:`posedriven.data.pose_tensor.pose_tensor`);
* ``"glimpses"``: float32 ``[L, 4, D]`` stored glimpse features, or
  ``"crops"``: uint8 ``[L, 4, S, S, 3]`` stored hand crops (``features=``).

Training (:func:`train_dataset`) samples ONE random sub-sequence per clip per
pass over the data (paper, section 4) with
:func:`pose_tensor.random_subsequence`, seeded per element from
``tf.data.Dataset.random`` so that a ``seed`` makes the stream reproducible
whatever the parallelism, and every new pass draws new sub-sequences.

Evaluation (:func:`eval_dataset`) takes the 10 fixed sub-sequences of
:func:`pose_tensor.evaluation_indices` per clip.

Sampling, centring and derivatives are TensorFlow ops: no ``numpy_function``
holds the GIL, parallel ``map`` calls run in parallel and the pipelines can
be served by ``tf.data`` service. Layout: a batch holds
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

import functools
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from posedriven.data import pose_tensor
from posedriven.data import protocols
from posedriven.data import skeleton_layouts
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
      protocols.validation_mask(clip[tfrecords.NAME], fraction, seed), keep))


class _Sampler:
  """Sub-sequence frames and pose tensors of one dataset, in TF ops."""

  def __init__(self, skeleton: str, joint_order: str, num_steps: int,
               mode: str, layout: str = skeleton_layouts.NATIVE):
    self.source = skeletons.get_skeleton(skeleton)
    # SBU / MSR on the NTU layout: joints adapted before the tensor is built.
    self.skeleton = skeleton_layouts.tensor_skeleton(self.source, layout)
    self.path = tf.constant(pose_tensor.joint_path(self.skeleton, joint_order))
    self.width = pose_tensor.pose_tensor_width(self.skeleton, joint_order)
    self.num_steps = num_steps
    self.mode = mode

  def train_indices(self, num_frames, element_seed) -> tf.Tensor:
    seed = tf.stack([element_seed, tf.zeros_like(element_seed)])
    return pose_tensor.random_subsequence(num_frames, seed, self.num_steps,
                                          self.mode)

  def eval_indices(self, num_frames, num_subsequences: int) -> tf.Tensor:
    return pose_tensor.evaluation_indices(num_frames, self.num_steps,
                                          num_subsequences, self.mode)

  def augmentation(self, element_seed, max_rotation_deg: float,
                   max_scale: float) -> tuple[tf.Tensor, tf.Tensor]:
    """A clip's random rotation (radians) and scale, from its own seed."""
    u = tf.random.stateless_uniform(
        [2], tf.stack([element_seed, tf.ones_like(element_seed)]),
        minval=-1.0, maxval=1.0)
    return (u[0] * max_rotation_deg * (3.141592653589793 / 180.0),
            1.0 + u[1] * max_scale)

  def pose(self, clip, indices, require_label: bool = True,
           rotation_scale: tuple[tf.Tensor, tf.Tensor] | None = None
           ) -> tf.Tensor:
    """float32 ``[L, W, 3]`` of one record, checked; errors name the clip.

    An error raised inside tf.data surfaces far from the record it is
    about; a record that preparation could not have written (a negative
    label for training, non-finite joints of a present person) is named
    here instead of failing as a loss. Evaluation (``require_label=False``)
    accepts unknown labels.
    """
    xyz = tf.gather(clip[tfrecords.XYZ], indices)
    present = tf.gather(clip[tfrecords.PRESENT], indices)
    name = clip[tfrecords.NAME]
    finite = tf.reduce_all(tf.math.is_finite(tf.boolean_mask(xyz, present)))
    checks = [tf.debugging.Assert(finite, [tf.strings.join(
        ["clip ", name, ": non-finite joint coordinates of a present"
         " person"])])]
    if require_label:
      label = clip[tfrecords.LABEL]
      checks.append(tf.debugging.Assert(label >= 0, [tf.strings.join(
          ["clip ", name, ": label ", tf.strings.as_string(label),
           " is negative"])]))
    if rotation_scale is not None:
      xyz = pose_tensor.rotate_and_scale(xyz, *rotation_scale)
    if self.skeleton is not self.source:
      xyz = skeleton_layouts.adapt_joints(xyz, self.source)
    with tf.control_dependencies(checks):
      return pose_tensor.pose_tensor(
          xyz, present, self.skeleton, tf.range(tf.size(indices)), self.path)


@functools.lru_cache(maxsize=None)
def _parser(features: str):
  """Parses only what the pipelines read (``features`` adds its array).

  One ``tf.function`` per ``features`` for the process: training builds a
  new dataset every epoch, and tracing the map functions again each time
  cost about as much as a small network's epoch (BUILD_NOTES, "Real data").
  """
  keys = [tfrecords.NAME, tfrecords.LABEL, tfrecords.NUM_FRAMES,
          tfrecords.XYZ, tfrecords.PRESENT]
  keys += {"glimpses": [tfrecords.GLIMPSE_FEATURES],
           "crops": [tfrecords.CROPS]}.get(features, [])
  return tf.function(lambda serialized: tfrecords.parse_clip(serialized,
                                                             keys))

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


def _with_cardinality(ds: tf.data.Dataset, num_clips: int | None,
                      batch_size: int, drop_remainder: bool
                      ) -> tf.data.Dataset:
  if num_clips is None:
    return ds
  batches = (num_clips // batch_size if drop_remainder
             else -(-num_clips // batch_size))
  # Checked while iterating: a wrong count fails loudly, never truncates.
  return ds.apply(tf.data.experimental.assert_cardinality(batches))


@functools.lru_cache(maxsize=None)
def _train_sampler(skeleton: str, glimpse_dim: int, crop_size: int,
                   joint_order: str, num_steps: int, subsequence_mode: str,
                   skeleton_layout: str, features: str,
                   rotation_augment_deg: float, scale_augment: float):
  """``(clip, element_seed) -> (inputs, label)``, traced once per process.

  Cached for the same reason as :func:`_parser`; every argument that shapes
  the graph is part of the key.
  """
  sampler = _Sampler(skeleton, joint_order, num_steps, subsequence_mode,
                     skeleton_layout)
  info = {"glimpse_dim": glimpse_dim, "crop_size": crop_size}

  @tf.function
  def sample(clip, element_seed):
    indices = tf.ensure_shape(
        sampler.train_indices(clip[tfrecords.NUM_FRAMES], element_seed),
        [num_steps])
    augment = (sampler.augmentation(element_seed, rotation_augment_deg,
                                    scale_augment)
               if rotation_augment_deg or scale_augment else None)
    pose = sampler.pose(clip, indices, rotation_scale=augment)
    inputs = _gather_inputs(clip, pose, indices, features)
    return _static_shapes(inputs, [], sampler, info), clip[tfrecords.LABEL]

  return sample


def train_dataset(file_pattern: str | Sequence[str], *,
                  batch_size: int = 64,
                  num_steps: int = pose_tensor.SUBSEQUENCE_LENGTH,
                  joint_order: str = "topological",
                  skeleton_layout: str = skeleton_layouts.NATIVE,
                  shuffle_buffer: int = 2048,
                  seed: int | None = None,
                  validation: bool | None = False,
                  validation_fraction: float = VALIDATION_FRACTION,
                  features: str = "glimpses",
                  subsequence_mode: str = "segments",
                  drop_remainder: bool = False,
                  cycle_length: int = 8,
                  data_service: str | None = None,
                  num_clips: int | None = None,
                  rotation_augment_deg: float = 0.0,
                  scale_augment: float = 0.0) -> tf.data.Dataset:
  """Training stream: one random sub-sequence per clip per pass.

  Args:
    file_pattern: Glob(s) of TFRecord files, e.g. ``out/train-*.tfrecord``.
    batch_size: Sub-sequences (= clips) per batch.
    num_steps: ``L``, frames per sub-sequence.
    joint_order: Pose tensor joint path (``pose_tensor.JOINT_ORDERS``).
    skeleton_layout: ``native`` or ``kinect_v2`` (SBU / MSR joints placed
      on the NTU layout, ``skeleton_layouts``).
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
    data_service: Address of a ``tf.data`` service dispatcher
      (``grpc://host:port``): its workers read, sample and batch, and this
      process only receives the batches (for trainers whose own CPUs cannot
      keep up).
    num_clips: Clips the stream holds after the validation filter (the
      manifest knows). Declares the epoch's length: Keras cannot infer it
      from a dataset rebuilt each epoch and would warn that the input ran
      out of data at the end of every epoch.
    rotation_augment_deg: Each sub-sequence's joints are rotated about the
      vertical axis by an angle drawn from ``[-r, r]`` degrees (0: none).
    scale_augment: ... and scaled by a factor from ``[1 - s, 1 + s]``.

  Returns:
    Dataset of ``(inputs, label)``: ``inputs["pose"]`` float32
    ``[B, L, W, 3]``, ``inputs["glimpses"]`` float32 ``[B, L, 4, D]`` (or
    ``inputs["crops"]`` uint8 ``[B, L, 4, S, S, 3]``), label int64 ``[B]``.
  """
  files = list_files(file_pattern)
  info = dataset_info(files)
  _check_features(features, info, files)
  deterministic = seed is not None
  ds = _records(files, shuffle_files=True, seed=seed,
                cycle_length=cycle_length, deterministic=deterministic)
  ds = ds.map(_parser(features), num_parallel_calls=tf.data.AUTOTUNE,
              deterministic=deterministic)
  ds = _filter_validation(ds, validation, validation_fraction, 0)
  ds = tf.data.Dataset.zip(
      ds, tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True))
  sample = _train_sampler(
      info["skeleton"], info["glimpse_dim"], info["crop_size"], joint_order,
      num_steps, subsequence_mode, skeleton_layout, features,
      float(rotation_augment_deg), float(scale_augment))
  ds = ds.map(sample, num_parallel_calls=tf.data.AUTOTUNE,
              deterministic=deterministic)
  ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
  ds = ds.batch(batch_size, drop_remainder=drop_remainder)
  ds = _with_cardinality(ds, num_clips, batch_size, drop_remainder)
  if data_service:
    # Every worker produces the whole (seeded) stream: a job per trainer,
    # no sharding, so a seed still fixes what the trainer sees.
    ds = ds.apply(tf.data.experimental.service.distribute(
        processing_mode=tf.data.experimental.service.ShardingPolicy.OFF,
        service=data_service))
  return ds.prefetch(tf.data.AUTOTUNE)


def eval_dataset(file_pattern: str | Sequence[str], *,
                 batch_size: int = 8,
                 num_subsequences: int = pose_tensor.NUM_EVAL_SUBSEQUENCES,
                 num_steps: int = pose_tensor.SUBSEQUENCE_LENGTH,
                 joint_order: str = "topological",
                 skeleton_layout: str = skeleton_layouts.NATIVE,
                 validation: bool | None = None,
                 validation_fraction: float = VALIDATION_FRACTION,
                 features: str = "glimpses",
                 subsequence_mode: str = "segments",
                 with_names: bool = False,
                 cycle_length: int = 8,
                 num_clips: int | None = None) -> tf.data.Dataset:
  """Evaluation stream: the ``K`` fixed sub-sequences of every clip, in order.

  Args:
    file_pattern: Glob(s) of TFRecord files, e.g. ``out/test-*.tfrecord``.
    batch_size: Clips per batch (``B``); a batch has ``B * K`` rows.
    num_subsequences: ``K`` (paper: 10).
    num_steps: ``L``.
    joint_order: Pose tensor joint path.
    skeleton_layout: As in :func:`train_dataset`.
    validation: None: all clips; True: only the held-out validation clips
      (for validating on the train files); False: all but those.
    validation_fraction: Held-out share.
    features: ``glimpses``, ``crops`` or ``none``.
    subsequence_mode: ``segments`` or ``consecutive``.
    with_names: Add ``inputs["name"]`` string ``[B * K]`` (pop it before
      calling a model).
    cycle_length: Files read in parallel (the order stays deterministic).
    num_clips: Clips after the validation filter, as in
      :func:`train_dataset`.

  Returns:
    Dataset of ``(inputs, labels)`` with inputs ``[B * K, L, ...]`` as in
    :func:`train_dataset` and labels int64 ``[B * K]``; rows of one clip are
    consecutive (see the module docstring).
  """
  files = list_files(file_pattern)
  info = dataset_info(files)
  _check_features(features, info, files)
  sampler = _Sampler(info["skeleton"], joint_order, num_steps,
                     subsequence_mode, skeleton_layout)
  k = num_subsequences

  def sample(clip):
    indices = tf.ensure_shape(
        sampler.eval_indices(clip[tfrecords.NUM_FRAMES], k), [k, num_steps])
    poses = tf.map_fn(
        lambda i: sampler.pose(clip, i, require_label=False), indices,
        fn_output_signature=tf.float32)
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
  ds = ds.map(_parser(features), num_parallel_calls=tf.data.AUTOTUNE)
  ds = _filter_validation(ds, validation, validation_fraction, 0)
  ds = ds.map(sample, num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.batch(batch_size).map(flatten)
  ds = _with_cardinality(ds, num_clips, batch_size, False)
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
