"""Tests for the pose-conditioned spatial attention LSTM cell."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from posedriven.models import attention_cell
from posedriven.models.attention_cell import AttentionLSTMCell
from posedriven.models.attention_cell import SpatialAttentionLSTM

UNITS, DIM, HANDS, POSE, STEPS = 6, 5, 4, 7, 3



def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def _softmax(x):
  e = np.exp(x - x.max(axis=-1, keepdims=True))
  return e / e.sum(axis=-1, keepdims=True)


def _reference_loop(cell: AttentionLSTMCell, sequence: np.ndarray):
  """Eq. (2)-(4) step by step in numpy with the cell's weights."""
  k1, b1 = (w.numpy() for w in cell.attention_hidden.weights)
  k2, b2 = (w.numpy() for w in cell.attention_scores.weights)
  kx, kh, b = (w.numpy() for w in cell.lstm.weights)
  batch = sequence.shape[0]
  h = np.zeros((batch, cell.units))
  c = np.zeros((batch, cell.units))
  hs, ps = [], []
  for t in range(sequence.shape[1]):
    v = sequence[:, t, :HANDS * DIM].reshape(batch, HANDS, DIM)
    s = sequence[:, t, HANDS * DIM:]
    query = np.concatenate([h, s], -1) if cell.conditioning == "pose" else h
    p = _softmax(_sigmoid(query @ k1 + b1) @ k2 + b2)
    context = np.einsum("bn,bnd->bd", p, v)
    z = context @ kx + h @ kh + b
    i, f, g, o = np.split(z, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    h = _sigmoid(o) * np.tanh(c)
    hs.append(h)
    ps.append(p)
  return np.stack(hs, 1), np.stack(ps, 1)


def _sequence(rng, batch=3, pose=POSE):
  return rng.normal(size=(batch, STEPS, HANDS * DIM + pose)).astype("float32")


@pytest.mark.parametrize("conditioning", ["pose", "hidden"])
def test_cell_matches_numpy_step_loop(conditioning):
  rng = np.random.default_rng(0)
  cell = AttentionLSTMCell(UNITS, DIM, HANDS, attention_units=8,
                           conditioning=conditioning)
  rnn = keras.layers.RNN(cell, return_sequences=True)
  sequence = _sequence(rng)
  outputs = keras.ops.convert_to_numpy(rnn(sequence))
  assert outputs.shape == (3, STEPS, UNITS + HANDS)
  h_ref, p_ref = _reference_loop(cell, sequence.astype("float64"))
  np.testing.assert_allclose(outputs[..., :UNITS], h_ref, atol=1e-5)
  np.testing.assert_allclose(outputs[..., UNITS:], p_ref, atol=1e-5)


def test_cell_interface():
  cell = AttentionLSTMCell(UNITS, DIM, HANDS)
  assert cell.state_size == [UNITS, UNITS]
  assert cell.output_size == UNITS + HANDS
  cell.build((None, HANDS * DIM + POSE))
  inputs = np.ones((2, HANDS * DIM + POSE), "float32")
  states = cell.get_initial_state(batch_size=2)
  output, new_states = cell(inputs, states)
  assert output.shape == (2, UNITS + HANDS)
  assert [s.shape for s in new_states] == [(2, UNITS), (2, UNITS)]
  np.testing.assert_allclose(keras.ops.convert_to_numpy(new_states[0]),
                             keras.ops.convert_to_numpy(output[:, :UNITS]))


def _attention(layer, glimpses, pose):
  inputs = [glimpses] if pose is None else [glimpses, pose]
  hidden, attention = layer(inputs)
  return keras.ops.convert_to_numpy(hidden), keras.ops.convert_to_numpy(
      attention)


def test_spatial_attention_is_a_distribution_over_hands():
  rng = np.random.default_rng(1)
  layer = SpatialAttentionLSTM(UNITS, HANDS, attention_units=8)
  glimpses = rng.normal(size=(5, STEPS, HANDS, DIM)).astype("float32")
  pose = rng.normal(size=(5, POSE)).astype("float32") * 3
  hidden, attention = _attention(layer, glimpses, pose)
  assert hidden.shape == (5, STEPS, UNITS)
  assert attention.shape == (5, STEPS, HANDS)
  assert attention.dtype == np.float32
  assert (attention >= 0).all()
  np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-6)
  # Not uniform: the weights do depend on something.
  assert attention.std() > 1e-4


def test_pose_conditioning_is_real():
  rng = np.random.default_rng(2)
  glimpses = rng.normal(size=(2, STEPS, HANDS, DIM)).astype("float32")
  pose_a = rng.normal(size=(2, POSE)).astype("float32")
  pose_b = pose_a + 2.0
  layer = SpatialAttentionLSTM(UNITS, HANDS, attention_units=8)
  h_a, p_a = _attention(layer, glimpses, pose_a)
  h_b, p_b = _attention(layer, glimpses, pose_b)
  # At t=0, h_{-1}=0 so only s can move p_0.
  assert np.abs(p_a[:, 0] - p_b[:, 0]).max() > 1e-4
  assert np.abs(p_a - p_b).max() > 1e-4
  # The LSTM itself is not conditioned on s: it sees s only through p_t.
  assert np.abs(h_a - h_b).max() > 0


