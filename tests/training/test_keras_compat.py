"""The multi-worker Keras workaround: still needed, and scoped to one fit.

``test_keras_still_has_the_bugs`` runs unpatched Keras on a real two-worker
cluster (two processes on 127.0.0.1) and asserts that both bugs are still
there: when it fails, Keras has fixed one, and the workaround (or its half)
is to be deleted.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from posedriven.training import keras_compat
from tests import helpers
from tests.training.test_multi_worker import _free_ports

TRAINER = keras_compat._TRAINER_MODULE  # pylint: disable=protected-access

# One worker of the cluster: fits a tiny dict-input model three ways and
# prints what happened as one JSON line.
WORKER = """
import json
import tensorflow as tf
# Before any other TensorFlow op (collectives are configured at creation).
strategy = tf.distribute.MultiWorkerMirroredStrategy()
from posedriven.training import keras_compat
from tests.training.test_keras_compat import tiny_data, tiny_model

data = tf.data.Dataset.from_tensor_slices(tiny_data()).batch(4)
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = (
    tf.data.experimental.AutoShardPolicy.DATA)
data = data.with_options(options)

def fit(model):
  try:
    return float(model.fit(data, epochs=1, verbose=0).history["loss"][-1])
  except Exception as e:
    return f"{type(e).__name__}: {e}".splitlines()[0][:300]

result = {}
with strategy.scope():
  model = tiny_model()
result["unpatched"] = fit(model)
# The first bug worked around by hand, to reach the second.
with strategy.scope():
  model = tiny_model()
keras_compat.build_from_local_batch(model, strategy, data)
model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
result["first_bug_avoided"] = fit(model)
with strategy.scope():
  model = tiny_model()
keras_compat.build_from_local_batch(model, strategy, data)
trainer = keras_compat._trainer_module()
original = trainer.reduce_per_replica
with keras_compat.multi_worker_fit(model):
  result["patched"] = fit(model)
result["restored"] = (trainer.reduce_per_replica is original and
                      "_maybe_symbolic_build" not in vars(model))
print("RESULT " + json.dumps(result))
"""


def tiny_model() -> keras.Model:
  """A compiled dict-input model: the batches are nests, as the stages'."""
  keras.utils.set_random_seed(0)
  inputs = keras.Input((3,), name="pose")
  model = keras.Model({"pose": inputs},
                      keras.layers.Dense(2, name="logits")(inputs))
  model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(True))
  return model


def tiny_data() -> tuple[dict[str, np.ndarray], np.ndarray]:
  """16 examples for :func:`tiny_model`."""
  rng = np.random.default_rng(0)
  return ({"pose": rng.normal(size=(16, 3)).astype("float32")},
          rng.integers(0, 2, 16))


def _trainer():
  return keras_compat._trainer_module()  # pylint: disable=protected-access


def test_parse_version():
  assert keras_compat.parse_version("3.15.1") == (3, 15, 1)
  assert keras_compat.parse_version("3.16.0.dev2026") == (3, 16, 0)
  assert keras_compat.parse_version("3.16") == (3, 16)
  with pytest.raises(ValueError, match="'nightly'"):
    keras_compat.parse_version("nightly")


def test_version_check_names_the_module_for_another_keras():
  for version in ("2.15.0", "4.0.0"):
    with pytest.raises(RuntimeError, match="keras_compat.py") as error:
      keras_compat.check_keras_version(version)
    assert version in str(error.value)


def test_installed_keras_is_checked_quietly(caplog):
  # The installed Keras is the one the workaround was checked on (BUILD_NOTES
  # pins it); a newer one would be logged, as the next test shows.
  with caplog.at_level(logging.WARNING):
    assert keras_compat.check_keras_version() == keras_compat.parse_version(
        keras.__version__)
  assert not caplog.records


def test_newer_keras_is_patched_but_logged(caplog):
  with caplog.at_level(logging.WARNING):
    assert keras_compat.check_keras_version("3.99.0") == (3, 99, 0)
  assert "test_keras_still_has_the_bugs" in caplog.text


def test_patch_is_active_only_inside_the_call():
  trainer = _trainer()
  original = trainer.reduce_per_replica
  model = tiny_model()
  assert "_maybe_symbolic_build" not in vars(model)
  with keras_compat.multi_worker_fit(model):
    assert trainer.reduce_per_replica is not original
    assert "_maybe_symbolic_build" in vars(model)
  assert trainer.reduce_per_replica is original
  assert "_maybe_symbolic_build" not in vars(model)
  # Restored when fit fails, too.
  with pytest.raises(ZeroDivisionError):
    with keras_compat.multi_worker_fit(model):
      _ = 1 / 0
  assert trainer.reduce_per_replica is original
  assert "_maybe_symbolic_build" not in vars(model)


def test_patched_fit_on_one_worker_computes_the_same():
  # On one worker the patched reduction falls through to Keras' own.
  x, y = tiny_data()
  plain, patched = tiny_model(), tiny_model()
  plain.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
  patched.build({"pose": (None, 3)})
  with keras_compat.multi_worker_fit(patched):
    patched.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
  for a, b in zip(plain.get_weights(), patched.get_weights()):
    np.testing.assert_array_equal(a, b)


def _run_cluster(tmp_path) -> list[dict]:
  ports = _free_ports(2)
  processes = []
  for index in range(2):
    env = helpers.subprocess_env()
    env["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
        "task": {"type": "worker", "index": index}})
    env["TMPDIR"] = str(tmp_path)
    processes.append(subprocess.Popen(
        [sys.executable, "-c", WORKER], cwd=helpers.REPO_ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
  results = []
  try:
    for process in processes:
      output, _ = process.communicate(timeout=240)
      assert process.returncode == 0, output[-3000:]
      lines = [l for l in output.splitlines() if l.startswith("RESULT ")]
      assert lines, output[-3000:]
      results.append(json.loads(lines[-1][len("RESULT "):]))
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
  return results


@pytest.mark.slow
def test_keras_still_has_the_bugs(tmp_path):
  """Fails when Keras fixes a bug: then delete keras_compat (or its half)."""
  fixed = (f"Keras {keras.__version__} no longer has the multi-worker bug "
           "'{}': delete that half of posedriven/training/keras_compat.py "
           "(both halves fixed: the module and its uses in training/loop.py)")
  for result in _run_cluster(tmp_path):
    unpatched, half = result["unpatched"], result["first_bug_avoided"]
    assert isinstance(unpatched, str), fixed.format("strategy.reduce of the"
                                                    " first batch")
    assert "Attempt to convert a value" in unpatched, unpatched
    assert isinstance(half, str), fixed.format("reduce_per_replica axis=0")
    assert "Invalid reduction dimension" in half, half
    # The workaround does its job, and leaves nothing behind.
    assert isinstance(result["patched"], float), result["patched"]
    assert np.isfinite(result["patched"])
    assert result["restored"]
