r"""Prepares a dataset: skeletons + videos -> glimpse features -> TFRecords.

Example, an Apache Beam pipeline on 2 local worker processes (``pip install
-e ".[beam]"``; rerun to resume)::

  python tools/prepare_data.py --dataset_root=/data/ntu --output_dir=/data/tfr \
    --gin_files=prepare/ntu60_cs.gin \
    --gin_bindings="prepare_dataset.runner = 'DirectRunner'" \
    --gin_bindings="prepare_dataset.beam_options = ['--direct_num_workers=2', '--direct_running_mode=multi_processing']"

On Dask's distributed scheduler (``pip install -e ".[dask]"``): without
``dask_scheduler`` a local cluster of ``dask_workers`` worker processes on
127.0.0.1; with it, a running scheduler (e.g. on a SLURM login node, workers
as batch jobs)::

  python tools/prepare_data.py --dataset_root=/data/ntu --output_dir=/data/tfr \
    --gin_files=prepare/ntu60_cs.gin \
    --gin_bindings="prepare_dataset.runner = 'DaskRunner'" \
    --gin_bindings="prepare_dataset.dask_scheduler = 'tcp://login1:8786'"

Another protocol of a dataset already prepared (SBU's folds 2-5 after fold
1) copies the records of the clips that directory holds instead of running
the sensor again (the same record settings, else refused)::

  python tools/prepare_data.py --dataset_root=/data/sbu --output_dir=/data/sbu2 \
    --gin_files=prepare/sbu_fold2.gin \
    --gin_bindings="prepare_dataset.records_from = '/data/sbu1'"

Without a runner this process writes the files itself; on machines
without Beam (or a Beam cluster) independent workers share them with
``--num_shards=4 --shard_index=0`` ... ``3``.

Every setting but the paths and the worker's share is a keyword of
``posedriven.prepare.prepare_dataset``, set with gin: the dataset and
protocol (a ``prepare/<protocol>.gin`` file binds both), ``store``, the Beam
``runner`` and ``beam_options``, ``dask_scheduler``, ``dask_workers`` ...
``--overwrite`` is the binding ``prepare_dataset.overwrite = True``.
"""

from absl import app
from absl import flags
from absl import logging

from posedriven import console

# Before TensorFlow loads: its native start-up lines (posedriven.console).
console.filter_native_logs()

from posedriven import binary
from posedriven import config
from posedriven import prepare
from posedriven.data.formats import registry

flags.DEFINE_string("dataset_root", None, "Dataset directory.", required=True)
flags.DEFINE_string("output_dir", None, "TFRecord output directory.",
                    required=True)
flags.DEFINE_multi_string("gin_files", [], "Gin config files.")
flags.DEFINE_multi_string(
    "gin_bindings", [],
    "Gin bindings, e.g. \"prepare_dataset.dataset = 'sbu'\". Datasets: "
    + registry.datasets_help() + ".")
flags.DEFINE_integer("num_shards", 1, "Independent workers sharing the work.",
                     lower_bound=1)
flags.DEFINE_integer("shard_index", 0, "This worker, in [0, num_shards).",
                     lower_bound=0)
flags.DEFINE_boolean("overwrite", None,
                     "Rewrite files prepared with other settings (files of"
                     " the same settings are kept: reruns resume); the"
                     " binding prepare_dataset.overwrite = True.")
FLAGS = flags.FLAGS


@binary.flags_only
def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)
  if FLAGS.shard_index >= FLAGS.num_shards:
    raise app.UsageError(f"--shard_index={FLAGS.shard_index} must be < "
                         f"--num_shards={FLAGS.num_shards}")
  config.parse_gin(FLAGS.gin_files, binary.with_shorthands(
      FLAGS.gin_bindings, {"prepare_dataset.overwrite": FLAGS.overwrite}))
  summary = prepare.prepare_dataset(
      FLAGS.dataset_root, FLAGS.output_dir, num_shards=FLAGS.num_shards,
      shard_index=FLAGS.shard_index)
  logging.info("done: %s", {k: v for k, v in summary.items()
                            if k != "manifest"})


def run():
  app.run(main)


if __name__ == "__main__":
  run()
