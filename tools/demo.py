r"""The whole method end to end on the built-in synthetic dataset.

  python tools/demo.py --output_dir demo_output

Generates the synthetic NTU-format dataset, prepares glimpse TFRecords, trains
the pose stream and the RGB-stream ablations, evaluates pose only / RGB only /
fused on the cross-subject split, prints a table shaped like the paper's
Table 6 and exports the A+G model as a SavedModel. Rerunning resumes: finished
stages are skipped (``--overwrite`` starts again). TensorBoard:
``tensorboard --logdir <output_dir>``.
"""

import json
import sys

from absl import app
from absl import flags
from absl import logging

from posedriven import config
from posedriven import demo

flags.DEFINE_string("output_dir", "demo_output", "Everything goes here.")
flags.DEFINE_multi_string("gin_files", [], "Gin config files.")
flags.DEFINE_multi_string("gin_bindings", [],
                          "Gin bindings, e.g. 'run_demo.num_subjects = 4'.")
flags.DEFINE_integer("seed", None, "Seed for data, sensor and training.")
flags.DEFINE_boolean("export", None, "Export the A+G SavedModel.")
flags.DEFINE_boolean("overwrite", None,
                     "Delete output_dir's contents and start again.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)
  config.parse_gin(FLAGS.gin_files, FLAGS.gin_bindings, {
      "run_demo.seed": FLAGS.seed, "run_demo.export": FLAGS.export,
      "run_demo.overwrite": FLAGS.overwrite})
  summary = demo.run_demo(FLAGS.output_dir)
  print()
  print(f"Table 6 on synthetic data ({summary['protocol']}, clip-level, "
        "10 sub-sequences averaged):")
  print(demo.format_table(summary["table"]))
  checks = demo.claims_hold(summary["table"])
  for claim, holds in checks.items():
    print(f"  {'holds' if holds else 'DOES NOT HOLD'}: {claim}")
  print("seconds per stage:", json.dumps(
      {k: round(v, 1) for k, v in summary["seconds"].items()}))
  print(f"TensorBoard: tensorboard --logdir {summary['tensorboard']}")
  if summary["export_dir"]:
    print(f"SavedModel: {summary['export_dir']}")
  sys.stdout.flush()


def run():
  app.run(main)


if __name__ == "__main__":
  run()
