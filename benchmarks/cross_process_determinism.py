r"""Do two processes with one seed train the same RGB-stream weights?

In one process every stage repeats bitwise
(``tests/training/test_determinism.py``). Across processes this trains each
ablation for a few steps twice, in two fresh Python processes with the same
seed, on a finished demo's data, and prints the largest weight difference.
A run with learning rate 0 checks that the initial weights agree, so a
difference comes from the training steps.

  python3 benchmarks/cross_process_determinism.py --demo_dir=demo_output
  # the same with TF_ENABLE_ONEDNN_OPTS=0, or --op_determinism, or
  # --intra_op_threads=1, to see which of them removes a difference
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np

flags.DEFINE_string("demo_dir", "demo_output", "A finished demo's output.")
flags.DEFINE_list("ablations", ["B", "C", "E", "G"], "RGB rows to check.")
flags.DEFINE_integer("steps", 6, "Training steps (2 epochs of steps / 2).")
flags.DEFINE_boolean("op_determinism", False,
                     "tf.config.experimental.enable_op_determinism().")
flags.DEFINE_integer("intra_op_threads", 0, "0: TensorFlow's default.")
FLAGS = flags.FLAGS

# Run in a child process: the stage, then the best model's weights to .npz.
_CHILD = r"""
import sys
import numpy as np
import tensorflow as tf
from posedriven.training import best_model, train_rgb
demo, ablation, out, lr, steps, det, intra = sys.argv[1:8]
if int(intra):
  tf.config.threading.set_intra_op_parallelism_threads(int(intra))
if det == "1":
  tf.config.experimental.enable_op_determinism()
train_rgb.train_rgb(out, f"{demo}/tfrecords", f"{demo}/runs/pose",
                    ablation=ablation, batch_size=16, learning_rate=float(lr),
                    epochs=2, steps_per_epoch=int(steps) // 2, patience=None,
                    lstm_units=128, feature_units=128,
                    validation_fraction=0.0, keep_checkpoints=0, seed=0,
                    verbose=0, num_attention_images=0)
np.savez(out + ".npz", *best_model.load_best_model(out).get_weights())
"""


def train_twice(demo_dir: str, ablation: str, learning_rate: float,
                steps: int, op_determinism: bool, intra: int
                ) -> list[float]:
  """Per-weight max |difference| between two child processes' results."""
  with tempfile.TemporaryDirectory() as tmp:
    outs = []
    for k in range(2):
      out = os.path.join(tmp, f"run{k}")
      subprocess.run(
          [sys.executable, "-c", _CHILD, demo_dir, ablation, out,
           str(learning_rate), str(steps), str(int(op_determinism)),
           str(intra)], check=True, capture_output=True)
      outs.append(np.load(out + ".npz"))
    return [float(np.abs(outs[0][k] - outs[1][k]).max())
            for k in outs[0].files]


def main(argv):
  del argv
  print(f"op determinism {FLAGS.op_determinism}, intra-op threads "
        f"{FLAGS.intra_op_threads or 'default'}, TF_ENABLE_ONEDNN_OPTS="
        f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}")
  for ablation in FLAGS.ablations:
    initial = train_twice(FLAGS.demo_dir, ablation, 0.0, FLAGS.steps,
                          FLAGS.op_determinism, FLAGS.intra_op_threads)
    trained = train_twice(FLAGS.demo_dir, ablation, 3e-4, FLAGS.steps,
                          FLAGS.op_determinism, FLAGS.intra_op_threads)
    print(f"{ablation}: initial weights max |diff| {max(initial):.3g}; after"
          f" {FLAGS.steps} steps max |diff| {max(trained):.3g}"
          f" ({sum(d > 0 for d in trained)} of {len(trained)} weights"
          " differ)")


if __name__ == "__main__":
  app.run(main)
