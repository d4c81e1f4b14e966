"""The training pipeline served by tf.data service (in-process, 127.0.0.1)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from posedriven.data import pipeline
from posedriven.data import prepared_data
from posedriven.training import train_pose


@pytest.fixture(scope="module")
def data_service():
  dispatcher = tf.data.experimental.service.DispatchServer(
      tf.data.experimental.service.DispatcherConfig(port=0))
  address = dispatcher.target.split("://")[1]
  worker = tf.data.experimental.service.WorkerServer(
      tf.data.experimental.service.WorkerConfig(
          dispatcher_address=address, worker_address="127.0.0.1:%port%",
          port=0))
  yield dispatcher.target
  worker.stop()
  dispatcher.stop()


def _epoch(ds):
  poses, labels = [], []
  for inputs, label in ds:
    poses.append(inputs["pose"].numpy())
    labels.append(label.numpy())
  return np.concatenate(poses), np.concatenate(labels)


@pytest.mark.slow
def test_served_stream_equals_the_local_one(tiny_prepared, data_service):
  pattern = prepared_data.load_prepared(tiny_prepared).pattern("train")
  kwargs = dict(batch_size=3, seed=5, validation=None, features="none")
  local = _epoch(pipeline.train_dataset(pattern, **kwargs))
  served = _epoch(pipeline.train_dataset(pattern, data_service=data_service,
                                         **kwargs))
  assert len(local[1]) == 8
  np.testing.assert_array_equal(served[1], local[1])
  np.testing.assert_array_equal(served[0], local[0])


@pytest.mark.slow
def test_a_training_run_reads_from_the_service(tiny_prepared, data_service,
                                                tmp_path):
  summary = train_pose.train_pose(
      tmp_path / "pose", tiny_prepared, batch_size=4, epochs=2,
      filters=(4, 4), features=16, validation_fraction=0.0, patience=None,
      data_service=data_service, verbose=0)
  assert summary["epochs"] == 2 and np.isfinite(summary["best"]["loss"])
