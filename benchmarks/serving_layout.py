r"""Where batch-1 time goes: the two weight reads the serving layout changes.

  python benchmarks/serving_layout.py
  python benchmarks/serving_layout.py --runs=50

At batch 1 the fused model (paper sizes) is bound by reading weights, and two
reads dominate (``benchmarks/inference.py`` counts them):

* the attention LSTM's gate kernel, 3072 x 4096 (50 MB in float32), read at
  each of the 20 steps. ``keras.layers.LSTMCell`` computes ``x @ W_x + h @
  W_h`` with ``W`` stored ``[in, 4 units]``: a vector times a matrix, which
  walks the matrix by columns. The serving copy
  (``AttentionLSTMCell(fused_gates=True)``) stores ``[4 units, in]`` and
  computes ``W x``: contiguous rows.
* the pose network's last convolution, a 5 x 75 x 64 x 1024 kernel (98 MB)
  covering the whole map, once per pose network (two in the fused model: the
  pose stream and the RGB stream's frozen copy). The serving copy
  (``PoseConvNet(matmul_head=True)``) computes it as one matmul.

Each is timed both ways, in float32 and bfloat16, as 20 chained steps (the
LSTM) or one call (the head), median and minimum over ``--runs`` calls, with
the load average: the machine is shared.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import tensorflow as tf

_RUNS = flags.DEFINE_integer("runs", 20, "Timed calls per figure.")
_STEPS = 20
_UNITS, _INPUT = 1024, 2048 + 1024


def _time(fn) -> tuple[float, float]:
  for _ in range(2):
    fn().numpy()
  times = []
  for _ in range(_RUNS.value):
    start = time.perf_counter()
    fn().numpy()
    times.append(time.perf_counter() - start)
  return 1e3 * statistics.median(times), 1e3 * min(times)


def _lstm_steps(dtype):
  """20 dependent gate products in both layouts (the recurrence's shape)."""
  kernel = tf.random.normal([_INPUT, 4 * _UNITS], stddev=0.02)
  keras_layout = tf.Variable(tf.cast(kernel, dtype))  # [in, 4U]
  fused = tf.Variable(tf.cast(tf.transpose(kernel), dtype))  # [4U, in]
  x = tf.cast(tf.random.normal([1, _INPUT]), dtype)

  def run(product):
    @tf.function
    def steps():
      h = x
      for _ in range(_STEPS):  # each step's input depends on the last
        gates = product(h)
        h = tf.concat([gates[:, :_INPUT - _UNITS],
                       tf.tanh(gates[:, -_UNITS:])], axis=-1)
      return tf.reduce_sum(tf.cast(h, tf.float32))
    return steps

  return {
      "x @ W (LSTMCell layout)": run(lambda h: tf.matmul(h, keras_layout)),
      # As AttentionLSTMCell._fused_lstm writes it (at batch 1 the
      # transposes only reshape a vector).
      "W x (fused_gates)": run(lambda h: tf.transpose(
          tf.matmul(fused, tf.transpose(h)))),
  }


def _pose_head(dtype):
  kernel = tf.Variable(tf.cast(tf.random.normal([5, 75, 64, 1024],
                                                stddev=0.01), dtype))
  x = tf.cast(tf.random.normal([1, 5, 75, 64]), dtype)
  conv = tf.function(lambda: tf.reduce_sum(tf.cast(
      tf.nn.conv2d(x, kernel, 1, "VALID"), tf.float32)))
  matmul = tf.function(lambda: tf.reduce_sum(tf.cast(tf.matmul(
      tf.reshape(x, [1, -1]), tf.reshape(kernel, [-1, 1024])), tf.float32)))
  return {"conv2d (training)": conv, "matmul (matmul_head)": matmul}


def main(argv):
  del argv
  print("command: python " + " ".join(sys.argv))
  print(f"TF {tf.__version__}, {os.cpu_count()} CPUs")
  for dtype in (tf.float32, tf.bfloat16):
    for what, fns in ((f"LSTM gates, {_STEPS} steps, {_INPUT}x{4 * _UNITS}",
                       _lstm_steps(dtype)),
                      ("pose head 5x75x64x1024, 1 call", _pose_head(dtype))):
      for name, fn in fns.items():
        median, low = _time(fn)
        load = "/".join(f"{v:.1f}" for v in os.getloadavg())
        print(f"{dtype.name:8s} {what}: {name}: median {median:.1f} ms,"
              f" min {low:.1f} ms (load {load})")


if __name__ == "__main__":
  app.run(main)
