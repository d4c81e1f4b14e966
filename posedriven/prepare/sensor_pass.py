"""The sensor pass: hand patches -> crops -> glimpse features, in batches.

One traced function resamples the crops and runs the frozen glimpse sensor
(on the GPU when there is one); :func:`rebatch` fills the sensor's batches
across clips, so short clips do not leave it half idle.
"""

from __future__ import annotations

import weakref
from typing import Callable, Iterable, Iterator

import numpy as np
import tensorflow as tf

from posedriven.data import glimpse_crops
from posedriven.data import skeletons

# Tracing InceptionV3 takes seconds: one traced function per sensor and size.
_GLIMPSE_FNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CROP_FNS: dict[int, Callable] = {}
_HANDS = skeletons.NUM_HANDS
PATCH_SIGNATURE = [
    tf.TensorSpec([None, _HANDS, None, None, 3], tf.uint8),  # patches
    tf.TensorSpec([None, _HANDS, 4], tf.float32),  # boxes in the patches
    tf.TensorSpec([None, _HANDS], tf.bool),  # valid
]


def glimpse_fn(sensor, crop_output_size: int) -> Callable:
  """``fn(patches, boxes, valid)``: hand patches -> what preparation stores.

  One traced function resamples the crops (``glimpse_crops.resize_patches``)
  and, with a sensor, runs it, so both happen on the GPU when there is one:
  only the small patches cross from the decoder.

  Args:
    sensor: A glimpse sensor, or None to return the crops.
    crop_output_size: Side ``S`` of the crops.

  Returns:
    A ``tf.function`` returning float ``[N, 4, D]`` glimpse features, or
    without a sensor uint8 ``[N, 4, S, S, 3]`` crops.
  """
  fns = (_CROP_FNS if sensor is None
         else _GLIMPSE_FNS.setdefault(sensor, {}))
  if crop_output_size not in fns:
    size = crop_output_size

    def crops_to_values(patches, boxes, valid):
      crops = glimpse_crops.resize_patches(patches, boxes, valid, size)
      if sensor is None:
        return crops
      features = sensor(tf.reshape(crops, [-1, size, size, 3]),
                        training=False)
      return tf.reshape(features, [-1, _HANDS, features.shape[-1]])

    fns[size] = tf.function(crops_to_values,
                            input_signature=PATCH_SIGNATURE)
  return fns[crop_output_size]


def rebatch(chunks: Iterable[dict[str, np.ndarray]], size: int
            ) -> Iterator[dict[str, np.ndarray]]:
  """Regroups row-aligned chunks into chunks of exactly ``size`` rows.

  Rows keep their order and chunks may span clips, so the sensor sees full
  batches. A chunk whose arrays have other trailing shapes than the rows
  waiting (hand patches of clips with another crop size) first flushes
  those as a shorter chunk; so does the end of the stream.

  Args:
    chunks: Dicts of arrays sharing their first dimension.
    size: Rows per output chunk.

  Yields:
    Dicts with the same keys; every array has ``size`` rows, except before
    a shape change and at the end.
  """
  if size < 1:
    raise ValueError(f"size must be >= 1, got {size}")
  waiting: list[dict[str, np.ndarray]] = []
  rows = 0

  def shapes(chunk):
    return {k: v.shape[1:] for k, v in chunk.items()}

  def take(n: int) -> dict[str, np.ndarray]:
    nonlocal waiting, rows
    joined = {k: np.concatenate([c[k] for c in waiting]) for k in waiting[0]}
    rest = {k: v[n:] for k, v in joined.items()}
    waiting = [rest] if len(next(iter(rest.values()))) else []
    rows -= n
    return {k: v[:n] for k, v in joined.items()}

  for chunk in chunks:
    if waiting and shapes(chunk) != shapes(waiting[0]):
      yield take(rows)
    waiting.append(chunk)
    rows += len(next(iter(chunk.values())))
    while rows >= size:
      yield take(size)
  if rows:
    yield take(rows)


# Sensor batches computed concurrently (two on a 2-core CPU: +2-10%).
SENSOR_CALLS_IN_FLIGHT = 2


def no_autotune() -> tf.data.Options:
  # TF 2.21: destroying an iterator whose autotune thread is asleep blocks
  # for up to ~5 s (stack: ~LogicalThreadWrapper in ~RootDataset::Iterator).
  # Preparation builds one iterator per file, so that was 5 s per file;
  # the parallelism here is fixed anyway.
  options = tf.data.Options()
  options.autotune.enabled = False
  return options
