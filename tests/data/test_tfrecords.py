"""Tests for posedriven.data.tfrecords."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from posedriven.data import clip as clip_lib
from posedriven.data import tfrecords
from tests import helpers


def _clip(t=7, name="S001C002P003R001A004", seed=0):
  rng = np.random.default_rng(seed)
  return clip_lib.Clip(
      name=name, label=3, skeleton="kinect_v2",
      xyz=rng.normal(size=(t, 2, 25, 3)).astype(np.float32),
      present=rng.random((t, 2)) > 0.3,
      hand_xy_px=rng.uniform(0, 1920, (t, 4, 2)).astype(np.float32),
      hand_valid=rng.random((t, 4)) > 0.2,
      image_size=(1920, 1080),
      metadata={"subject": 3, "camera": 2, "frame_index": (4, 5, 6)})


def _assert_clip_equal(parsed, clip):
  np.testing.assert_array_equal(parsed["xyz"].numpy(), clip.xyz)
  np.testing.assert_array_equal(parsed["present"].numpy(), clip.present)
  np.testing.assert_array_equal(parsed["hand_xy_px"].numpy(), clip.hand_xy_px)
  np.testing.assert_array_equal(parsed["hand_valid"].numpy(), clip.hand_valid)
  assert parsed["name"].numpy() == clip.name.encode()
  assert int(parsed["label"]) == clip.label
  assert parsed["skeleton"].numpy() == b"kinect_v2"
  assert int(parsed["num_frames"]) == clip.num_frames
  assert parsed["image_size"].numpy().tolist() == [1920, 1080]


def test_round_trip_with_glimpse_features():
  clip = _clip()
  features = np.random.default_rng(1).normal(size=(7, 4, 16)).astype(
      np.float16)
  data = tfrecords.serialize_clip(clip, glimpse_features=features,
                                  crop_size_px=50, skeleton_frames=9,
                                  video_frames=7)
  parsed = tfrecords.parse_clip(data)
  _assert_clip_equal(parsed, clip)
  assert parsed["glimpse_features"].dtype == tf.float16
  np.testing.assert_array_equal(parsed["glimpse_features"].numpy(), features)
  assert parsed["store"].numpy() == b"features"
  assert parsed["crops"].shape == (7, 4, 0, 0, 3)
  assert float(parsed["crop_size_px"]) == 50.0
  assert int(parsed["skeleton_frames"]) == 9
  assert int(parsed["video_frames"]) == 7
  assert json.loads(parsed["metadata"].numpy()) == {
      "subject": 3, "camera": 2, "frame_index": [4, 5, 6]}


def test_round_trip_with_crops_and_clip_conversion():
  clip = _clip(t=3)
  crops = np.random.default_rng(2).integers(0, 256, (3, 4, 6, 6, 3),
                                            dtype=np.uint8)
  parsed = tfrecords.parse_clip(tfrecords.serialize_clip(clip, crops=crops))
  np.testing.assert_array_equal(parsed["crops"].numpy(), crops)
  assert parsed["store"].numpy() == b"crops"
  assert parsed["glimpse_features"].shape == (3, 4, 0)
  again = tfrecords.to_clip(parsed)
  assert again.name == clip.name and again.image_size == (1920, 1080)
  np.testing.assert_array_equal(again.xyz, clip.xyz)
  np.testing.assert_array_equal(again.hand_valid, clip.hand_valid)


def test_pose_only_and_inside_tf_data():
  clips = [_clip(t=t, name=f"S001C001P001R001A00{t}", seed=t) for t in (2, 5)]
  records = [tfrecords.serialize_clip(c) for c in clips]
  ds = tf.data.Dataset.from_tensor_slices(records).map(tfrecords.parse_clip)
  for parsed, clip in zip(ds, clips):
    _assert_clip_equal(parsed, clip)
    assert parsed["store"].numpy() == b"none"


def test_file_round_trip(tmp_path):
  clip = _clip()
  path = str(tmp_path / "a.tfrecord")
  with tf.io.TFRecordWriter(path) as writer:
    writer.write(tfrecords.serialize_clip(clip))
  (record,) = helpers.read_records(path)
  np.testing.assert_array_equal(record["xyz"], clip.xyz)


def test_bad_inputs_name_the_clip():
  clip = _clip(t=4)
  with pytest.raises(ValueError, match="S001C002P003R001A004.*not both"):
    tfrecords.serialize_clip(clip, glimpse_features=np.zeros((4, 4, 2)),
                             crops=np.zeros((4, 4, 2, 2, 3), np.uint8))
  with pytest.raises(ValueError, match="S001C002P003R001A004.*T=4"):
    tfrecords.serialize_clip(clip, glimpse_features=np.zeros((5, 4, 2)))
  with pytest.raises(ValueError, match="uint8"):
    tfrecords.serialize_clip(clip, crops=np.zeros((4, 4, 2, 2, 3)))


def test_parsing_a_subset_of_keys_gives_the_same_arrays():
  clip = _clip(t=9)
  features = np.random.default_rng(3).normal(size=(9, 4, 5)).astype(np.float16)
  data = tfrecords.serialize_clip(clip, glimpse_features=features)
  full = tfrecords.parse_clip(data)
  keys = [tfrecords.NAME, tfrecords.XYZ, tfrecords.GLIMPSE_FEATURES]
  subset = tfrecords.parse_clip(data, keys)
  assert list(subset) == keys
  for key in keys:
    np.testing.assert_array_equal(subset[key].numpy(), full[key].numpy())
  inside = next(iter(tf.data.Dataset.from_tensors(data).map(
      lambda s: tfrecords.parse_clip(s, [tfrecords.PRESENT]))))
  np.testing.assert_array_equal(inside[tfrecords.PRESENT], clip.present)
