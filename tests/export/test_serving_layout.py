"""The serving layout computes the training layout's step on its weights."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from posedriven.export import serving_layout
from posedriven.models import attention_cell
from posedriven.models import pose_cnn

# float32 with the same products summed in another order (a matrix-vector
# product over rows instead of x @ W; one matmul instead of a convolution):
# each sum of ~30 terms of order 1 differs by a few float32 ulps (~1e-7),
# and the LSTM carries that through 3 steps.
FLOAT32_REORDERED = dict(rtol=1e-5, atol=1e-6)


def _weights_by_path(layer) -> dict[str, np.ndarray]:
  return {w.path: w.numpy() for w in layer.weights}


def _lstm_and_serving_cell(cell_class, units, dim):
  """A ``keras.layers.LSTMCell`` and a serving cell holding its weights."""
  keras.utils.set_random_seed(0)
  lstm = keras.layers.LSTMCell(units, name="lstm")
  lstm.build((None, dim))
  # Non-zero biases, so that a bias put on the wrong gate shows.
  lstm.bias.assign(np.random.default_rng(1).normal(size=4 * units))
  cell = cell_class(units, name="lstm")
  cell.build((None, dim))
  sources = _weights_by_path(lstm)
  for weight in cell.weights:
    weight.assign(serving_layout.serving_weight(weight.path, sources.pop))
  assert not sources  # every training weight used once
  return lstm, cell


def test_fused_lstm_cell_steps_as_lstm_cell():
  units, dim, batch = 6, 5, 3
  lstm, fused = _lstm_and_serving_cell(serving_layout.FusedLSTMCell, units,
                                       dim)
  rng = np.random.default_rng(2)
  states = expected_states = [np.zeros((batch, units), np.float32)] * 2
  for _ in range(3):
    x = rng.normal(size=(batch, dim)).astype(np.float32)
    expected, expected_states = lstm(x, expected_states)
    actual, states = fused(x, states)
    np.testing.assert_allclose(actual, expected, **FLOAT32_REORDERED)
    for a, e in zip(states, expected_states):
      np.testing.assert_allclose(a, e, **FLOAT32_REORDERED)


def test_projected_lstm_cell_steps_as_lstm_cell():
  units, dim, batch = 6, 5, 3
  lstm, projected = _lstm_and_serving_cell(serving_layout.ProjectedLSTMCell,
                                           units, dim)
  rng = np.random.default_rng(2)
  xs = rng.normal(size=(batch, 3, dim)).astype(np.float32)
  # The input part of all 3 steps at once, as the serving recurrence does.
  input_gates = projected.input_gates(xs)
  states = expected_states = [np.zeros((batch, units), np.float32)] * 2
  for t in range(3):
    np.testing.assert_allclose(projected(xs[:, t], expected_states)[0],
                               lstm(xs[:, t], expected_states)[0],
                               **FLOAT32_REORDERED)
    expected, expected_states = lstm(xs[:, t], expected_states)
    actual, states = projected.step(input_gates[:, t], states)
    np.testing.assert_allclose(actual, expected, **FLOAT32_REORDERED)
    for a, e in zip(states, expected_states):
      np.testing.assert_allclose(a, e, **FLOAT32_REORDERED)


def test_whole_map_conv_computes_the_convolution():
  keras.utils.set_random_seed(0)
  shape = (4, 5, 15, 3)
  conv = keras.layers.Conv2D(7, shape[1:3], activation="relu")
  conv.build(shape)
  whole = serving_layout.WholeMapConv2D.from_config(conv.get_config())
  whole.build(shape)
  whole.set_weights(conv.get_weights())
  x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
  expected = np.asarray(conv(x))
  assert expected.shape == (4, 1, 1, 7)
  assert (expected == 0).any() and (expected > 0).any()  # ReLU active
  np.testing.assert_allclose(whole(x), expected, **FLOAT32_REORDERED)


def test_whole_map_conv_refuses_a_kernel_that_does_not_cover_its_input():
  whole = serving_layout.WholeMapConv2D(7, (5, 14), name="conv3")
  with pytest.raises(ValueError, match=r"conv3.*\(5, 14\).*15"):
    whole.build((None, 5, 15, 3))


@pytest.mark.parametrize("layer", [
    serving_layout.FusedLSTMCell(4),
    serving_layout.ProjectedLSTMCell(4),
    serving_layout.WholeMapConv2D(3, (2, 2)),
    serving_layout.ServingPoseConvNet(filters=(2, 2), features=3),
    serving_layout.ServingPoseClassifier(5, filters=(2, 2), features=3),
    serving_layout.ServingSpatialAttentionLSTM(4),
    serving_layout.ServingSpatialAttentionLSTM(4, projected_inputs=True),
], ids=lambda layer: type(layer).__name__)
def test_serving_classes_round_trip(layer):
  copy = keras.saving.deserialize_keras_object(
      keras.saving.serialize_keras_object(layer))
  assert type(copy) is type(layer)
  assert copy.get_config() == layer.get_config()


def test_serving_subclasses_swap_only_their_sublayer():
  net = serving_layout.ServingPoseClassifier(5, filters=(2, 2), features=3)
  net.build({"pose": (None, 20, 60, 3)})
  assert type(net.pose_network.conv3) is serving_layout.WholeMapConv2D
  assert type(net.pose_network.conv1) is keras.layers.Conv2D
  recurrence = serving_layout.ServingSpatialAttentionLSTM(4)
  recurrence.build([(None, 20, 4, 6), (None, 3)])
  assert type(recurrence.cell.lstm) is serving_layout.FusedLSTMCell
  projected = serving_layout.ServingSpatialAttentionLSTM(
      4, projected_inputs=True)
  projected.build([(None, 20, 4, 6), (None, 3)])
  assert type(projected.cell.lstm) is serving_layout.ProjectedLSTMCell
  # The training classes are untouched by the subclasses.
  assert pose_cnn.PoseConvNet.head_class is keras.layers.Conv2D
  assert attention_cell.AttentionLSTMCell.lstm_cell_class is (
      keras.layers.LSTMCell)


def test_use_serving_class_maps_only_the_training_classes():
  training = keras.saving.serialize_keras_object(pose_cnn.PoseConvNet())
  serving_layout.use_serving_class(training)
  assert isinstance(keras.saving.deserialize_keras_object(training),
                    serving_layout.ServingPoseConvNet)
  dense = keras.saving.serialize_keras_object(keras.layers.Dense(2))
  unchanged = dict(dense)
  serving_layout.use_serving_class(dense)
  assert dense == unchanged
