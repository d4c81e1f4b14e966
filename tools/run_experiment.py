r"""Runs a declared experiment: the demo, a table of the paper, a benchmark.

  python tools/run_experiment.py --experiment=table6 \
      --dataset_root=/data/nturgbd --output_dir=/runs/table6
  python tools/run_experiment.py --experiment=table6 --plan
  python tools/run_experiment.py --experiment=table4_sbu \
      --dataset_root=ntu=/data/nturgbd --dataset_root=sbu=/data/sbu ...

An experiment is ``gin_configs/experiments/<name>.gin`` (or a path to a
``.gin`` file): its datasets, training runs, rows, claims and seeds.
Rerunning resumes: finished preparations, runs and evaluations are reused.
``--plan`` prints the stages, their runs and an estimate of their cost, and
runs nothing. Settings are gin bindings that override the experiment's
files, e.g. ``--gin_bindings='experiment.seeds = [0, 1, 2]'``.
"""

import sys

from absl import app
from absl import flags
from absl import logging

from posedriven import console

# Before TensorFlow loads: its native start-up lines (posedriven.console).
console.filter_native_logs()

from posedriven import binary
from posedriven.experiments import plan
from posedriven.experiments import report
from posedriven.experiments import runner

flags.DEFINE_string("experiment", None,
                    "Name in gin_configs/experiments/ or a .gin file.",
                    required=True)
flags.DEFINE_multi_string(
    "dataset_root", [],
    "The dataset root; NAME=PATH for each dataset when the experiment has"
    " several.")
flags.DEFINE_string("output_dir", None, "Everything goes here.")
flags.DEFINE_multi_string("gin_files", [], "Gin config files.")
flags.DEFINE_multi_string("gin_bindings", [], "Gin bindings.")
flags.DEFINE_boolean("overwrite", False,
                     "Delete output_dir's contents and start again.")
flags.DEFINE_boolean("plan", False, "Print the plan and run nothing.")
FLAGS = flags.FLAGS


@binary.flags_only
def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)
  experiment = runner.load(FLAGS.experiment, FLAGS.gin_files,
                         FLAGS.gin_bindings)
  try:
    roots = runner.parse_dataset_roots(FLAGS.dataset_root,
                                       experiment.datasets)
  except ValueError as e:
    raise app.UsageError(str(e)) from e
  if FLAGS.plan:
    print(plan.format_plan(experiment, plan.make_plan(
        experiment, roots, FLAGS.gin_files, FLAGS.gin_bindings)))
    return
  if FLAGS.output_dir is None:
    raise app.UsageError("--output_dir is needed to run (not with --plan)")
  if FLAGS.overwrite:
    runner.clear_output_dir(FLAGS.output_dir)
  results = runner.run(experiment, FLAGS.output_dir, dataset_roots=roots,
                       gin_files=FLAGS.gin_files,
                       gin_bindings=FLAGS.gin_bindings)
  print(report.format_results(results))
  print(f"Results: {FLAGS.output_dir}/{runner.results_file(experiment)}")
  print(f"TensorBoard: tensorboard --logdir {results['tensorboard']}")
  sys.stdout.flush()


def run():
  app.run(main)


if __name__ == "__main__":
  run()
