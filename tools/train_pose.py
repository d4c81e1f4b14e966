r"""Trains the pose stream (paper, section 4).

  python tools/train_pose.py --data_dir=/data/ntu60_cs --output_dir=runs/pose \
    --gin_files=pose/ntu60_cs.gin \
    [--gin_bindings="train_pose.strategy = 'mirrored'"] \
    [--gin_bindings="train_pose.mixed_precision = 'mixed_bfloat16'"]

Every setting but the paths is a keyword of
``posedriven.training.train_pose.train_pose``, set with gin (its error
names the valid strategies and precisions). ``--overwrite`` is the binding
``train_pose.overwrite = True``.
"""

from absl import app
from absl import flags

from posedriven import console

# Before TensorFlow loads: its native start-up lines (posedriven.console).
console.filter_native_logs()

from posedriven import binary
from posedriven import config
from posedriven.training import train_pose

flags.DEFINE_string("output_dir", None, "Run directory.", required=True)
flags.DEFINE_string("data_dir", None, "Prepared TFRecords.", required=True)
flags.DEFINE_multi_string("gin_files", [], "Gin config files.")
flags.DEFINE_multi_string("gin_bindings", [], "Gin bindings.")
flags.DEFINE_boolean("overwrite", None,
                     "Delete a finished run in output_dir and train again"
                     " (an unfinished run is always resumed); the binding"
                     " train_pose.overwrite = True.")
FLAGS = flags.FLAGS


@binary.flags_only
def main(argv):
  del argv
  config.parse_gin(FLAGS.gin_files, binary.with_shorthands(
      FLAGS.gin_bindings, {"train_pose.overwrite": FLAGS.overwrite}))
  print(train_pose.train_pose(FLAGS.output_dir, FLAGS.data_dir))


def run():
  app.run(main)


if __name__ == "__main__":
  run()