def test_hidden_conditioning_ignores_pose():
  rng = np.random.default_rng(3)
  glimpses = rng.normal(size=(2, STEPS, HANDS, DIM)).astype("float32")
  pose = rng.normal(size=(2, POSE)).astype("float32")
  layer = SpatialAttentionLSTM(UNITS, HANDS, attention_units=8,
                               conditioning="hidden")
  h_a, p_a = _attention(layer, glimpses, pose)
  h_b, p_b = _attention(layer, glimpses, pose + 5.0)
  h_c, p_c = _attention(layer, glimpses, None)
  np.testing.assert_array_equal(p_a, p_b)
  np.testing.assert_array_equal(h_a, h_b)
  np.testing.assert_allclose(p_a, p_c, atol=1e-7)
  # p_0 depends on h_{-1} = 0 only: the same for every clip.
  np.testing.assert_allclose(p_a[0, 0], p_a[1, 0], atol=1e-7)


def test_unrolled_equals_while_loop():
  rng = np.random.default_rng(4)
  glimpses = rng.normal(size=(2, STEPS, HANDS, DIM)).astype("float32")
  pose = rng.normal(size=(2, POSE)).astype("float32")
  loop = SpatialAttentionLSTM(UNITS, HANDS, attention_units=8, unroll=False)
  unrolled = SpatialAttentionLSTM(UNITS, HANDS, attention_units=8,
                                  unroll=True)
  loop.build([glimpses.shape, pose.shape])
  unrolled.build([glimpses.shape, pose.shape])
  unrolled.set_weights(loop.get_weights())
  for a, b in zip(_attention(loop, glimpses, pose),
                  _attention(unrolled, glimpses, pose)):
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_config_round_trip_and_frozen_rebuild():
  cell = AttentionLSTMCell(UNITS, DIM, HANDS, attention_units=8,
                           conditioning="hidden", trainable=False)
  clone = AttentionLSTMCell.from_config(cell.get_config())
  assert clone.get_config() == cell.get_config()
  clone.build((None, HANDS * DIM))
  assert len(clone.weights) == 7
  assert not any(w.trainable for w in clone.weights)

  layer = SpatialAttentionLSTM(UNITS, HANDS, attention_units=8, unroll=False)
  clone = SpatialAttentionLSTM.from_config(layer.get_config())
  assert clone.get_config() == layer.get_config()
  assert not clone.unroll and clone.conditioning == "pose"
  frozen = SpatialAttentionLSTM.from_config(
      {**layer.get_config(), "trainable": False})
  frozen.build([(None, STEPS, HANDS, DIM), (None, POSE)])
  assert len(frozen.weights) == 7
  assert not any(w.trainable for w in frozen.weights)


def test_bad_arguments():
  with pytest.raises(ValueError, match="conditioning"):
    AttentionLSTMCell(conditioning="pos")
  with pytest.raises(ValueError, match="pose features"):
    AttentionLSTMCell(UNITS, DIM, HANDS).build((None, HANDS * DIM))
  layer = SpatialAttentionLSTM(UNITS, HANDS)
  with pytest.raises(ValueError, match="needs inputs"):
    layer(np.zeros((1, STEPS, HANDS, DIM), "float32"))
  with pytest.raises(ValueError, match="glimpses must be"):
    SpatialAttentionLSTM(UNITS, HANDS, conditioning="hidden")(
        np.zeros((1, STEPS, 3, DIM), "float32"))


def test_mixed_bfloat16_keeps_attention_float32(mixed_bfloat16):
  rng = np.random.default_rng(5)
  layer = SpatialAttentionLSTM(UNITS, HANDS, attention_units=8)
  glimpses = rng.normal(size=(2, STEPS, HANDS, DIM)).astype("float32")
  pose = rng.normal(size=(2, POSE)).astype("float32")
  hidden, attention = layer([glimpses, pose])
  assert layer.cell.lstm.kernel.dtype == "float32"
  assert hidden.dtype == "bfloat16"
  assert attention.dtype == "float32"
  np.testing.assert_allclose(
      keras.ops.convert_to_numpy(attention).sum(-1), 1.0, atol=1e-6)


def test_masked_softmax_gives_absent_entries_zero():
  scores = np.array([[5.0, 1.0, 0.0, -2.0], [0.0, 0.0, 9.0, 0.0],
                     [1.0, 2.0, 3.0, 4.0]], "float32")
  present = np.array([[False, True, True, False], [True, True, False, True],
                      [False] * 4])
  weights = keras.ops.convert_to_numpy(
      attention_cell.masked_softmax(scores, present))
  expected = _softmax(np.where(present, scores, -np.inf)[:2])
  np.testing.assert_allclose(weights[:2], expected, rtol=1e-6)
  assert (weights[:2][~present[:2]] == 0).all()
  # Nothing present: plain softmax, no NaN.
  np.testing.assert_allclose(weights[2], _softmax(scores[2:])[0], rtol=1e-6)


def test_absent_hands_get_no_attention():
  rng = np.random.default_rng(4)
  layer = SpatialAttentionLSTM(UNITS, HANDS, attention_units=8)
  glimpses = rng.normal(size=(5, STEPS, HANDS, DIM)).astype("float32")
  # Clip 0 has no second person; clip 1 loses hand 0 at step 1; clip 2 has
  # no hand at all at step 2.
  glimpses[0, :, 2:] = 0.0
  glimpses[1, 1, 0] = 0.0
  glimpses[2, 2] = 0.0
  present = keras.ops.convert_to_numpy(
      attention_cell.hand_presence(glimpses))
  assert not present[0, :, 2:].any() and present[0, :, :2].all()
  pose = rng.normal(size=(5, POSE)).astype("float32")
  _, attention = _attention(layer, glimpses, pose)
  some = present.any(-1, keepdims=True)
  assert (attention[~present & some] == 0).all()
  assert (attention[present] > 0).all()
  # A step without any hand keeps a plain softmax (its input is zero).
  assert (attention[2, 2] > 0).all()
  np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-6)
  assert np.isfinite(attention).all()
