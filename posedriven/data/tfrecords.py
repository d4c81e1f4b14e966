"""The clip TFRecord format: one feature spec for the writer and the readers.

One ``tf.train.Example`` per clip holds everything that training, evaluation
and analysis need, for *every* frame of the (video-aligned) skeleton, so that
sub-sequences are sampled at read time:

===================  =======  ==================================================
key                  type     content
===================  =======  ==================================================
name                 bytes    clip name, e.g. ``S001C001P001R001A001``
label                int64    0-based class (-1 unknown)
skeleton             bytes    key into ``skeletons.SKELETONS``
num_frames           int64    ``T``, frames stored (skeleton aligned to video)
num_joints           int64    ``J``
image_size           int64    ``[2]`` (width, height) the pixels refer to
xyz                  bytes    float32 ``[T, 2, J, 3]`` camera-space joints (m)
present              bytes    uint8 ``[T, 2]``
hand_xy_px           bytes    float32 ``[T, 4, 2]`` hand pixels
hand_valid           bytes    uint8 ``[T, 4]``
store                bytes    ``features``, ``crops`` or ``none``
glimpse_dim          int64    ``D`` (0 unless store is ``features``)
glimpse_features     bytes    float16 ``[T, 4, D]`` glimpse sensor outputs
crop_size            int64    ``S`` (0 unless store is ``crops``)
crops                bytes    uint8 ``[T, 4, S, S, 3]`` RGB hand crops
crop_size_px         float    crop side in source pixels (e.g. 50 for NTU)
skeleton_frames      int64    frames in the skeleton file
video_frames         int64    frames decoded from the video (-1: no video)
metadata             bytes    JSON of ``Clip.metadata`` (protocol keys)
===================  =======  ==================================================

Arrays are raw little-endian bytes (``tf.io.decode_raw``): exact round trips
and fast parsing. Features are float16 to halve the disk size (2048-d per
hand per frame); the readers cast them to float32.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import numpy as np
import tensorflow as tf

from posedriven.data import clip as clip_lib
from posedriven.data import skeletons

NAME = "name"
LABEL = "label"
SKELETON = "skeleton"
NUM_FRAMES = "num_frames"
NUM_JOINTS = "num_joints"
IMAGE_SIZE = "image_size"
XYZ = "xyz"
PRESENT = "present"
HAND_XY_PX = "hand_xy_px"
HAND_VALID = "hand_valid"
STORE = "store"
GLIMPSE_DIM = "glimpse_dim"
GLIMPSE_FEATURES = "glimpse_features"
CROP_SIZE = "crop_size"
CROPS = "crops"
CROP_SIZE_PX = "crop_size_px"
SKELETON_FRAMES = "skeleton_frames"
VIDEO_FRAMES = "video_frames"
METADATA = "metadata"

STORE_FEATURES = "features"
STORE_CROPS = "crops"
STORE_NONE = "none"
STORES = (STORE_FEATURES, STORE_CROPS, STORE_NONE)

FEATURE_SPEC: Mapping[str, tf.io.FixedLenFeature] = {
    NAME: tf.io.FixedLenFeature([], tf.string),
    LABEL: tf.io.FixedLenFeature([], tf.int64),
    SKELETON: tf.io.FixedLenFeature([], tf.string),
    NUM_FRAMES: tf.io.FixedLenFeature([], tf.int64),
    NUM_JOINTS: tf.io.FixedLenFeature([], tf.int64),
    IMAGE_SIZE: tf.io.FixedLenFeature([2], tf.int64),
    XYZ: tf.io.FixedLenFeature([], tf.string),
    PRESENT: tf.io.FixedLenFeature([], tf.string),
    HAND_XY_PX: tf.io.FixedLenFeature([], tf.string),
    HAND_VALID: tf.io.FixedLenFeature([], tf.string),
    STORE: tf.io.FixedLenFeature([], tf.string),
    GLIMPSE_DIM: tf.io.FixedLenFeature([], tf.int64),
    GLIMPSE_FEATURES: tf.io.FixedLenFeature([], tf.string),
    CROP_SIZE: tf.io.FixedLenFeature([], tf.int64),
    CROPS: tf.io.FixedLenFeature([], tf.string),
    CROP_SIZE_PX: tf.io.FixedLenFeature([], tf.float32),
    SKELETON_FRAMES: tf.io.FixedLenFeature([], tf.int64),
    VIDEO_FRAMES: tf.io.FixedLenFeature([], tf.int64),
    METADATA: tf.io.FixedLenFeature([], tf.string),
}


def _bytes(value: bytes) -> tf.train.Feature:
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _ints(*values: int) -> tf.train.Feature:
  return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def _array(array: np.ndarray, dtype: str) -> tf.train.Feature:
  return _bytes(np.ascontiguousarray(array, dtype=np.dtype(dtype)).tobytes())


def _json_default(value: Any):
  if isinstance(value, np.generic):
    return value.item()
  if isinstance(value, (set, frozenset, tuple)):
    return list(value)
  raise TypeError(f"metadata value {value!r} is not JSON serialisable")


def serialize_clip(clip: clip_lib.Clip, *,
                   glimpse_features: np.ndarray | None = None,
                   crops: np.ndarray | None = None,
                   crop_size_px: float = 0.0,
                   skeleton_frames: int | None = None,
                   video_frames: int = -1) -> bytes:
  """One clip as a serialised ``tf.train.Example``.

  Args:
    clip: The clip, already cut to the frames that have video (``T``).
    glimpse_features: float ``[T, 4, D]`` (stored as float16), or None.
    crops: uint8 ``[T, 4, S, S, 3]``, or None. At most one of the two.
    crop_size_px: Crop side in source pixels the glimpses were taken with.
    skeleton_frames: Frames in the skeleton file (default ``T``).
    video_frames: Frames decoded from the video (-1 when there is none).

  Raises:
    ValueError: both glimpse_features and crops, or their frame count or
      shape disagrees with the clip (the message names the clip).
  """
  t = clip.num_frames
  if glimpse_features is not None and crops is not None:
    raise ValueError(f"{clip.name}: store glimpse_features or crops, not both")
  glimpse_dim, crop_size, store = 0, 0, STORE_NONE
  features = np.zeros((t, skeletons.NUM_HANDS, 0), np.float16)
  crop_array = np.zeros((t, skeletons.NUM_HANDS, 0, 0, 3), np.uint8)
  if glimpse_features is not None:
    features = np.asarray(glimpse_features)
    if features.ndim != 3 or features.shape[:2] != (t, skeletons.NUM_HANDS):
      raise ValueError(
          f"{clip.name}: glimpse_features must be [T={t}, 4, D], got"
          f" {features.shape}")
    glimpse_dim, store = features.shape[2], STORE_FEATURES
  if crops is not None:
    crop_array = np.asarray(crops)
    if (crop_array.ndim != 5 or crop_array.dtype != np.uint8 or
        crop_array.shape[:2] != (t, skeletons.NUM_HANDS) or
        crop_array.shape[2] != crop_array.shape[3] or crop_array.shape[4] != 3):
      raise ValueError(
          f"{clip.name}: crops must be uint8 [T={t}, 4, S, S, 3], got"
          f" {crop_array.dtype} {crop_array.shape}")
    crop_size, store = crop_array.shape[2], STORE_CROPS
  feature = {
      NAME: _bytes(clip.name.encode("utf-8")),
      LABEL: _ints(int(clip.label)),
      SKELETON: _bytes(clip.skeleton.encode("utf-8")),
      NUM_FRAMES: _ints(t),
      NUM_JOINTS: _ints(clip.xyz.shape[2]),
      IMAGE_SIZE: _ints(int(clip.image_size[0]), int(clip.image_size[1])),
      XYZ: _array(clip.xyz, "<f4"),
      PRESENT: _array(clip.present, "u1"),
      HAND_XY_PX: _array(clip.hand_xy_px, "<f4"),
      HAND_VALID: _array(clip.hand_valid, "u1"),
      STORE: _bytes(store.encode("ascii")),
      GLIMPSE_DIM: _ints(glimpse_dim),
      GLIMPSE_FEATURES: _array(features, "<f2"),
      CROP_SIZE: _ints(crop_size),
      CROPS: _array(crop_array, "u1"),
      CROP_SIZE_PX: tf.train.Feature(
          float_list=tf.train.FloatList(value=[float(crop_size_px)])),
      SKELETON_FRAMES: _ints(t if skeleton_frames is None else
                             int(skeleton_frames)),
      VIDEO_FRAMES: _ints(int(video_frames)),
      METADATA: _bytes(json.dumps(clip.metadata, sort_keys=True,
                                  default=_json_default).encode("utf-8")),
  }
  example = tf.train.Example(features=tf.train.Features(feature=feature))
  # Map entries are otherwise written in a per-process hash order: a resumed
  # preparation must write the bytes of an uninterrupted one.
  return example.SerializeToString(deterministic=True)


# What each decoded array needs besides its own bytes (its shape).
_SHAPE_KEYS = {XYZ: (NUM_FRAMES, NUM_JOINTS), PRESENT: (NUM_FRAMES,),
               HAND_XY_PX: (NUM_FRAMES,), HAND_VALID: (NUM_FRAMES,),
               GLIMPSE_FEATURES: (NUM_FRAMES, GLIMPSE_DIM),
               CROPS: (NUM_FRAMES, CROP_SIZE)}


def parse_clip(serialized: tf.Tensor | bytes,
               keys: Sequence[str] | None = None) -> dict[str, tf.Tensor]:
  """Inverse of :func:`serialize_clip`; works eagerly and inside tf.data.

  Args:
    serialized: One record.
    keys: Only these keys of :data:`FEATURE_SPEC` (what a reader needs:
      training does not copy the hand positions, nor the glimpse features
      of a pose-only run); None for all.

  Returns:
    The keys, with the arrays decoded: ``xyz`` float32 ``[T, 2, J, 3]``,
    ``present`` bool ``[T, 2]``, ``hand_xy_px`` float32 ``[T, 4, 2]``,
    ``hand_valid`` bool ``[T, 4]``, ``glimpse_features`` float16
    ``[T, 4, D]`` and ``crops`` uint8 ``[T, 4, S, S, 3]`` (``D`` / ``S``
    are 0 for the one not stored).
  """
  keys = list(FEATURE_SPEC) if keys is None else list(keys)
  wanted = set(keys)
  for key in keys:
    wanted.update(_SHAPE_KEYS.get(key, ()))
  parsed = tf.io.parse_single_example(
      serialized, {k: FEATURE_SPEC[k] for k in FEATURE_SPEC if k in wanted})
  hands, people = skeletons.NUM_HANDS, skeletons.MAX_PEOPLE

  def size(key):
    return tf.cast(parsed[key], tf.int32)

  def decode(key, dtype, shape):
    return tf.reshape(tf.io.decode_raw(parsed[key], dtype), shape)

  decoders = {
      XYZ: lambda: decode(XYZ, tf.float32,
                          [size(NUM_FRAMES), people, size(NUM_JOINTS), 3]),
      PRESENT: lambda: tf.cast(
          decode(PRESENT, tf.uint8, [size(NUM_FRAMES), people]), tf.bool),
      HAND_XY_PX: lambda: decode(HAND_XY_PX, tf.float32,
                                 [size(NUM_FRAMES), hands, 2]),
      HAND_VALID: lambda: tf.cast(
          decode(HAND_VALID, tf.uint8, [size(NUM_FRAMES), hands]), tf.bool),
      GLIMPSE_FEATURES: lambda: decode(
          GLIMPSE_FEATURES, tf.float16,
          [size(NUM_FRAMES), hands, size(GLIMPSE_DIM)]),
      CROPS: lambda: decode(
          CROPS, tf.uint8,
          [size(NUM_FRAMES), hands, size(CROP_SIZE), size(CROP_SIZE), 3]),
  }
  return {k: decoders[k]() if k in decoders else parsed[k] for k in keys}


def to_clip(parsed: Mapping[str, Any]) -> clip_lib.Clip:
  """A :class:`Clip` from an eagerly parsed record (tensors or arrays)."""

  def value(key):
    v = parsed[key]
    return v.numpy() if hasattr(v, "numpy") else v

  def text(key):
    v = value(key)
    if isinstance(v, np.ndarray):
      v = v.item()
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)

  width, height = (int(v) for v in value(IMAGE_SIZE))
  return clip_lib.Clip(
      name=text(NAME),
      label=int(value(LABEL)),
      skeleton=text(SKELETON),
      xyz=np.asarray(value(XYZ), np.float32),
      present=np.asarray(value(PRESENT), bool),
      hand_xy_px=np.asarray(value(HAND_XY_PX), np.float32),
      hand_valid=np.asarray(value(HAND_VALID), bool),
      image_size=(width, height),
      metadata=json.loads(text(METADATA)),
  )
