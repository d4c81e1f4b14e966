"""Pieces shared by the training and evaluation stages."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any, Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf

from posedriven.data.formats import registry
# Registers the custom layers that saved models reference.
from posedriven.models import streams  # pylint: disable=unused-import
from posedriven.training import run_dir
from posedriven.training import transfer

PRECISIONS = (None, "float32", "mixed_bfloat16", "mixed_float16")


def check_precision(policy: str | None) -> None:
  """Raises ValueError naming ``mixed_precision`` unless it is known."""
  if policy not in PRECISIONS:
    raise ValueError(f"mixed_precision must be one of {PRECISIONS[1:]} or "
                     f"None; got {policy!r}")


@contextlib.contextmanager
def precision(policy: str | None) -> Iterator[None]:
  """Sets the Keras dtype policy for the block, restoring the previous one."""
  check_precision(policy)
  previous = keras.config.dtype_policy()
  if policy is not None:
    keras.config.set_dtype_policy(policy)
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


def compile_classifier(model: keras.Model, learning_rate: float,
                       jit_compile: bool | str = False,
                       output_names: Sequence[str] = ("logits",)
                       ) -> keras.Model:
  """Adam + cross-entropy on the ``logits`` output (the only one with a loss).

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


def load_best_model(run: str | Path) -> keras.Model:
  path = Path(run) / run_dir.BEST_MODEL
  if not path.is_file():
    raise FileNotFoundError(
        f"{run} has no {run_dir.BEST_MODEL}; train it first")
  logging.info("Loading %s", path)
  # safe_mode: a .keras file may not run Python code (README, "Trust model").
  return keras.models.load_model(path, safe_mode=True)


def transfer_from_run(init_from: str | Path, model: keras.Model, *,
                      dataset: str, class_layer: str,
                      reinitialise: Sequence[str] = (),
                      keep: Sequence[str] = ()) -> list[dict[str, Any]]:
  """Starts ``model`` from the best model of the run ``init_from``.

  The class layer is copied too when the source run's dataset has the same
  class list as ``dataset`` (``transfer.transfer_weights`` for the rest).
  """
  source_dataset = run_dir.read_stage_info(init_from)["dataset"]
  return transfer.transfer_weights(
      load_best_model(init_from), model, source_run=str(init_from),
      class_layer=class_layer,
      copy_class_layer=(registry.class_names(source_dataset) ==
                        registry.class_names(dataset)),
      reinitialise=reinitialise, keep=keep)
