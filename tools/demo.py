r"""The whole method end to end on the built-in synthetic dataset.

  python tools/demo.py --output_dir demo_output

Generates the synthetic NTU-format dataset, prepares glimpse TFRecords, trains
the pose stream and the RGB-stream ablations, evaluates pose only / RGB only /
fused on the cross-subject split, prints a table shaped like the paper's
Table 6 and exports the A+G model as a SavedModel. Rerunning resumes: finished
stages are skipped (``--overwrite`` starts again).
TensorBoard: ``tensorboard --logdir <output_dir>``.

This is the experiments runner (``tools/run_experiment.py``) with the
synthetic testbed generated in front: the experiment is
``gin_configs/experiments/demo.gin`` (``demo_full.gin`` with ``--full``,
``demo_selection.gin`` with ``--select_hyperparameters``), the testbed
``gin_configs/synthetic/demo.gin``. Every setting is a gin binding that
overrides those files, e.g. ``--gin_bindings='experiment.seeds = [1]'`` or
``--gin_bindings='train_pose.epochs = 10'``.
"""

import sys

from absl import app
from absl import flags
from absl import logging

from posedriven import console

# Before TensorFlow loads: its native start-up lines (posedriven.console).
console.filter_native_logs()

from posedriven import binary
from posedriven import demo
from posedriven.experiments import report

flags.DEFINE_string("output_dir", "demo_output", "Everything goes here.")
flags.DEFINE_multi_string("gin_files", [], "Gin config files.")
flags.DEFINE_multi_string(
    "gin_bindings", [],
    "Gin bindings, e.g. 'generate_dataset.num_subjects = 4' or "
    "'train_pose.epochs = 10'.")
flags.DEFINE_boolean("overwrite", False,
                     "Delete output_dir's contents and start again.")
flags.DEFINE_boolean(
    "full", False,
    "Three seeds and the rows of Tables 2 and 3 (experiments/demo_full.gin);"
    " intervals over seeds and performances. About 40 min here.")
flags.DEFINE_boolean(
    "select_hyperparameters", False,
    "Instead of the demo: choose its learning rates on the validation"
    " subjects (experiments/demo_selection.gin), never on its test clips.")
FLAGS = flags.FLAGS


@binary.flags_only
def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)
  if FLAGS.full and FLAGS.select_hyperparameters:
    raise app.UsageError("--full and --select_hyperparameters exclude"
                         " each other")
  name = ("demo_full" if FLAGS.full else "demo_selection"
          if FLAGS.select_hyperparameters else "demo")
  results = demo.run(name, FLAGS.output_dir, gin_files=FLAGS.gin_files,
                     gin_bindings=FLAGS.gin_bindings,
                     overwrite=FLAGS.overwrite)
  print(report.format_results(results))
  seconds = {}
  for seed in results["per_seed"]:
    for k, v in seed["seconds"].items():
      seconds[k] = seconds.get(k, 0.0) + v
  print("seconds per stage:",
        {k: round(v, 1) for k, v in seconds.items()})
  print(f"Results with intervals and per-clip records: {FLAGS.output_dir}/"
        f"{results['experiment']}_results.json")
  print(f"TensorBoard: tensorboard --logdir {results['tensorboard']}")
  for seed in results["per_seed"]:
    if seed["export_dir"]:
      print(f"SavedModel: {seed['export_dir']}")
  sys.stdout.flush()


def run():
  app.run(main)


if __name__ == "__main__":
  run()
