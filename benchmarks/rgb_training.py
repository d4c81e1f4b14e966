r"""RGB-stream training speed from cached glimpse features (samples/s).

Glimpse features are computed once by preparation and stored, so training the
RGB stream never runs the Inception sensor: it reads ``[B, 20, 4, 2048]``
features and ``[B, 20, 300, 3]`` pose tensors. This benchmark holds such
inputs in memory (random values of paper sizes, a ``tf.data`` pipeline over
them with ``repeat``/``batch``/``prefetch``), builds the paper-size RGB stream
G (LSTM 1024, frozen pose network inside) compiled as ``train_rgb`` compiles
it, and times ``--steps`` training steps after ``--warmup`` steps.

Run from the repository root::

  python benchmarks/rgb_training.py
  python benchmarks/rgb_training.py --batch_size=64 --steps=10 --jit_compile
"""

from __future__ import annotations

import os
import statistics
import sys
import time

# Runs from a checkout without installing the package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import keras
import numpy as np
import tensorflow as tf

from posedriven.models import streams
from posedriven.training import classifier

_BATCH = flags.DEFINE_integer("batch_size", 32, "Clips per training step.")
_STEPS = flags.DEFINE_integer("steps", 5, "Timed training steps.")
_WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed steps (tracing).")
_CLIPS = flags.DEFINE_integer("num_clips", 128, "Clips held in memory.")
_CLASSES = flags.DEFINE_integer("num_classes", 60, "Classes (NTU: 60).")
_LSTM = flags.DEFINE_integer("lstm_units", 1024, "LSTM units (paper: 1024).")
_GLIMPSE = flags.DEFINE_integer("glimpse_dim", 2048, "D (paper: 2048).")
_ABLATION = flags.DEFINE_enum("ablation", "G", list(streams.ABLATIONS),
                              "Table 6 row of the RGB stream.")
_JIT = flags.DEFINE_boolean("jit_compile", False, "XLA-compile the step.")
_OUTPUTS = ("logits", "spatial_attention", "temporal_attention")


def _dataset(rng: np.random.Generator) -> tf.data.Dataset:
  n = _CLIPS.value
  # float16 as stored by preparation; the reader casts to float32.
  glimpses = rng.uniform(0, 1, size=(n, 20, 4, _GLIMPSE.value)).astype(
      np.float16)
  pose = rng.normal(size=(n, 20, 300, 3)).astype(np.float32)
  labels = rng.integers(0, _CLASSES.value, size=(n,))
  ds = tf.data.Dataset.from_tensor_slices(
      ({"pose": pose, "glimpses": glimpses}, labels))
  ds = ds.map(lambda x, y: ({"pose": x["pose"],
                             "glimpses": tf.cast(x["glimpses"], tf.float32)},
                            y))
  ds = ds.repeat().batch(_BATCH.value, drop_remainder=True)
  ds = classifier.with_targets(ds, _OUTPUTS)
  return ds.prefetch(tf.data.AUTOTUNE)


def main(argv):
  del argv
  print("command: python " + " ".join(sys.argv))
  print(f"TF {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} "
        f"CPUs, devices "
        f"{[d.device_type for d in tf.config.list_physical_devices()]}, "
        f"load average {os.getloadavg()[0]:.1f}")
  keras.utils.set_random_seed(0)
  pose_model = streams.build_pose_stream(_CLASSES.value)
  model = streams.build_rgb_stream(
      _CLASSES.value, pose_network=pose_model.pose_network,
      lstm_units=_LSTM.value, glimpse_dim=_GLIMPSE.value,
      **streams.ABLATIONS[_ABLATION.value])
  classifier.compile_classifier(model, 1e-4, _JIT.value, _OUTPUTS)
  trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
  print(f"RGB stream {_ABLATION.value}: {trainable / 1e6:.1f} M trainable"
        f" parameters, batch {_BATCH.value}, T=20, N=4, "
        f"D={_GLIMPSE.value}, LSTM {_LSTM.value}, jit_compile={_JIT.value}")

  batches = iter(_dataset(np.random.default_rng(0)))
  start = time.perf_counter()
  model.train_on_batch(*next(batches))
  print(f"first step (tracing): {time.perf_counter() - start:.1f} s",
        flush=True)
  for _ in range(_WARMUP.value - 1):
    model.train_on_batch(*next(batches))
  wall, cpu = [], []
  for _ in range(_STEPS.value):
    x, y = next(batches)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    loss = model.train_on_batch(x, y)
    wall.append(time.perf_counter() - start_wall)
    cpu.append(time.process_time() - start_cpu)
  step = statistics.median(wall)
  print(f"last loss {np.ravel(loss)[0]:.3f} (finite: "
        f"{bool(np.all(np.isfinite(loss)))})")
  print()
  print("| batch | median step, wall (s) | min step (s) | median step, CPU (s)"
        " | samples/s (median) |")
  print("| --- | --- | --- | --- | --- |")
  print(f"| {_BATCH.value} | {step:.3f} | {min(wall):.3f} | "
        f"{statistics.median(cpu):.3f} | {_BATCH.value / step:.1f} |")


if __name__ == "__main__":
  app.run(main)
