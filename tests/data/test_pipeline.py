"""Tests for posedriven.data.pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from posedriven.data import clip as clip_lib
from posedriven.data import pipeline
from posedriven.data import pose_tensor
from posedriven.data import protocols
from posedriven.data import skeletons
from posedriven.data import tfrecords
from tests.data import numpy_pose_tensor

NUM_CLIPS = 20
DIM = 3
VAL_FRACTION = 0.3


def _clip(i: int) -> clip_lib.Clip:
  rng = np.random.default_rng(i)
  t = 12 + 3 * i  # 12 (shorter than 20 steps) .. 69 frames
  present = np.ones((t, 2), bool)
  present[:, 1] = i % 2 == 0
  return clip_lib.Clip(
      name=f"S001C001P{i + 1:03d}R001A001", label=i, skeleton="kinect_v2",
      xyz=rng.normal(size=(t, 2, 25, 3)).astype(np.float32) * present[
          :, :, None, None],
      present=present,
      hand_xy_px=rng.uniform(0, 100, (t, 4, 2)).astype(np.float32),
      hand_valid=np.ones((t, 4), bool), image_size=(1920, 1080))


def _features(clip):
  # Feature value = frame index (+ 100 * hand): shows which frames were read.
  t = clip.num_frames
  values = np.arange(t)[:, None, None] + 100 * np.arange(4)[None, :, None]
  return np.broadcast_to(values, (t, 4, DIM)).astype(np.float16)


@pytest.fixture(scope="module")
def clips():
  return [_clip(i) for i in range(NUM_CLIPS)]


@pytest.fixture(scope="module")
def records(tmp_path_factory, clips):
  out = tmp_path_factory.mktemp("records")
  for k in range(2):
    path = out / f"train-{k:05d}-of-00002.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
      for clip in clips[k::2]:
        writer.write(tfrecords.serialize_clip(
            clip, glimpse_features=_features(clip)))
  return str(out / "train-*.tfrecord")


def _frames_read(glimpses):
  """Frame indices ``[..., L]`` encoded in the features of hand 0."""
  return glimpses[..., 0, 0].astype(np.int64)


def _collect(ds):
  labels, poses, frames = [], [], []
  for inputs, label in ds:
    labels.append(label.numpy())
    poses.append(inputs["pose"].numpy())
    frames.append(_frames_read(inputs["glimpses"].numpy()))
  return (np.concatenate(labels), np.concatenate(poses),
          np.concatenate(frames))


def test_train_shapes_and_one_subsequence_per_clip(records, clips):
  ds = pipeline.train_dataset(records, batch_size=4, seed=0, validation=None)
  inputs, label = next(iter(ds))
  assert inputs["pose"].shape == (4, 20, 300, 3)
  assert inputs["pose"].dtype == tf.float32
  assert inputs["glimpses"].shape == (4, 20, 4, DIM)
  assert inputs["glimpses"].dtype == tf.float32
  assert label.dtype == tf.int64
  assert ds.element_spec[0]["pose"].shape.as_list() == [None, 20, 300, 3]

  labels, poses, frames = _collect(ds)
  assert sorted(labels) == list(range(NUM_CLIPS))  # each clip once
  path = pose_tensor.joint_path(skeletons.KINECT_V2)
  for label, pose, indices in zip(labels, poses, frames):
    clip = clips[label]
    t = clip.num_frames
    assert np.all(np.diff(indices) >= 0) and indices.max() < t
    if t >= 20:  # one frame in each of the 20 segments
      segment = np.arange(20)
      assert np.all(indices >= segment * t // 20)
      assert np.all(indices < (segment + 1) * t // 20)
    # The numpy code the pipeline ran before its ops moved into TensorFlow.
    expected = numpy_pose_tensor.build_pose_tensor(
        clip.xyz, clip.present, skeletons.KINECT_V2, indices, path)
    np.testing.assert_array_equal(pose, expected)


def test_seed_makes_stream_reproducible_and_epochs_differ(records):
  def run(seed):
    ds = pipeline.train_dataset(records, batch_size=5, seed=seed,
                                validation=None)
    return _collect(ds), _collect(ds)

  (first_a, second_a), (first_b, _) = run(3), run(3)
  for x, y in zip(first_a, first_b):
    np.testing.assert_array_equal(x, y)
  # A new pass draws new sub-sequences (and a new order).
  order = np.argsort(first_a[0])
  order2 = np.argsort(second_a[0])
  assert not np.array_equal(first_a[2][order], second_a[2][order2])
  (first_c, _) = run(4)
  assert not np.array_equal(first_a[2], first_c[2])


def test_a_rebuilt_training_stream_is_not_traced_again(records):
  # Training builds a new dataset every epoch (its seed is seed + epoch);
  # the sampler is traced once per configuration and still gives each
  # seed its own stream.
  pipeline._train_sampler.cache_clear()
  first = _collect(pipeline.train_dataset(records, batch_size=5, seed=7,
                                          validation=None))
  again = _collect(pipeline.train_dataset(records, batch_size=5, seed=7,
                                          validation=None))
  other = _collect(pipeline.train_dataset(records, batch_size=5, seed=8,
                                          validation=None))
  assert pipeline._train_sampler.cache_info().misses == 1
  info = pipeline.dataset_info(pipeline.list_files(records))
  sample = pipeline._train_sampler(
      info["skeleton"], info["glimpse_dim"], info["crop_size"],
      "topological", pose_tensor.SUBSEQUENCE_LENGTH, "segments", "native",
      "glimpses", 0.0, 0.0)
  assert pipeline._train_sampler.cache_info().misses == 1
  assert sample.experimental_get_tracing_count() == 1
  for x, y in zip(first, again):
    np.testing.assert_array_equal(x, y)
  assert not np.array_equal(first[2], other[2])


def test_augmentation_rotates_and_scales_each_clip_about_its_body(
    records, clips):
  """Each training sub-sequence is the clip's tensor of its own rotated and
  scaled joints: body-centred coordinates and their derivatives are those
  of the unaugmented tensor turned about y and scaled (the map is linear).
  Tolerance: angle and scale are recovered from float32 sums over ~6000
  values (relative error ~1e-6) and applied to values |x| <= ~10, so
  differences stay near 1e-5; 1e-4 leaves a 10x margin."""
  plain = _collect(pipeline.train_dataset(records, batch_size=5, seed=3,
                                          validation=None))
  augmented = _collect(pipeline.train_dataset(
      records, batch_size=5, seed=3, validation=None,
      rotation_augment_deg=30.0, scale_augment=0.2))
  np.testing.assert_array_equal(plain[0], augmented[0])
  np.testing.assert_array_equal(plain[2], augmented[2])  # same frames
  angles = []
  for pose, aug in zip(plain[1], augmented[1]):
    p = pose.reshape(20, -1, 3, 3)  # [L, people*path, xyz, channel]
    a = aug.reshape(20, -1, 3, 3)
    # Solve a = s * R(theta) p in the x-z plane from the largest column.
    scale = np.linalg.norm(a[..., 1, :]) / np.linalg.norm(p[..., 1, :])
    theta = np.arctan2(
        np.sum(p[..., 2, :] * a[..., 0, :] - p[..., 0, :] * a[..., 2, :]),
        np.sum(p[..., 0, :] * a[..., 0, :] + p[..., 2, :] * a[..., 2, :]))
    assert 0.8 - 1e-5 <= scale <= 1.2 + 1e-5
    assert abs(theta) <= np.radians(30) + 1e-5
    expected = pose_tensor.rotate_and_scale(
        np.moveaxis(p, -1, -2), theta, scale).numpy()
    # float32 rotation by a recovered angle (docstring): ~1e-5 on |x| <= 10.
    np.testing.assert_allclose(a, np.moveaxis(expected, -2, -1), atol=1e-4)
    angles.append(theta)
  assert np.ptp(angles) > np.radians(5)  # drawn per clip, not once


def test_validation_clips_are_carved_from_train(records, clips):
  names = [c.name for c in clips]
  held_out = {n for n in names if protocols.is_validation(n, VAL_FRACTION)}
  assert 0 < len(held_out) < NUM_CLIPS

  def labels(validation):
    ds = pipeline.train_dataset(records, batch_size=8, seed=0,
                                validation=validation,
                                validation_fraction=VAL_FRACTION)
    return {names[i] for i in _collect(ds)[0]}

  train, val = labels(False), labels(True)
  assert val == held_out
  assert train == set(names) - held_out
  # The default uses the paper's 5%.
  default = pipeline.train_dataset(records, batch_size=8, seed=0)
  kept = {names[i] for i in _collect(default)[0]}
  assert kept == {n for n in names if not protocols.is_validation(n)}


def test_eval_has_ten_fixed_subsequences_per_clip(records, clips):
  ds = pipeline.eval_dataset(records, batch_size=3, with_names=True)
  rows = 0
  seen = []
  for inputs, labels in ds:
    n = labels.shape[0]
    assert n % 10 == 0 and n <= 30
    assert inputs["pose"].shape[1:] == (20, 300, 3)
    clip_labels = labels.numpy()[::10]
    np.testing.assert_array_equal(np.repeat(clip_labels, 10), labels.numpy())
    frames = _frames_read(inputs["glimpses"].numpy()).reshape(-1, 10, 20)
    for label, indices in zip(clip_labels, frames):
      expected = pose_tensor.evaluation_subsequences(
          clips[label].num_frames, 20, 10)
      np.testing.assert_array_equal(indices, expected)
    names = inputs["name"].numpy().reshape(-1, 10)
    assert all(len(set(row)) == 1 for row in names)
    seen.extend(clip_labels.tolist())
    rows += n
  assert sorted(seen) == list(range(NUM_CLIPS)) and rows == 10 * NUM_CLIPS
  # Deterministic order.
  again = [l.numpy() for _, l in pipeline.eval_dataset(records, batch_size=3)]
  np.testing.assert_array_equal(np.concatenate(again), np.repeat(seen, 10))


def test_average_logits_per_clip():
  logits = np.arange(2 * 10 * 3, dtype=np.float32).reshape(20, 3)
  expected = logits.reshape(2, 10, 3).mean(axis=1)
  np.testing.assert_allclose(pipeline.average_logits_per_clip(logits),
                             expected)
  np.testing.assert_allclose(
      pipeline.average_logits_per_clip(tf.constant(logits)).numpy(), expected)
  with pytest.raises(ValueError, match="multiple of 10"):
    pipeline.average_logits_per_clip(logits[:15])


def test_feature_choice(records, tmp_path):
  ds = pipeline.train_dataset(records, batch_size=2, seed=0, features="none")
  inputs, _ = next(iter(ds))
  assert set(inputs) == {"pose"}
  with pytest.raises(ValueError, match="store='crops'"):
    pipeline.train_dataset(records, features="crops")
  with pytest.raises(FileNotFoundError, match="no TFRecord"):
    pipeline.train_dataset(str(tmp_path / "missing-*.tfrecord"))


def test_crops_records(tmp_path):
  clip = _clip(1)
  crops = np.random.default_rng(0).integers(
      0, 256, (clip.num_frames, 4, 5, 5, 3), dtype=np.uint8)
  path = str(tmp_path / "c.tfrecord")
  with tf.io.TFRecordWriter(path) as writer:
    writer.write(tfrecords.serialize_clip(clip, crops=crops))
  inputs, _ = next(iter(pipeline.train_dataset(path, batch_size=1, seed=0,
                                               features="crops",
                                               validation=None)))
  assert inputs["crops"].shape == (1, 20, 4, 5, 5, 3)
  assert inputs["crops"].dtype == tf.uint8
  inputs, labels = next(iter(pipeline.eval_dataset(path, features="crops",
                                                   num_subsequences=4)))
  assert inputs["crops"].shape == (4, 20, 4, 5, 5, 3)
  indices = pose_tensor.evaluation_subsequences(clip.num_frames, 20, 4)
  np.testing.assert_array_equal(inputs["crops"].numpy(), crops[indices])


def test_num_clips_declares_the_epoch_length_and_is_checked(records):
  # NUM_CLIPS clips in batches of 5: Keras knows the epoch's length and
  # does not warn that the input "ran out of data".
  batches = -(-NUM_CLIPS // 5)
  ds = pipeline.train_dataset(records, batch_size=5, seed=0, validation=None,
                              num_clips=NUM_CLIPS)
  assert int(ds.cardinality()) == batches
  assert sum(1 for _ in ds) == batches
  ev = pipeline.eval_dataset(records, batch_size=5, validation=None,
                             features="none", num_clips=NUM_CLIPS)
  assert int(ev.cardinality()) == batches
  wrong = pipeline.train_dataset(records, batch_size=5, seed=0,
                                 validation=None, num_clips=NUM_CLIPS + 5)
  with pytest.raises(tf.errors.FailedPreconditionError,
                     match="expected to contain"):
    for _ in wrong:
      pass
