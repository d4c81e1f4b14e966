"""predict.distinct_glimpse_features: the sensor once per distinct crop.

Fast: a counting stand-in for the export's ``glimpse_features`` signature
(the exported sensor is tested in test_predict.py, marked slow).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from posedriven.data import pose_tensor
from posedriven.export import predict

CROP = 2  # crop side of the stand-in: features depend on the pixels alone


class _CountingSensor:
  """``crops [N, L, 4, S, S, 3]`` -> features that identify each crop.

  Records the ``N * L * 4`` crops of every call.
  """

  def __init__(self, steps_per_row: int | None = None):
    self.crops_per_call: list[int] = []
    self.structured_input_signature = ((), {"crops": tf.TensorSpec(
        (None, steps_per_row, 4, CROP, CROP, 3), tf.uint8)})

  def __call__(self, crops):
    crops = crops.numpy().astype(np.float32)
    self.crops_per_call.append(int(np.prod(crops.shape[:3])))
    features = np.stack([crops.mean(axis=(3, 4, 5)), crops[..., 0, 0, 0]],
                        axis=-1)
    return {"glimpse_features": tf.constant(features)}


def _frame_crops(num_frames: int) -> np.ndarray:
  """uint8 ``[F, 4, S, S, 3]``: every (frame, hand) crop different, none
  blank (so a padding crop leaking into the result would show)."""
  values = (np.arange(num_frames * 4) % 250 + 1).astype(np.uint8)
  return np.broadcast_to(values.reshape(num_frames, 4, 1, 1, 1),
                         (num_frames, 4, CROP, CROP, 3)).copy()


@pytest.mark.parametrize("num_frames", [7, 28, 100])
@pytest.mark.parametrize("steps_per_row", [None, 20])
def test_each_distinct_crop_is_sensed_once(num_frames, steps_per_row):
  indices = pose_tensor.evaluation_subsequences(num_frames, 20, 10)
  crops = _frame_crops(num_frames)
  sensor = _CountingSensor(steps_per_row)
  features = predict.distinct_glimpse_features(
      sensor, crops, indices, frames_per_call=40,
      steps_per_row=steps_per_row)
  # The features of every place are those of its own crop ...
  every_place = _CountingSensor()(tf.constant(crops[indices]))
  np.testing.assert_array_equal(features,
                                every_place["glimpse_features"].numpy())
  # ... sensed once per distinct (frame, hand) crop, 40 frames per call at
  # most; an export that fixes 20 steps per row gets its last row padded.
  distinct = len(np.unique(indices))
  assert distinct < indices.size
  assert all(n <= 40 * 4 for n in sensor.crops_per_call)
  if steps_per_row is None:
    assert sum(sensor.crops_per_call) == 4 * distinct
  else:
    assert sum(sensor.crops_per_call) == 4 * 20 * -(-distinct // 20)
  assert len(sensor.crops_per_call) == -(-distinct // 40)


def test_seconds_are_added_to_the_sensor_stage():
  seconds = {"inception_v3": 1.0}
  predict.distinct_glimpse_features(
      _CountingSensor(), _frame_crops(3), np.array([[0, 1, 2, 2]]),
      frames_per_call=2, stage_seconds=seconds)
  assert seconds["inception_v3"] > 1.0 and set(seconds) == {"inception_v3"}
