r"""Trains the pose stream (paper, section 4).

  python tools/train_pose.py --data_dir=/data/ntu60_cs --output_dir=runs/pose \
    --gin_files=pose/ntu60_cs.gin [--strategy=mirrored] [--mixed_precision=mixed_bfloat16]

Hyper-parameters are keywords of ``posedriven.training.train_pose.train_pose``
(gin). ``--strategy``, ``--mixed_precision``, ``--jit_compile`` and
``--overwrite`` are shorthands for the gin bindings of the same names.
"""

from absl import app
from absl import flags

from posedriven import console

# Before TensorFlow loads: its native start-up lines (posedriven.console).
console.filter_native_logs()

from posedriven import config
from posedriven.training import train_pose

flags.DEFINE_string("output_dir", None, "Run directory.", required=True)
flags.DEFINE_string("data_dir", None, "Prepared TFRecords.", required=True)
flags.DEFINE_multi_string("gin_files", [], "Gin config files.")
flags.DEFINE_multi_string("gin_bindings", [], "Gin bindings.")
flags.DEFINE_enum("strategy", None,
                  ["default", "mirrored", "multi_worker", "tpu"],
                  "tf.distribute strategy.")
flags.DEFINE_enum("mixed_precision", None,
                  ["float32", "mixed_bfloat16", "mixed_float16"],
                  "Keras dtype policy.")
flags.DEFINE_boolean("jit_compile", None, "XLA-compile the train step.")
flags.DEFINE_boolean("overwrite", None,
                     "Delete a finished run in output_dir and train again"
                     " (an unfinished run is always resumed).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  config.parse_gin(FLAGS.gin_files, FLAGS.gin_bindings, {
      "train_pose.strategy": FLAGS.strategy,
      "train_pose.mixed_precision": FLAGS.mixed_precision,
      "train_pose.jit_compile": FLAGS.jit_compile,
      "train_pose.overwrite": FLAGS.overwrite})
  print(train_pose.train_pose(FLAGS.output_dir, FLAGS.data_dir))


def run():
  app.run(main)


if __name__ == "__main__":
  run()
