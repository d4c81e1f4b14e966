r"""Inference speed of the fused two-stream model from glimpse features.

Builds the paper-size model (untrained: speed does not depend on the weights):
pose stream (W=300, 1024-d f_sk) + RGB stream G (D=2048, LSTM 1024, spatial
and temporal attention) fused at logit level, exports it with
``posedriven.export.saved_model.write_saved_model`` (``from_features`` and
``from_features_bfloat16``: serving copies, ``posedriven.export.serving_copy``)
and times, for both reloaded signatures and for the Keras model in its
training layout (``predict_on_batch``, a compiled tf.function):

* latency of one sub-sequence (batch 1: pose tensor [1, 20, 300, 3] and
  glimpse features [1, 20, 4, 2048]; pose network, both streams and fusion),
  median over ``--runs`` calls after ``--warmup`` calls;
* latency of one clip (batch 10: the 10 evaluation sub-sequences);
* throughput at ``--batch_size`` (64) in sub-sequences/s, median batch time.

Outputs of the two paths are compared first. The glimpse sensor is not part
of this measurement (see ``benchmarks/glimpse_pipeline.py``).

In the same run it measures this machine's limits (float32 and bfloat16
matmul GFLOP/s, memory bandwidth of a 50 MB matrix-vector product) and the
model's costs per sub-sequence (FLOPs from TensorFlow's profiler, weight
bytes read at batch 1 in each precision: every weight once and the attention
LSTM's at each of the 20 steps), and reports batch-1 latency as a multiple of
that precision's weight-streaming floor and batch throughput as a fraction of
that precision's matmul peak. The load average is printed with every timing:
on a shared machine, compare figures taken at similar loads.

bfloat16 *agreement* needs trained weights: ``benchmarks/bf16_agreement.py``
measures it on a demo's test clips.

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
from posedriven.export import serving_copy
from posedriven.models import attention_cell
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
                  warmup: int) -> dict[str, tuple[float, float, float]]:
  """Median (wall, CPU) and minimum wall seconds per call of each function.

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
  return {name: (statistics.median(wall[name]), statistics.median(cpu[name]),
                 min(wall[name])) for name in fns}


def _median_seconds(fn: Callable[[], Any], runs: int
                    ) -> tuple[float, float]:
  """(median, minimum) seconds per call."""
  fn()  # traces
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times), min(times)


def machine_limits() -> dict[str, float]:
  """This machine's arithmetic peak and memory bandwidth, as TF reaches them.

  ``matmul_gflops``: a 4096x4096 float32 matmul (bfloat16 too); ``gb_per_s``:
  a 50 MB float32 matrix times a vector, which reads the matrix once, as
  batch-1 inference reads its weights. From the median call, and (``_best``)
  from the fastest: on a shared machine the fastest calls are the ones that
  had the cores, so fastest model call over fastest limit compares like with
  like.
  """
  n = 4096
  out = {}
  for dtype in (tf.float32, tf.bfloat16):
    a = tf.cast(tf.random.normal([n, n]), dtype)
    b = tf.cast(tf.random.normal([n, n]), dtype)
    matmul = tf.function(lambda a=a, b=b: tf.matmul(a, b)[:1, :1])
    median, best = _median_seconds(lambda: matmul().numpy(), 5)
    out[f"matmul_gflops_{dtype.name}"] = 2 * n**3 / median / 1e9
    out[f"matmul_gflops_{dtype.name}_best"] = 2 * n**3 / best / 1e9
  matrix = tf.random.normal([3072, 4096])  # 50.3 MB, the LSTM kernel's size
  vector = tf.random.normal([4096, 1])
  matvec = tf.function(lambda: tf.reduce_sum(tf.matmul(matrix, vector)))
  median, best = _median_seconds(lambda: matvec().numpy(), 50)
  out["gb_per_s"] = matrix.shape.num_elements() * 4 / median / 1e9
  out["gb_per_s_best"] = matrix.shape.num_elements() * 4 / best / 1e9
  return out


def _load() -> str:
  return "load " + "/".join(f"{v:.1f}" for v in os.getloadavg())


