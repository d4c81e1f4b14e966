r"""Trains the RGB stream with the pose network and glimpse sensor frozen.

  python tools/train_rgb.py --data_dir=/data/ntu60_cs --pose_dir=runs/pose \
    --output_dir=runs/rgb --gin_files=rgb/ntu60_cs.gin

Every setting but the paths, the ablation row (``train_rgb.ablation = "E"``)
and ``train_rgb.strategy``, ``.mixed_precision``, ``.jit_compile`` among
them, is a keyword of ``posedriven.training.train_rgb.train_rgb``, set with
gin. ``--overwrite`` is the binding ``train_rgb.overwrite = True``.
"""

from absl import app
from absl import flags

from posedriven import console

# Before TensorFlow loads: its native start-up lines (posedriven.console).
console.filter_native_logs()

from posedriven import binary
from posedriven import config
from posedriven.training import train_rgb

flags.DEFINE_string("output_dir", None, "Run directory.", required=True)
flags.DEFINE_string("data_dir", None, "Prepared TFRecords.", required=True)
flags.DEFINE_string("pose_dir", None, "Finished pose run.", required=True)
flags.DEFINE_multi_string("gin_files", [], "Gin config files.")
flags.DEFINE_multi_string("gin_bindings", [], "Gin bindings.")
flags.DEFINE_boolean("overwrite", None,
                     "Delete a finished run in output_dir and train again"
                     " (an unfinished run is always resumed); the binding"
                     " train_rgb.overwrite = True.")
FLAGS = flags.FLAGS


@binary.flags_only
def main(argv):
  del argv
  config.parse_gin(FLAGS.gin_files, binary.with_shorthands(
      FLAGS.gin_bindings, {"train_rgb.overwrite": FLAGS.overwrite}))
  print(train_rgb.train_rgb(FLAGS.output_dir, FLAGS.data_dir, FLAGS.pose_dir))


def run():
  app.run(main)


if __name__ == "__main__":
  run()
