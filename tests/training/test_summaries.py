"""Hyper-parameters and final metrics for TensorBoard's HParams dashboard."""

from __future__ import annotations

import tensorflow as tf

from posedriven.training import summaries
from tests import helpers


def test_hparam_values_are_scalars_without_run_switches():
  values = summaries.hparam_values({
      "batch_size": 8, "learning_rate": 1e-3, "ablation": "G",
      "mixed_precision": None, "filters": (4, 4), "jit_compile": False,
      "verbose": 0, "overwrite": True})
  assert values == {"batch_size": 8, "learning_rate": 1e-3, "ablation": "G",
                    "mixed_precision": "None", "filters": "(4, 4)",
                    "jit_compile": False}
  assert type(values["batch_size"]) is int
  assert type(values["jit_compile"]) is bool


def test_hparams_and_final_metrics_are_written(tmp_path):
  writer = tf.summary.create_file_writer(str(tmp_path))
  with writer.as_default():
    summaries.write_hparams({"lstm_units": 8, "filters": (4, 4),
                             "verbose": 1})
    summaries.write_final_metrics({"val_loss": 0.25, "val_accuracy": 1},
                                  step=3)
    summaries.write_final_metrics({"top1": 0.5}, step=0, prefix="test")
  writer.close()
  tags = helpers.summaries(tmp_path)
  assert tags["best/val_loss"] == [(3, "scalars")]
  assert tags["best/val_accuracy"] == [(3, "scalars")]
  assert tags["test/top1"] == [(0, "scalars")]
  assert tags["_hparams_/session_start_info"] == [(0, "hparams")]
  assert helpers.hparams(tmp_path) == {"lstm_units": 8, "filters": "(4, 4)"}
  values = {}
  for path in helpers.event_files(tmp_path):
    for event in tf.compat.v1.train.summary_iterator(str(path)):
      for value in event.summary.value:
        if value.tag.startswith(("best/", "test/")):
          values[value.tag] = float(tf.make_ndarray(value.tensor))
  assert values == {"best/val_loss": 0.25, "best/val_accuracy": 1.0,
                    "test/top1": 0.5}
