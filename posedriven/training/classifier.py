"""Training and running the classifiers: loss on the logits, data for fit.

The pose and RGB models return a dict of outputs (``logits`` and the
attention maps); only the logits have a loss and metrics. Keras 3 still
wants a target per output, which :func:`with_targets` supplies;
:func:`predict_dataset` runs a model over an evaluation dataset.
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf


LR_SCHEDULES = ("constant", "cosine")


def check_schedule(schedule: str) -> None:
  if schedule not in LR_SCHEDULES:
    raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got"
                     f" {schedule!r}")


def learning_rate_schedule(learning_rate: float, schedule: str,
                           total_steps: int | None = None):
  """Adam's learning rate: a constant or a cosine decay to 0.

  ``cosine`` decays over ``total_steps`` optimizer steps (the run's epochs
  times its steps per epoch). The optimizer's step count is part of the
  backup, so a resumed run continues the curve where it stopped.
  """
  check_schedule(schedule)
  if schedule == "constant":
    return learning_rate
  if not total_steps or total_steps < 1:
    raise ValueError(f"a {schedule} schedule needs the run's total steps,"
                     f" got {total_steps!r}")
  return keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)


def compile_classifier(model: keras.Model, learning_rate,
                       jit_compile: bool | str = False,
                       output_names: Sequence[str] = ("logits",)
                       ) -> keras.Model:
  """Adam + cross-entropy on the ``logits`` output (the only one with a loss).

  ``learning_rate`` is a float or a schedule (:func:`learning_rate_schedule`).
  The other outputs (attention maps) get no loss; Keras 3 still wants a
  target per output, which :func:`with_targets` supplies.
  """
  losses = {name: None for name in output_names}
  losses["logits"] = keras.losses.SparseCategoricalCrossentropy(
      from_logits=True)
  model.compile(
      optimizer=keras.optimizers.Adam(learning_rate),
      loss=losses,
      metrics={"logits": [
          keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
          keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5")]},
      jit_compile=jit_compile)
  return model


def with_targets(dataset: tf.data.Dataset, output_names) -> tf.data.Dataset:
  """``(inputs, label)`` -> ``(inputs, {output: label or placeholder})``."""
  names = list(output_names)

  def targets(inputs, label):
    placeholder = tf.zeros_like(label, tf.float32)
    return inputs, {n: (label if n == "logits" else placeholder)
                    for n in names}
  return dataset.map(targets)


def strip_names(dataset: tf.data.Dataset) -> tf.data.Dataset:
  """Drops ``inputs["name"]`` (clip names), which no model takes."""
  return dataset.map(lambda inputs, label: (
      {k: v for k, v in inputs.items() if k != "name"}, label))


def predict_dataset(model: keras.Model, dataset: tf.data.Dataset,
                    input_keys: Sequence[str],
                    keys: Sequence[str] = ("logits",)
                    ) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
  """Runs ``model`` over an evaluation dataset.

  Args:
    model: Returns a dict of outputs.
    dataset: ``(inputs, labels)`` batches (``eval_dataset``).
    input_keys: The inputs the model takes.
    keys: The outputs to collect.

  Returns:
    Outputs by key (rows as in the dataset), labels, and names (when the
    dataset carries ``inputs["name"]``, else empty).
  """
  outputs: dict[str, list[np.ndarray]] = {k: [] for k in keys}
  labels, names = [], []
  for inputs, label in dataset:
    if "name" in inputs:
      names.extend(n.decode("utf-8") for n in inputs["name"].numpy())
    result = model({k: inputs[k] for k in input_keys}, training=False)
    for k in keys:
      outputs[k].append(keras.ops.convert_to_numpy(result[k]).astype(
          np.float32))
    labels.append(label.numpy())
  stacked = {k: np.concatenate(v) if v else np.zeros((0,), np.float32)
             for k, v in outputs.items()}
  return stacked, (np.concatenate(labels) if labels else
                   np.zeros((0,), np.int64)), names
