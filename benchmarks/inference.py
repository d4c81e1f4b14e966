r"""Inference speed of the fused two-stream model from glimpse features.

Builds the paper-size model (untrained: speed does not depend on the weights):
pose stream (W=300, 1024-d f_sk) + RGB stream G (D=2048, LSTM 1024, spatial
and temporal attention) fused at logit level, exports it with
``posedriven.export.saved_model.write_saved_model`` (``from_features``
signature) and times, for the reloaded SavedModel and for the Keras model
(``predict_on_batch``, a compiled tf.function):

* latency of one sub-sequence (batch 1: pose tensor [1, 20, 300, 3] and
  glimpse features [1, 20, 4, 2048]; pose network, both streams and fusion),
  median over ``--runs`` calls after ``--warmup`` calls;
* latency of one clip (batch 10: the 10 evaluation sub-sequences);
* throughput at ``--batch_size`` (64) in sub-sequences/s, median batch time.

Outputs of the two paths are compared first. The glimpse sensor is not part
of this measurement (see ``benchmarks/glimpse_pipeline.py``).

Run from the repository root::

  python benchmarks/inference.py
  python benchmarks/inference.py --runs=50 --batches=10
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

# Runs from a checkout without installing the package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import keras
import numpy as np
import tensorflow as tf

from posedriven.export import saved_model
from posedriven.models import streams

_CLASSES = flags.DEFINE_integer("num_classes", 60, "Classes (NTU: 60).")
_LSTM = flags.DEFINE_integer("lstm_units", 1024, "LSTM units (paper: 1024).")
_GLIMPSE = flags.DEFINE_integer("glimpse_dim", 2048, "D (paper: 2048).")
_BATCH = flags.DEFINE_integer("batch_size", 64, "Throughput batch size.")
_RUNS = flags.DEFINE_integer("runs", 30, "Timed calls per latency figure.")
_BATCHES = flags.DEFINE_integer("batches", 5, "Timed throughput batches.")
_WARMUP = flags.DEFINE_integer("warmup", 3, "Untimed calls before timing.")
_CLIP = 10  # evaluation sub-sequences per clip (paper, section 4)


def _inputs(batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
  return {
      "pose": rng.normal(size=(batch, 20, 300, 3)).astype(np.float32),
      "glimpses": rng.uniform(0, 1, size=(batch, 20, 4, _GLIMPSE.value))
                  .astype(np.float32),
  }


def _median_times(fns: dict[str, Callable[[Any], Any]], inputs, runs: int,
                  warmup: int) -> dict[str, tuple[float, float]]:
  """Median (wall, CPU) seconds per call of each function.

  Calls go round-robin over the functions: the machine is shared, so load
  drifts, and interleaving spreads it over all paths alike. CPU time (all
  threads of this process) is less sensitive to other processes.
  """
  for fn in fns.values():
    for _ in range(warmup):
      fn(inputs)
  wall: dict[str, list[float]] = {name: [] for name in fns}
  cpu: dict[str, list[float]] = {name: [] for name in fns}
  for _ in range(runs):
    for name, fn in fns.items():
      start_wall, start_cpu = time.perf_counter(), time.process_time()
      fn(inputs)
      wall[name].append(time.perf_counter() - start_wall)
      cpu[name].append(time.process_time() - start_cpu)
  return {name: (statistics.median(wall[name]), statistics.median(cpu[name]))
          for name in fns}


def main(argv):
  del argv
  print("command: python " + " ".join(sys.argv))
  print(f"TF {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} "
        f"CPUs, devices "
        f"{[d.device_type for d in tf.config.list_physical_devices()]}, "
        f"load average {os.getloadavg()[0]:.1f}")
  keras.utils.set_random_seed(0)
  pose_model = streams.build_pose_stream(_CLASSES.value)
  rgb_model = streams.build_rgb_stream(
      _CLASSES.value, pose_network=pose_model.pose_network,
      lstm_units=_LSTM.value, glimpse_dim=_GLIMPSE.value)
  model = streams.build_two_stream(pose_model, rgb_model)
  print(f"two-stream A+G: {model.count_params() / 1e6:.1f} M parameters, "
        f"T=20, N=4, D={_GLIMPSE.value}, LSTM {_LSTM.value}, "
        f"{_CLASSES.value} classes")

  with tempfile.TemporaryDirectory() as tmp:
    start = time.perf_counter()
    export_dir = saved_model.write_saved_model(
        os.path.join(tmp, "model"), model, {"benchmark": True})
    print(f"export (from_features only): {time.perf_counter() - start:.1f} s")
    loaded = tf.saved_model.load(str(export_dir))
    signature = loaded.signatures[saved_model.FROM_FEATURES]

    def served(inputs):
      return signature(pose=tf.constant(inputs["pose"]),
                       glimpse_features=tf.constant(inputs["glimpses"]))

    paths = {
        "SavedModel from_features": lambda x: served(x)["logits"].numpy(),
        "Keras predict_on_batch": lambda x: model.predict_on_batch(x)[
            "logits"],
    }
    rng = np.random.default_rng(0)
    check = _inputs(2, rng)
    diff = float(np.max(np.abs(paths["SavedModel from_features"](check) -
                               paths["Keras predict_on_batch"](check))))
    print(f"max |logits SavedModel - Keras| = {diff:.1e}")

    one, clip, batch = (_inputs(1, rng), _inputs(_CLIP, rng),
                        _inputs(_BATCH.value, rng))
    latency = _median_times(paths, one, _RUNS.value, _WARMUP.value)
    clip_latency = _median_times(paths, clip, max(3, _RUNS.value // 3),
                                 _WARMUP.value)
    batch_time = _median_times(paths, batch, _BATCHES.value, 1)

  print()
  print(f"| path | 1 sub-sequence, median wall / CPU (ms) | 1 clip = {_CLIP}"
        f" sub-sequences, median wall / CPU (ms) | batch {_BATCH.value}: "
        "sub-sequences/s (wall) | batch: CPU s per batch |")
  print("| --- | --- | --- | --- | --- |")
  for name in paths:
    print(f"| {name} | {1e3 * latency[name][0]:.1f} / "
          f"{1e3 * latency[name][1]:.1f} | {1e3 * clip_latency[name][0]:.1f}"
          f" / {1e3 * clip_latency[name][1]:.1f} | "
          f"{_BATCH.value / batch_time[name][0]:.1f} | "
          f"{batch_time[name][1]:.2f} |")


if __name__ == "__main__":
  app.run(main)
