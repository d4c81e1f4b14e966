r"""The whole method end to end on the built-in synthetic dataset.

  python tools/demo.py --output_dir demo_output

Generates the synthetic NTU-format dataset, prepares glimpse TFRecords, trains
the pose stream and the RGB-stream ablations, evaluates pose only / RGB only /
fused on the cross-subject split, prints a table shaped like the paper's
Table 6 and exports the A+G model as a SavedModel. Rerunning resumes: finished
stages are skipped (``--overwrite`` starts again: the bindings
``run_demo.overwrite = True`` and ``run_full.overwrite = True``).
TensorBoard: ``tensorboard --logdir <output_dir>``.

Every setting but the output directory is a keyword of ``run_demo``
(``run_full``, ``select_hyperparameters``), set with gin, e.g.
``--gin_bindings='run_demo.seed = 1'``.
"""

import json
import sys

from absl import app
from absl import flags
from absl import logging

from posedriven import console

# Before TensorFlow loads: its native start-up lines (posedriven.console).
console.filter_native_logs()

from posedriven import binary
from posedriven import config
from posedriven import demo
from posedriven.evaluation import tables

flags.DEFINE_string("output_dir", "demo_output", "Everything goes here.")
flags.DEFINE_multi_string("gin_files", [], "Gin config files.")
flags.DEFINE_multi_string("gin_bindings", [],
                          "Gin bindings, e.g. 'run_demo.num_subjects = 4'.")
flags.DEFINE_boolean("overwrite", None,
                     "Delete output_dir's contents and start again.")
flags.DEFINE_boolean(
    "full", False,
    "Several seeds (run_full.seeds, default 0 1 2) and the rows of Tables 2"
    " and 3; intervals over seeds and performances. About 45-60 min here.")
flags.DEFINE_boolean(
    "select_hyperparameters", False,
    "Instead of the demo: choose its learning rates on the validation"
    " subjects (protocol synthetic_cs_val), never on its test clips.")
FLAGS = flags.FLAGS


def _print_results(title: str, summary) -> None:
  print()
  print(title)
  print(tables.format_table(summary["table"], summary["intervals"],
                            demo.ROW_TITLES))
  print("Claims (paired bootstrap of the top-1 difference):")
  print(tables.format_claims(summary["intervals"]))
  halves = tables.format_halves(summary["intervals"], demo.ROW_TITLES)
  if halves:
    print("What each row gets right (class = motion x object; top-1 needs"
          " both):")
    print(halves)


@binary.flags_only
def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)
  if FLAGS.full and FLAGS.select_hyperparameters:
    raise app.UsageError("--full and --select_hyperparameters exclude"
                         " each other")
  config.parse_gin(FLAGS.gin_files, binary.with_shorthands(
      FLAGS.gin_bindings, {"run_demo.overwrite": FLAGS.overwrite,
                           "run_full.overwrite": FLAGS.overwrite}))
  if FLAGS.select_hyperparameters:
    selection = demo.select_hyperparameters(FLAGS.output_dir)
    print(json.dumps(selection, indent=2, sort_keys=True))
    return
  if FLAGS.full:
    summary = demo.run_full(FLAGS.output_dir)
    _print_results(
        f"Tables 6, 2 and 3 on synthetic data, seeds {summary['seeds']} "
        "(top-1 % averaged over seeds):", summary)
    print(f"Results: {FLAGS.output_dir}/{demo.FULL_RESULTS_FILE}")
    sys.stdout.flush()
    return
  summary = demo.run_demo(FLAGS.output_dir)
  _print_results(
      f"Table 6 on synthetic data ({summary['protocol']}, seed "
      f"{summary['seed']}, clip-level, 10 sub-sequences averaged):", summary)
  print("seconds per stage:", json.dumps(
      {k: round(v, 1) for k, v in summary["seconds"].items()}))
  print(f"Results with intervals: {FLAGS.output_dir}/{demo.RESULTS_FILE}")
  print(f"TensorBoard: tensorboard --logdir {summary['tensorboard']}")
  if summary["export_dir"]:
    print(f"SavedModel: {summary['export_dir']}")
  sys.stdout.flush()


def run():
  app.run(main)


if __name__ == "__main__":
  run()
