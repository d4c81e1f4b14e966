"""tf.distribute strategies: mirrored on 2 logical CPUs, one-worker cluster.

Logical devices must be configured before TensorFlow initialises, so each
case runs in a fresh subprocess.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from posedriven.training import distribute

_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from posedriven.training import distribute, loop
    strategy = distribute.get_strategy(sys.argv[1])
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = (np.arange(32) % 2).astype("int32")
    def build():
      m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
      m.compile("adam", keras.losses.SparseCategoricalCrossentropy(
          from_logits=True))
      return m
    ds = lambda e: tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    model, state = loop.fit_resumable(
        build_model=build, train_dataset_fn=ds, val_dataset=ds(0),
        output_dir=sys.argv[2], epochs=2, seed=0, strategy=strategy, verbose=0)
    print("REPLICAS", strategy.num_replicas_in_sync, "EPOCHS",
          state.epochs_done)
""")


def _run(args, env_extra):
  env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
  env.update(env_extra)
  out = subprocess.run([sys.executable, "-c", _SCRIPT, *args],
                       capture_output=True, text=True, env=env, timeout=300)
  assert out.returncode == 0, out.stderr[-3000:]
  return out.stdout


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus(tmp_path):
  stdout = _run(["mirrored", str(tmp_path)], {})
  assert "REPLICAS 2 EPOCHS 2" in stdout


@pytest.mark.slow
def test_multi_worker_with_one_worker_tf_config(tmp_path):
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  tf_config = {"cluster": {"worker": [f"127.0.0.1:{port}"]},
               "task": {"type": "worker", "index": 0}}
  stdout = _run(["multi_worker", str(tmp_path)],
                {"TF_CONFIG": json.dumps(tf_config)})
  assert "EPOCHS 2" in stdout


def test_unknown_strategy_fails_fast():
  with pytest.raises(ValueError, match="strategy must be one of"):
    distribute.get_strategy("horovod")


def test_multi_worker_without_tf_config_fails_fast(monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  with pytest.raises(ValueError, match="TF_CONFIG"):
    distribute.get_strategy("multi_worker")


def test_is_chief(monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  assert distribute.is_chief()
  monkeypatch.setenv("TF_CONFIG", json.dumps(
      {"cluster": {"worker": ["a:1", "b:1"]},
       "task": {"type": "worker", "index": 1}}))
  assert not distribute.is_chief()
