"""Tests for the pose network f_sk and the pose-only classifier."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from posedriven.models.pose_cnn import PoseClassifier
from posedriven.models.pose_cnn import PoseConvNet

SMALL = dict(filters=(3, 4), features=6)



def _np(x):
  return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("width", [300, 180, 240, 150])
@pytest.mark.parametrize("batch", [1, 8])
def test_last_kernel_covers_the_remaining_map(width, batch):
  net = PoseConvNet(**SMALL)
  s = net(np.zeros((batch, 20, width, 3), "float32"))
  assert s.shape == (batch, 6)
  assert tuple(net.conv3.kernel.shape) == (5, width // 4, 4, 6)


def test_paper_sizes():
  net = PoseConvNet()
  net.build((None, 20, 300, 3))
  assert tuple(net.conv1.kernel.shape) == (8, 3, 3, 64)
  assert tuple(net.conv2.kernel.shape) == (8, 3, 64, 64)
  assert tuple(net.conv3.kernel.shape) == (5, 75, 64, 1024)
  x = keras.KerasTensor((None, 20, 300, 3))
  assert net.compute_output_spec(x).shape == (None, 1024)


def test_every_input_cell_reaches_s():
  # The last kernel spans the whole map: the last time step and the last
  # column (second person's last joint) both change s.
  rng = np.random.default_rng(0)
  net = PoseConvNet(**SMALL)
  x = rng.normal(size=(1, 20, 40, 3)).astype("float32")
  base = _np(net(x))
  for t, w in [(0, 0), (19, 39), (19, 0), (0, 39)]:
    moved = x.copy()
    moved[0, t, w] += 10.0
    assert np.abs(_np(net(moved)) - base).max() > 0, (t, w)


def test_bad_shapes():
  with pytest.raises(ValueError, match="too small"):
    PoseConvNet(**SMALL).build((None, 20, 3, 3))
  with pytest.raises(ValueError, match=r"\[B, T, W, C\]"):
    PoseConvNet(**SMALL).build((None, 20, 300))
  with pytest.raises(ValueError, match="2 filter counts"):
    PoseConvNet(filters=(8,))
  net = PoseConvNet(**SMALL)
  net(np.zeros((1, 20, 40, 3), "float32"))
  with pytest.raises(ValueError):
    net(np.zeros((1, 20, 60, 3), "float32"))


def test_config_round_trip():
  net = PoseConvNet(filters=(3, 5), kernel_size=(4, 3), features=7,
                    name="f_sk")
  clone = PoseConvNet.from_config(net.get_config())
  assert clone.get_config() == net.get_config()
  x = np.random.default_rng(1).normal(size=(2, 20, 16, 3)).astype("float32")
  expected = _np(net(x))
  clone.build(x.shape)
  clone.set_weights(net.get_weights())
  np.testing.assert_allclose(_np(clone(x)), expected, atol=1e-6)
  frozen = PoseConvNet.from_config({**net.get_config(), "trainable": False})
  frozen.build(x.shape)
  assert len(frozen.weights) == 6
  assert not any(w.trainable for w in frozen.weights)


def test_classifier_outputs_logits_and_dropout(tmp_path):
  rng = np.random.default_rng(2)
  model = PoseClassifier(5, **SMALL, dropout=0.5)
  x = rng.normal(size=(8, 20, 32, 3)).astype("float32")
  out = model({"pose": x})
  assert set(out) == {"logits"}
  assert out["logits"].shape == (8, 5) and out["logits"].dtype == "float32"
  # Logits, not probabilities.
  assert not np.allclose(_np(out["logits"]).sum(-1), 1.0)
  np.testing.assert_array_equal(_np(model(x)["logits"]), _np(out["logits"]))
  train = _np(model(x, training=True)["logits"])
  assert np.abs(train - _np(out["logits"])).max() > 1e-6

  path = tmp_path / "pose.keras"
  model.save(path)
  loaded = keras.models.load_model(path)
  assert isinstance(loaded, PoseClassifier)
  assert loaded.pose_network.filters == (3, 4)
  np.testing.assert_array_equal(_np(loaded({"pose": x})["logits"]),
                                _np(out["logits"]))


def test_classifier_trains():
  rng = np.random.default_rng(3)
  model = PoseClassifier(3, **SMALL)
  model.build({"pose": (None, 20, 16, 3)})
  x = {"pose": rng.normal(size=(4, 20, 16, 3)).astype("float32")}
  y = {"logits": np.array([0, 1, 2, 0])}
  model.compile(optimizer=keras.optimizers.SGD(0.1),
                loss={"logits": keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True)})
  before = [w.numpy().copy() for w in model.trainable_weights]
  model.train_on_batch(x, y)
  assert len(before) == 8
  for b, w in zip(before, model.trainable_weights):
    assert np.abs(w.numpy() - b).max() > 0, w.path


def test_classifier_mixed_bfloat16(mixed_bfloat16):
  model = PoseClassifier(5, **SMALL)
  out = model({"pose": np.ones((2, 20, 16, 3), "float32")})
  assert model.pose_network.compute_dtype == "bfloat16"
  assert model.pose_network(np.ones((2, 20, 16, 3))).dtype == "bfloat16"
  assert out["logits"].dtype == "float32"
