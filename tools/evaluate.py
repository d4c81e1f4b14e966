r"""Evaluates pose only, RGB only and fused; writes figures and metrics.json.

  python tools/evaluate.py --data_dir=/data/ntu60_cs --pose_dir=runs/pose \
    --rgb_dir=runs/rgb --output_dir=runs/eval
"""

import json

from absl import app
from absl import flags

from posedriven import console

# Before TensorFlow loads: its native start-up lines (posedriven.console).
console.filter_native_logs()

from posedriven import binary
from posedriven import config
from posedriven.training import evaluate

flags.DEFINE_string("output_dir", None, "Where figures go.", required=True)
flags.DEFINE_string("data_dir", None, "Prepared TFRecords.", required=True)
flags.DEFINE_string("pose_dir", None, "Finished pose run.")
flags.DEFINE_string("rgb_dir", None, "Finished RGB run.")
flags.DEFINE_multi_string("gin_files", [], "Gin config files.")
flags.DEFINE_multi_string("gin_bindings", [], "Gin bindings.")
flags.DEFINE_boolean("overwrite", None,
                     "Replace an evaluation already in output_dir (the binding"
                     " evaluate.overwrite = True).")
FLAGS = flags.FLAGS


@binary.flags_only
def main(argv):
  del argv
  config.parse_gin(FLAGS.gin_files, binary.with_shorthands(
      FLAGS.gin_bindings, {"evaluate.overwrite": FLAGS.overwrite}))
  results = evaluate.evaluate(FLAGS.output_dir, FLAGS.data_dir,
                              FLAGS.pose_dir, FLAGS.rgb_dir)
  print(json.dumps(results, indent=2))


def run():
  app.run(main)


if __name__ == "__main__":
  run()
