"""Tests for temporal attention (adaptive pooling over time)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from posedriven.models.temporal_attention import TemporalAttention

B, T, H, N, S, F = 3, 5, 6, 4, 7, 8



def _inputs(rng):
  hidden = rng.normal(size=(B, T, H)).astype("float32")
  spatial = rng.dirichlet(np.ones(N), size=(B, T)).astype("float32")
  pose = rng.normal(size=(B, S)).astype("float32")
  return hidden, spatial, pose


def _np(x):
  return keras.ops.convert_to_numpy(x)


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def test_attention_pooling_matches_numpy():
  rng = np.random.default_rng(0)
  hidden, spatial, pose = _inputs(rng)
  layer = TemporalAttention(F, attention_units=9)
  pooled, weights = layer([hidden, spatial, pose])
  assert pooled.shape == (B, F) and weights.shape == (B, T)
  ku, bu = (_np(w) for w in layer.features.weights)
  k1, b1 = (_np(w) for w in layer.attention_hidden.weights)
  k2, b2 = (_np(w) for w in layer.attention_scores.weights)
  u = np.maximum(hidden @ ku + bu, 0)
  query = np.concatenate([spatial.reshape(B, T * N), pose], -1)
  scores = _sigmoid(query @ k1 + b1) @ k2 + b2
  p = np.exp(scores - scores.max(-1, keepdims=True))
  p /= p.sum(-1, keepdims=True)
  np.testing.assert_allclose(_np(weights), p, atol=1e-6)
  np.testing.assert_allclose(_np(pooled), np.einsum("bt,btf->bf", p, u),
                             atol=1e-5)
  assert (_np(weights) >= 0).all()
  np.testing.assert_allclose(_np(weights).sum(-1), 1.0, atol=1e-6)


def test_mean_pooling_is_uniform_and_has_no_attention_net():
  rng = np.random.default_rng(1)
  hidden, spatial, pose = _inputs(rng)
  layer = TemporalAttention(F, pooling="mean")
  pooled, weights = layer(hidden)
  np.testing.assert_allclose(_np(weights), np.full((B, T), 1 / T), atol=1e-7)
  ku, bu = (_np(w) for w in layer.features.weights)
  np.testing.assert_allclose(
      _np(pooled), np.maximum(hidden @ ku + bu, 0).mean(1), atol=1e-5)
  assert len(layer.weights) == 2
  # Extra inputs are accepted and ignored.
  np.testing.assert_allclose(_np(layer([hidden, spatial, pose])[0]),
                             _np(pooled), atol=1e-7)


def test_pose_and_spatial_attention_move_temporal_attention():
  rng = np.random.default_rng(2)
  hidden, spatial, pose = _inputs(rng)
  layer = TemporalAttention(F, attention_units=9)
  _, base = layer([hidden, spatial, pose])
  _, moved_pose = layer([hidden, spatial, pose + 3.0])
  _, moved_spatial = layer([hidden, spatial[:, ::-1], pose])
  _, moved_hidden = layer([hidden + 1.0, spatial, pose])
  assert np.abs(_np(base) - _np(moved_pose)).max() > 1e-4
  assert np.abs(_np(base) - _np(moved_spatial)).max() > 1e-5
  # f_p' sees P and s only, not the LSTM features (eq. 6).
  np.testing.assert_array_equal(_np(base), _np(moved_hidden))


def test_without_pose_features():
  rng = np.random.default_rng(3)
  hidden, spatial, _ = _inputs(rng)
  layer = TemporalAttention(F, attention_units=9)
  pooled, weights = layer([hidden, spatial])
  assert layer.attention_hidden.kernel.shape == (T * N, 9)
  np.testing.assert_allclose(_np(weights).sum(-1), 1.0, atol=1e-6)
  assert pooled.shape == (B, F)


def test_config_round_trip_and_errors():
  layer = TemporalAttention(F, attention_units=9, pooling="mean")
  clone = TemporalAttention.from_config(layer.get_config())
  assert clone.get_config() == layer.get_config()
  frozen = TemporalAttention.from_config(
      {**TemporalAttention(F, 9).get_config(), "trainable": False})
  frozen.build([(None, T, H), (None, T, N), (None, S)])
  assert len(frozen.weights) == 6
  assert not any(w.trainable for w in frozen.weights)
  frozen_mean = TemporalAttention.from_config(
      {**layer.get_config(), "trainable": False})
  frozen_mean.build((None, T, H))
  assert len(frozen_mean.weights) == 2
  assert not any(w.trainable for w in frozen_mean.weights)
  with pytest.raises(ValueError, match="pooling"):
    TemporalAttention(pooling="max")
  with pytest.raises(ValueError, match="needs inputs"):
    TemporalAttention(F)(np.zeros((1, T, H), "float32"))


def test_mixed_bfloat16_weights_float32(mixed_bfloat16):
  rng = np.random.default_rng(4)
  layer = TemporalAttention(F, attention_units=9)
  pooled, weights = layer(list(_inputs(rng)))
  assert pooled.dtype == "bfloat16"
  assert weights.dtype == "float32"
  np.testing.assert_allclose(_np(weights).sum(-1), 1.0, atol=1e-6)
