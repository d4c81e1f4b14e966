r"""Prepares a dataset: skeletons + videos -> glimpse features -> TFRecords.

Example, an Apache Beam pipeline on 2 local worker processes (``pip install
-e ".[beam]"``; rerun to resume)::

  python tools/prepare_data.py --dataset_root=/data/ntu --output_dir=/data/tfr \
    --gin_files=prepare/ntu60_cs.gin --runner=DirectRunner \
    --beam_pipeline_options=--direct_num_workers=2,--direct_running_mode=multi_processing

Without ``--runner`` this process writes the files itself; on machines
without Beam (or a Beam cluster) independent workers share them with
``--num_shards=4 --shard_index=0`` ... ``3``.

``--dataset``, ``--protocol``, ``--overwrite``, ``--runner`` and
``--beam_pipeline_options`` are shorthands for the gin bindings of the same
names (``prepare_dataset.beam_options`` for the last). Every other setting is a keyword of
``posedriven.prepare.prepare_dataset`` bound with gin
(``prepare_dataset.store = "crops"``, ...).
"""

from absl import app
from absl import flags
from absl import logging

from posedriven import console

# Before TensorFlow loads: its native start-up lines (posedriven.console).
console.filter_native_logs()

from posedriven import config
from posedriven import prepare
from posedriven.data.formats import registry

flags.DEFINE_string("dataset_root", None, "Dataset directory.", required=True)
flags.DEFINE_string("output_dir", None, "TFRecord output directory.",
                    required=True)
flags.DEFINE_multi_string("gin_files", [], "Gin config files.")
flags.DEFINE_multi_string("gin_bindings", [], "Gin bindings.")
flags.DEFINE_enum("dataset", None, list(registry.DATASETS),
                  "Dataset layout (overrides gin): "
                  + registry.datasets_help() + ".")
flags.DEFINE_enum("protocol", None, list(registry.PROTOCOLS),
                  "Train/test protocol (overrides gin).")
flags.DEFINE_integer("num_shards", 1, "Independent workers sharing the work.",
                     lower_bound=1)
flags.DEFINE_integer("shard_index", 0, "This worker, in [0, num_shards).",
                     lower_bound=0)
flags.DEFINE_boolean("overwrite", None,
                     "Rewrite files prepared with other settings (files of"
                     " the same settings are kept: reruns resume).")
flags.DEFINE_string("runner", None,
                    "Apache Beam runner (DirectRunner, FlinkRunner,"
                    " SparkRunner, DataflowRunner, PortableRunner); unset:"
                    " no Beam, this process writes the files.")
flags.DEFINE_list("beam_pipeline_options", None,
                  "Beam pipeline options for --runner, comma-separated, e.g."
                  " --direct_num_workers=2,--direct_running_mode="
                  "multi_processing or --flink_master=host:8081.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)
  if FLAGS.shard_index >= FLAGS.num_shards:
    raise app.UsageError(f"--shard_index={FLAGS.shard_index} must be < "
                         f"--num_shards={FLAGS.num_shards}")
  config.parse_gin(FLAGS.gin_files, FLAGS.gin_bindings, {
      "prepare_dataset.dataset": FLAGS.dataset,
      "prepare_dataset.protocol": FLAGS.protocol,
      "prepare_dataset.overwrite": FLAGS.overwrite,
      "prepare_dataset.runner": FLAGS.runner,
      "prepare_dataset.beam_options": FLAGS.beam_pipeline_options})
  summary = prepare.prepare_dataset(
      FLAGS.dataset_root, FLAGS.output_dir, num_shards=FLAGS.num_shards,
      shard_index=FLAGS.shard_index)
  logging.info("done: %s", {k: v for k, v in summary.items()
                            if k != "manifest"})


def run():
  app.run(main)


if __name__ == "__main__":
  run()
