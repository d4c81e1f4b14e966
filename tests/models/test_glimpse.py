"""Tests for posedriven.models.glimpse."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from posedriven.models import glimpse


@pytest.fixture(scope="module")
def sensor_and_weights(tmp_path_factory):
  keras.utils.set_random_seed(0)
  sensor = glimpse.GlimpseSensor(weights=None, input_size=75)
  sensor.build((None, 40, 40, 3))
  # Features of order 1 (not ~1e-4), so that tolerances below mean something.
  glimpse.recalibrate_batch_norm(sensor, _crops(n=32, seed=9))
  assert 0.05 < np.abs(np.asarray(sensor(_crops()))).mean() < 20.0
  path = tmp_path_factory.mktemp("glimpse") / "inception.weights.h5"
  sensor.backbone.save_weights(path)
  return sensor, path


def _crops(n=3, size=40, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3),
                                              dtype=np.uint8)


def test_output_shape_dtype_and_frozen(sensor_and_weights):
  sensor, _ = sensor_and_weights
  crops = _crops()
  features = sensor(crops)
  assert features.shape == (3, glimpse.FEATURE_DIM)
  assert features.dtype == "float32"
  assert sensor.output_dim == 2048
  assert not sensor.trainable and not sensor.trainable_weights
  assert len(sensor.non_trainable_weights) > 300
  # Always inference mode: batch statistics never replace the moving ones.
  np.testing.assert_allclose(np.asarray(sensor(crops, training=True)),
                             np.asarray(features), rtol=1e-5, atol=1e-6)
  # uint8 and float crops of the same values give the same features.
  np.testing.assert_allclose(np.asarray(sensor(crops.astype(np.float32))),
                             np.asarray(features), rtol=1e-5, atol=1e-6)
  # Different crops give different features (the network is not constant).
  assert not np.allclose(np.asarray(sensor(_crops(seed=1))),
                         np.asarray(features))


def test_preprocessing_resizes_and_scales_to_minus_one_one(sensor_and_weights):
  sensor, _ = sensor_and_weights
  small = _crops(2, 40)
  x = keras.ops.image.resize(small.astype(np.float32), (75, 75),
                             interpolation="bilinear")
  x = np.asarray(x) / 127.5 - 1.0
  expected = np.asarray(sensor.backbone(x, training=False))
  np.testing.assert_allclose(np.asarray(sensor(small)), expected, rtol=1e-4,
                             atol=1e-6)


def test_weights_file_path_loads_identical_network(sensor_and_weights):
  sensor, path = sensor_and_weights
  loaded = glimpse.GlimpseSensor(weights=path, input_size=75)
  crops = _crops(seed=2)
  np.testing.assert_array_equal(np.asarray(loaded(crops)),
                                np.asarray(sensor(crops)))


def test_config_round_trip(sensor_and_weights):
  _, path = sensor_and_weights
  sensor = glimpse.GlimpseSensor(weights=path, input_size=80, name="g")
  config = sensor.get_config()
  assert config["weights"] == str(path) and config["input_size"] == 80
  clone = glimpse.GlimpseSensor.from_config(config)
  assert clone.get_config() == config
  restored = keras.saving.deserialize_keras_object(
      keras.saving.serialize_keras_object(sensor))
  assert isinstance(restored, glimpse.GlimpseSensor)
  crops = _crops(seed=3)
  np.testing.assert_array_equal(np.asarray(restored(crops)),
                                np.asarray(sensor(crops)))


def test_mixed_precision_outputs_float32(sensor_and_weights):
  sensor, path = sensor_and_weights
  mixed = glimpse.GlimpseSensor(weights=path, input_size=75,
                                dtype="mixed_float16")
  crops = _crops(seed=4)
  features = mixed(crops)
  assert features.dtype == "float32"
  assert mixed.backbone.layers[-2].compute_dtype == "float16"
  reference = np.asarray(sensor(crops))
  features = np.asarray(features)
  # float16 rounding through ~94 layers of a *random* network (calibrated to
  # features of order 1) moves features by ~20% on average (measured: mean
  # |error| 0.10 for mean |feature| 0.54, correlation 0.976); another crop's
  # features are uncorrelated, so these bounds still tell the network apart.
  assert np.corrcoef(features.ravel(), reference.ravel())[0, 1] > 0.95
  assert np.abs(features - reference).mean() < 0.3 * np.abs(reference).mean()
  other = np.asarray(sensor(_crops(seed=5)))
  assert np.corrcoef(features.ravel(), other.ravel())[0, 1] < 0.9


def test_bad_arguments():
  with pytest.raises(ValueError, match="input_size must be >= 75"):
    glimpse.GlimpseSensor(weights=None, input_size=64)
  with pytest.raises(ValueError, match="missing.h5 does not exist"):
    glimpse.GlimpseSensor(weights="/nonexistent/missing.h5")


def test_recalibrated_batch_norm_gives_order_one_features():
  keras.utils.set_random_seed(1)
  sensor = glimpse.GlimpseSensor(weights=None, input_size=75)
  sensor.build((None, 24, 24, 3))
  crops = _crops(n=48, size=24, seed=3)
  before = np.asarray(sensor(crops))
  frozen = [np.asarray(w) for w in sensor.backbone.weights
            if "moving" not in w.path]
  glimpse.recalibrate_batch_norm(sensor, crops)
  after = np.asarray(sensor(crops))
  # Random default statistics shrink the features to ~1e-4; estimated ones
  # give features of order 1 that differ between crops.
  assert np.abs(before).mean() < 1e-2
  assert 0.05 < np.abs(after).mean() < 10.0
  assert after.std(axis=0).mean() > 100 * before.std(axis=0).mean()
  # Only the moving statistics changed; the sensor is still frozen.
  unchanged = [np.asarray(w) for w in sensor.backbone.weights
               if "moving" not in w.path]
  assert len(unchanged) == len(frozen) > 100
  for a, b in zip(frozen, unchanged):
    np.testing.assert_array_equal(a, b)
  assert not sensor.trainable_weights
  assert all(not layer.trainable for layer in sensor.backbone.layers)
  np.testing.assert_allclose(np.asarray(sensor(crops, training=True)), after,
                             rtol=1e-5, atol=1e-5)


def test_empty_crop_gives_zero_features(sensor_and_weights):
  sensor, _ = sensor_and_weights
  crops = _crops(n=3)
  crops[1] = 0
  features = np.asarray(sensor(crops))
  assert not features[1].any()
  assert features[0].any() and features[2].any()
  # A dark but not empty crop is still a hand.
  crops[1, 0, 0, 0] = 1
  assert np.asarray(sensor(crops))[1].any()
