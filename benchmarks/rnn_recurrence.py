"""Times one training step of the RGB stream for each way to run its recurrence.

The spatially attended LSTM (``SpatialAttentionLSTM``) runs T=20 steps; the
candidates are a symbolic while-loop (``unroll=False``), straight-line ops
(``unroll=True``), each with and without XLA (``compile(jit_compile=True)``).
Every variant starts from the same weights and must reproduce the reference
(while-loop, no XLA) outputs and post-step weights before its time counts.

Run from the repository root (paper sizes, batch 64, the full RGB stream G
with the pose network in it):

  python benchmarks/rnn_recurrence.py
  python benchmarks/rnn_recurrence.py --lstm_units=256 --glimpse_dim=512
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

from posedriven.models import pose_cnn
from posedriven.models import streams

_BATCH = flags.DEFINE_integer("batch_size", 64, "Batch size (paper: 64).")
_LSTM = flags.DEFINE_integer("lstm_units", 1024, "LSTM units (paper: 1024).")
_GLIMPSE = flags.DEFINE_integer("glimpse_dim", 2048, "D (paper: 2048).")
_CLASSES = flags.DEFINE_integer("num_classes", 60, "Classes (NTU: 60).")
_STEPS = flags.DEFINE_integer("steps", 5, "Timed training steps per variant.")
_WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed steps (tracing, XLA).")
_SEED = 0

VARIANTS = (
    ("while-loop (unroll=False)", False, False),
    ("unrolled (unroll=True)", True, False),
    ("while-loop + XLA", False, True),
    ("unrolled + XLA", True, True),
)


def _model(unroll: bool, jit_compile: bool) -> keras.Model:
  keras.utils.set_random_seed(_SEED)
  pose_network = pose_cnn.PoseConvNet(name="pose_cnn")
  model = streams.build_rgb_stream(_CLASSES.value, pose_network=pose_network,
                                   lstm_units=_LSTM.value,
                                   glimpse_dim=_GLIMPSE.value, dropout=0.0,
                                   unroll=unroll)
  model.compile(
      # SGD: Adam's first step is ~lr * sign(grad), which flips on near-zero
      # gradients and would hide real differences between variants.
      optimizer=keras.optimizers.SGD(0.1),
      loss={"logits": keras.losses.SparseCategoricalCrossentropy(
          from_logits=True)},
      jit_compile=jit_compile)
  return model


def _batch(rng: np.random.Generator):
  b = _BATCH.value
  inputs = {
      "pose": rng.normal(size=(b, 20, 300, 3)).astype("float32"),
      "glimpses": rng.uniform(0, 1, size=(b, 20, 4, _GLIMPSE.value)).astype(
          "float32"),
  }
  labels = {"logits": rng.integers(0, _CLASSES.value, size=(b,))}
  return inputs, labels


def main(argv):
  del argv
  print(f"TF {tf.__version__}, Keras {keras.__version__}, "
        f"{os.cpu_count()} CPUs, devices "
        f"{[d.device_type for d in tf.config.list_physical_devices()]}")
  print(f"RGB stream G: batch {_BATCH.value}, T=20, N=4, D={_GLIMPSE.value}, "
        f"LSTM {_LSTM.value}, {_CLASSES.value} classes")
  inputs, labels = _batch(np.random.default_rng(_SEED))
  models, checks, firsts = [], [], []
  reference = None
  for label, unroll, jit_compile in VARIANTS:
    model = _model(unroll, jit_compile)
    if reference is None:
      initial = [w.numpy() for w in model.weights]
    else:
      model.set_weights(initial)
    outputs = model.predict_on_batch(inputs)
    start = time.perf_counter()
    model.train_on_batch(inputs, labels)
    firsts.append(time.perf_counter() - start)
    weights = [w.numpy() for w in model.weights]
    if reference is None:
      reference = (outputs, weights)
    out_err = max(float(np.max(np.abs(outputs[k] - reference[0][k])))
                  for k in outputs)
    weight_err = max(float(np.max(np.abs(a - b)))
                     for a, b in zip(weights, reference[1]))
    checks.append((out_err, weight_err, out_err < 1e-4 and weight_err < 1e-5))
    for _ in range(_WARMUP.value):
      model.train_on_batch(inputs, labels)
    models.append(model)
    print(f"  built and checked: {label}", flush=True)

  # Round-robin: the machine is shared, so load drifts; interleaving spreads
  # it over all variants alike. CPU time (all threads) is less sensitive to
  # other processes than wall time.
  wall = [[] for _ in models]
  cpu = [[] for _ in models]
  for _ in range(_STEPS.value):
    for i, model in enumerate(models):
      start_wall, start_cpu = time.perf_counter(), time.process_time()
      model.train_on_batch(inputs, labels)
      wall[i].append(time.perf_counter() - start_wall)
      cpu[i].append(time.process_time() - start_cpu)

  print()
  print("| variant | first step (s) | median step, wall (s) | min wall (s) | "
        "median step, CPU (s) | max abs out diff | max abs weight diff "
        "after 1 step | correct |")
  print("| --- | --- | --- | --- | --- | --- | --- | --- |")
  rows = []
  for (label, _, _), first, w, c, (out_err, weight_err, correct) in zip(
      VARIANTS, firsts, wall, cpu, checks):
    rows.append((label, statistics.median(w), correct))
    print(f"| {label} | {first:.2f} | {statistics.median(w):.3f} | "
          f"{min(w):.3f} | {statistics.median(c):.3f} | {out_err:.1e} | "
          f"{weight_err:.1e} | {'yes' if correct else 'NO'} |")
  fastest = min((r for r in rows if r[-1]), key=lambda r: r[1])
  print(f"\nfastest correct (median wall): {fastest[0]}")


if __name__ == "__main__":
  app.run(main)
