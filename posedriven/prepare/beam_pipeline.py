"""Preparation as an Apache Beam pipeline: one TFRecord file per element.

::

  files to write (driver) -> Reshuffle -> WriteFile (per worker: decode and
  hand patches in threads -> batched crops -> frozen InceptionV3 -> records
  + manifest part, atomically)

The driver (:func:`posedriven.prepare.prepare_dataset` with ``runner=``)
plans the files exactly as the threaded path does (``sharding``), leaves out
complete ones (resume), runs this pipeline and merges the manifest. Each
worker builds the glimpse sensor once, in ``DoFn.setup``, and writes a file
with :func:`file_writer.write_assignment`, the function the threaded path
calls, so the files are byte-identical.

Why a file and not a clip is the element: the sensor's batches span the
clips of a file in order (``sensor_pass.rebatch``), and InceptionV3 on a CPU
rounds differently with another batch composition (~5e-4), so per-clip
elements would change the bytes; inside a file, decoding still overlaps the
sensor (threads), which a separate Beam decode stage would lose while
shipping ~1 MB of patches per clip through a shuffle. NTU RGB+D 120 at 64
clips per file is 1,789 elements: enough for hundreds of workers.

Every worker must see ``dataset_root`` and ``output_dir`` as paths (a shared
filesystem, e.g. NFS or a GCS FUSE mount on Dataflow).
"""

from __future__ import annotations

import os
from pathlib import Path
import time
from typing import Any, Sequence

from absl import logging
import apache_beam as beam
from apache_beam import metrics
from apache_beam.options import pipeline_options

from posedriven.data import tfrecords
from posedriven.models import glimpse
from posedriven.prepare import file_writer
from posedriven.prepare import sharding

METRICS_NAMESPACE = "posedriven.prepare"

# One sensor per process and settings: a worker that runs several bundles or
# pipelines (DirectRunner in_memory, benchmarks) builds and traces it once.
_SENSORS: dict[tuple[Any, ...], glimpse.GlimpseSensor] = {}


def _sensor(config: file_writer.WriterConfig):
  if config.store != tfrecords.STORE_FEATURES:
    return None
  key = (config.glimpse_weights, config.glimpse_input_size,
         config.mixed_precision)
  if key not in _SENSORS:
    _SENSORS[key] = glimpse.GlimpseSensor(
        weights=config.glimpse_weights, input_size=config.glimpse_input_size,
        dtype=config.mixed_precision)
  return _SENSORS[key]


class WriteFileFn(beam.DoFn):
  """Writes one :class:`sharding.FileAssignment`; emits its entries."""

  def __init__(self, output_dir: str, settings: dict[str, Any],
               config: file_writer.WriterConfig, total_clips: int):
    self._output_dir = output_dir
    self._settings = settings
    self._config = config
    self._total_clips = total_clips
    self._preparer = None

  def setup(self):
    self._label = f"prepare {self._config.dataset} beam worker {os.getpid()}"
    self._preparer = file_writer.make_preparer(
        self._config, _sensor(self._config), self._total_clips, self._label)
    self._preparer.warm_up()

  def process(self, assignment: sharding.FileAssignment):
    output_dir = Path(self._output_dir)
    key = sharding.settings_key(self._settings, assignment)
    # A retried bundle, or a rerun racing an earlier one, keeps what is done.
    if not sharding.is_complete(output_dir, assignment, key):
      start_ms = int(time.time() * 1e3)
      cpu = time.process_time()
      file_writer.write_assignment(self._preparer, output_dir,
                                   self._settings, assignment, self._label)
      # CPU of the whole worker process (decode and sensor threads).
      metrics.Metrics.counter(METRICS_NAMESPACE, "cpu_ms").inc(
          int((time.process_time() - cpu) * 1e3))
      # min(start) .. max(end) over all workers: the writing time without
      # the workers' start-up (process launch, sensor build).
      metrics.Metrics.distribution(METRICS_NAMESPACE, "file_start_ms").update(
          start_ms)
      metrics.Metrics.distribution(METRICS_NAMESPACE, "file_end_ms").update(
          int(time.time() * 1e3))
    yield assignment.filename

  def teardown(self):
    if self._preparer is not None:
      self._preparer.progress.update(force=True)


def write_files(todo: Sequence[sharding.FileAssignment],
                output_dir: str | os.PathLike, settings: dict[str, Any],
                config: file_writer.WriterConfig, *, runner: str,
                options: Sequence[str] = ()) -> dict[str, float | None]:
  """Runs the pipeline that writes ``todo`` (and their manifest parts).

  Args:
    todo: The files to write.
    output_dir: Where they go (seen by every worker).
    settings: The run's settings (``sharding.settings_key``).
    config: What each worker builds its preparer and sensor from.
    runner: A Beam runner name.
    options: Further Beam pipeline options (``--direct_num_workers=2``, ...).

  Returns:
    ``writing_seconds``: from the first file's start to the last file's end
    on any worker (the run without the workers' start-up);
    ``worker_cpu_seconds``: CPU time the workers spent writing files. None
    where the runner reports no metrics.
  """
  if not todo:
    return {"writing_seconds": None, "worker_cpu_seconds": None}
  flags = [f"--runner={runner}", *options]
  logging.info("Beam: %d files, options %s", len(todo), flags)
  beam_options = pipeline_options.PipelineOptions(flags)
  write = WriteFileFn(str(output_dir), settings, config,
                      sum(len(a.clips) for a in todo))
  pipeline = beam.Pipeline(options=beam_options)
  _ = (pipeline
       | "Files" >> beam.Create(list(todo))
       # Spreads the files over the workers (Create's output is one bundle
       # otherwise).
       | "Spread" >> beam.Reshuffle()
       | "WriteFile" >> beam.ParDo(write))
  result = pipeline.run()
  result.wait_until_finish()
  return _timings(result)


def _timings(result) -> dict[str, float | None]:
  timings = {"writing_seconds": None, "worker_cpu_seconds": None}
  try:
    found = result.metrics().query(metrics.MetricsFilter().with_namespace(
        METRICS_NAMESPACE))
  except NotImplementedError:
    return timings
  values = {r.key.metric.name: r.committed
            for r in found["distributions"] if r.committed}
  if not {"file_start_ms", "file_end_ms"} - set(values):
    timings["writing_seconds"] = (
        values["file_end_ms"].max - values["file_start_ms"].min) / 1e3
  cpu_ms = sum(r.committed or 0 for r in found["counters"]
               if r.key.metric.name == "cpu_ms")
  if found["counters"]:
    timings["worker_cpu_seconds"] = cpu_ms / 1e3
  return timings
