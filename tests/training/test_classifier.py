"""Compiling, feeding and running the classifiers, on tiny inputs."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from posedriven.training import classifier


def _dataset(with_names=True):
  """Batches of 3 and 1 rows: ``x`` = (i, -i), ``label`` = i % 3."""
  rows = np.arange(4)
  inputs = {"x": np.stack([rows, -rows], -1).astype(np.float32),
            "extra": rows.astype(np.float32)}
  if with_names:
    inputs["name"] = np.array([f"clip{r}".encode() for r in rows])
  return tf.data.Dataset.from_tensor_slices((inputs, rows % 3)).batch(3)


def test_with_targets_gives_every_output_a_target():
  inputs, targets = next(iter(classifier.with_targets(
      _dataset(), ["logits", "spatial_attention"])))
  np.testing.assert_array_equal(inputs["x"][:, 0], [0, 1, 2])
  np.testing.assert_array_equal(targets["logits"], [0, 1, 2])
  assert targets["spatial_attention"].dtype == tf.float32
  np.testing.assert_array_equal(targets["spatial_attention"], [0, 0, 0])


def test_strip_names_drops_only_the_names():
  inputs, label = next(iter(classifier.strip_names(_dataset())))
  assert sorted(inputs) == ["extra", "x"]
  np.testing.assert_array_equal(label, [0, 1, 2])


def _fake_model(seen):
  def model(inputs, training=None):
    assert training is False
    seen.append(sorted(inputs))
    return {"logits": inputs["x"] * 2.0, "attention": inputs["x"][:, :1]}
  return model


def test_predict_dataset_collects_outputs_labels_and_names_in_order():
  seen = []
  outputs, labels, names = classifier.predict_dataset(
      _fake_model(seen), _dataset(), ["x"], keys=("logits", "attention"))
  assert seen == [["x"], ["x"]]  # only the model's inputs are passed
  np.testing.assert_array_equal(outputs["logits"],
                                [[0, 0], [2, -2], [4, -4], [6, -6]])
  np.testing.assert_array_equal(outputs["attention"], [[0], [1], [2], [3]])
  assert outputs["logits"].dtype == np.float32
  np.testing.assert_array_equal(labels, [0, 1, 2, 0])
  assert names == ["clip0", "clip1", "clip2", "clip3"]


def test_predict_dataset_without_names_or_batches():
  _, _, names = classifier.predict_dataset(
      _fake_model([]), _dataset(with_names=False), ["x"])
  assert names == []
  empty = _dataset().take(0)
  outputs, labels, names = classifier.predict_dataset(
      _fake_model([]), empty, ["x"])
  assert outputs["logits"].shape == (0,) and labels.shape == (0,)
  assert names == []


def test_compiled_loss_is_the_cross_entropy_of_the_logits_alone():
  x = keras.Input((2,), name="x")
  model = keras.Model({"x": x}, {
      "logits": keras.layers.Dense(3, name="logits")(x),
      "attention": keras.layers.Dense(1, name="attention")(x)})
  classifier.compile_classifier(model, 1e-3,
                                output_names=("logits", "attention"))
  ds = classifier.with_targets(
      classifier.strip_names(_dataset()).map(
          lambda inputs, label: ({"x": inputs["x"]}, label)),
      ["logits", "attention"])
  results = model.evaluate(ds, verbose=0, return_dict=True)
  features = np.array([[0, 0], [1, -1], [2, -2], [3, -3]], np.float32)
  labels = np.array([0, 1, 2, 0])
  logits = np.asarray(model({"x": features})["logits"], np.float64)
  log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  expected = -log_softmax[np.arange(4), labels]
  # Keras averages per batch, then over batches weighted by batch size:
  # the mean over the 4 rows. float32 sums of 4 terms: 1e-6 relative.
  assert results["loss"] == pytest.approx(expected.mean(), rel=1e-5)
  assert results["logits_accuracy"] == pytest.approx(
      np.mean(logits.argmax(-1) == labels))


def test_learning_rate_schedules():
  assert classifier.learning_rate_schedule(1e-3, "constant") == 1e-3
  cosine = classifier.learning_rate_schedule(1e-3, "cosine", 100)
  # float32 arithmetic of a few operations: relative error ~1e-7, bounded
  # by 1e-6 (and 1e-5 where cos(pi/2) rounds to ~4e-8, not 0).
  np.testing.assert_allclose(float(cosine(0)), 1e-3, rtol=1e-6)
  np.testing.assert_allclose(float(cosine(50)), 5e-4, rtol=1e-5)
  assert float(cosine(100)) == 0.0
  with pytest.raises(ValueError, match="lr_schedule must be one of"):
    classifier.learning_rate_schedule(1e-3, "step", 100)
  with pytest.raises(ValueError, match="needs the run's total steps"):
    classifier.learning_rate_schedule(1e-3, "cosine", 0)