def model_costs(model: keras.Model, num_steps: int = 20,
                served: keras.Model | None = None) -> dict[str, float]:
  """FLOPs and weight bytes one sub-sequence costs at batch 1.

  FLOPs come from TensorFlow's profiler on the traced batch-1 forward pass;
  bytes count every weight once, and the attention LSTM's weights once per
  time step (the recurrence reads them again at each of the ``T`` steps);
  ``weight_bytes`` in float32, ``served_weight_bytes`` in ``served``'s
  dtypes (a reduced-precision serving copy). These are the floors the
  targets are set against. A serving copy with ``projected_inputs`` (the
  bfloat16 one: ``serving_copy.PROJECTED_INPUTS``) reads less than that at
  batch 1 (its LSTM input kernel once, not at every step), so
  ``layout_bytes`` (the float32 serving copy) and ``served_layout_bytes``
  (``served``) count what each reads: below those, only a faster memory
  would help.
  """
  from tensorflow.python.profiler import model_analyzer  # pylint: disable=g-import-not-at-top
  from tensorflow.python.profiler import option_builder  # pylint: disable=g-import-not-at-top
  spec = {key: tf.TensorSpec([1, *tensor.shape[1:]], tensor.dtype)
          for key, tensor in model.input.items()}
  graph = tf.function(lambda x: model(x, training=False)).get_concrete_function(
      spec).graph
  flops = model_analyzer.profile(
      graph=graph,
      options=option_builder.ProfileOptionBuilder(
          option_builder.ProfileOptionBuilder.float_operation())
      .with_empty_output().build(),
  ).total_float_ops

  def streamed_bytes(m: keras.Model, layout: bool = False
                     ) -> tuple[float, float]:
    def size(w):
      return int(np.prod(w.shape)) * {"float32": 4, "bfloat16": 2}[w.dtype]

    def read_per_step(layer, w):
      return not (layout and getattr(layer, "projected_inputs", False)
                  and w.path.endswith("/input_gate_kernel"))

    layers = m._flatten_layers()  # pylint: disable=protected-access
    recurrences = [layer for layer in layers if isinstance(
        layer, attention_cell.SpatialAttentionLSTM)]
    per_step = sum(size(w) for layer in recurrences for w in layer.weights
                   if read_per_step(layer, w))
    total = sum(size(w) for w in m.weights)
    return float(total + (num_steps - 1) * per_step), float(per_step)

  weight_bytes, per_step = streamed_bytes(model)
  costs = {"flops": float(flops), "weight_bytes": weight_bytes,
           "recurrent_weight_bytes": per_step,
           "layout_bytes": streamed_bytes(
               serving_copy.serving_model(model, "float32"), True)[0]}
  if served is not None:
    costs["served_weight_bytes"] = streamed_bytes(served)[0]
    costs["served_layout_bytes"] = streamed_bytes(served, True)[0]
  return costs


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
        os.path.join(tmp, "model"), model, {"benchmark": True},
        precisions=serving_copy.PRECISIONS)
    print(f"export (from_features, float32 and bfloat16):"
          f" {time.perf_counter() - start:.1f} s")
    loaded = tf.saved_model.load(str(export_dir))

    def served(name):
      signature = loaded.signatures[name]
      return lambda x: signature(
          pose=tf.constant(x["pose"]),
          glimpse_features=tf.constant(x["glimpses"]))["logits"].numpy()

    paths = {
        "SavedModel from_features": served(saved_model.FROM_FEATURES),
        "SavedModel from_features_bfloat16": served(
            saved_model.signature_name(saved_model.FROM_FEATURES,
                                       "bfloat16")),
        "Keras predict_on_batch (training layout)":
            lambda x: model.predict_on_batch(x)["logits"],
    }
    rng = np.random.default_rng(0)
    check = _inputs(2, rng)
    reference = paths["Keras predict_on_batch (training layout)"](check)
    for name in list(paths)[:2]:
      diff = float(np.max(np.abs(paths[name](check) - reference)))
      print(f"max |logits {name} - Keras| = {diff:.1e}"
            f" (logits up to {np.abs(reference).max():.1e})")

    one, clip, batch = (_inputs(1, rng), _inputs(_CLIP, rng),
                        _inputs(_BATCH.value, rng))
    loads = [_load()]
    latency = _median_times(paths, one, _RUNS.value, _WARMUP.value)
    loads.append(_load())
    clip_latency = _median_times(paths, clip, max(3, _RUNS.value // 3),
                                 _WARMUP.value)
    loads.append(_load())
    batch_time = _median_times(paths, batch, _BATCHES.value, 1)
    loads.append(_load())
  print("load averages (1/5/15 min) before batch 1, clip, batch"
        f" {_BATCH.value} and after: {'; '.join(loads)}")

  limits = machine_limits()
  print(f"machine limits measured at {_load()}")
  costs = model_costs(model, served=serving_copy.serving_model(model,
                                                               "bfloat16"))
  floor_s = costs["weight_bytes"] / (limits["gb_per_s"] * 1e9)
  bf16_floor_s = costs["served_weight_bytes"] / (limits["gb_per_s"] * 1e9)
  layout_floor_s = {
      False: costs["layout_bytes"] / (limits["gb_per_s"] * 1e9),
      True: costs["served_layout_bytes"] / (limits["gb_per_s"] * 1e9)}
  print()
  print(f"machine: matmul {limits['matmul_gflops_float32']:.0f} GFLOP/s"
        f" float32, {limits['matmul_gflops_bfloat16']:.0f} GFLOP/s bfloat16;"
        f" memory {limits['gb_per_s']:.1f} GB/s (50 MB matrix x vector);"
        f" fastest calls: {limits['matmul_gflops_float32_best']:.0f},"
        f" {limits['matmul_gflops_bfloat16_best']:.0f} GFLOP/s,"
        f" {limits['gb_per_s_best']:.1f} GB/s")
  print(f"model, per sub-sequence: {costs['flops'] / 1e9:.2f} GFLOP,"
        f" {costs['weight_bytes'] / 1e9:.2f} GB of float32 weights read at"
        f" batch 1 (attention LSTM {costs['recurrent_weight_bytes'] / 1e6:.1f}"
        f" MB x 20 steps); weight-streaming floor {1e3 * floor_s:.1f} ms;"
        f" bfloat16 copy {costs['served_weight_bytes'] / 1e9:.2f} GB,"
        f" floor {1e3 * bf16_floor_s:.1f} ms; the serving layout reads"
        f" {costs['layout_bytes'] / 1e9:.2f} GB in float32 and"
        f" {costs['served_layout_bytes'] / 1e9:.2f} GB in bfloat16 (LSTM"
        f" input kernel once in bfloat16): floors {1e3 * layout_floor_s[False]:.1f} and"
        f" {1e3 * layout_floor_s[True]:.1f} ms")
  for name in paths:
    bf16 = "bfloat16" in name
    floor, peak = ((bf16_floor_s, limits["matmul_gflops_bfloat16"]) if bf16
                   else (floor_s, limits["matmul_gflops_float32"]))
    seconds, best = latency[name][0], latency[name][2]
    best_floor = floor * limits["gb_per_s"] / limits["gb_per_s_best"]
    rate = _BATCH.value / batch_time[name][0]
    print(f"{name}: batch 1 {1e3 * seconds:.1f} ms = {seconds / floor:.2f}x"
          f" the {'bfloat16' if bf16 else 'float32'} floor (target <= 1.3x;"
          f" {seconds / floor_s:.2f}x the float32 floor); fastest call"
          f" {1e3 * best:.1f} ms = {best / best_floor:.2f}x the floor at the"
          f" fastest bandwidth ({1e3 * best_floor:.1f} ms); batch"
          f" {_BATCH.value} {rate * costs['flops'] / 1e9:.0f} GFLOP/s ="
          f" {rate * costs['flops'] / 1e9 / peak:.0%} of the"
          f" {'bfloat16' if bf16 else 'float32'} matmul peak (target >= 60%)")
    if name.startswith("SavedModel"):
      print(f"  against what the serving layout reads: batch 1"
            f" {seconds / layout_floor_s[bf16]:.2f}x its floor"
            f" ({1e3 * layout_floor_s[bf16]:.1f} ms)")
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
