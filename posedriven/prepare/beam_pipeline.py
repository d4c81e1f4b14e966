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

``runner="DaskRunner"`` runs the pipeline on Dask's distributed scheduler
(:mod:`.dask_cluster`: a named scheduler, or a local cluster of worker
processes). That runner reports no Beam metrics and runs ``setup`` once per
task (one file): the timings come from the records each file's element
emits, and the sensor cache below keeps one sensor per worker process.
"""

from __future__ import annotations

import os
from pathlib import Path
import socket
import time
from typing import Any, Sequence

from absl import logging
import apache_beam as beam
from apache_beam import metrics
from apache_beam.options import pipeline_options

from posedriven.data import tfrecords
from posedriven.models import glimpse
from posedriven.prepare import dask_cluster
from posedriven.prepare import file_writer
from posedriven.prepare import sharding

METRICS_NAMESPACE = "posedriven.prepare"

# One sensor per process and settings: a worker that runs several bundles or
# pipelines (DirectRunner in_memory, benchmarks) builds and traces it once.
_SENSORS: dict[tuple[Any, ...], glimpse.GlimpseSensor] = {}
# Sensors this process has built (reported per file: once per worker).
_SENSOR_BUILDS = 0


def _sensor(config: file_writer.WriterConfig):
  global _SENSOR_BUILDS
  if config.store != tfrecords.STORE_FEATURES:
    return None
  key = (config.glimpse_weights, config.glimpse_input_size,
         config.mixed_precision)
  if key not in _SENSORS:
    _SENSORS[key] = glimpse.GlimpseSensor(
        weights=config.glimpse_weights, input_size=config.glimpse_input_size,
        dtype=config.mixed_precision)
    _SENSOR_BUILDS += 1
  return _SENSORS[key]


class WriteFileFn(beam.DoFn):
  """Writes one :class:`sharding.FileAssignment`; emits a record of it.

  The record: ``file``, ``written`` (False: complete already), the worker
  process (``host``, ``pid``), its ``sensor_builds`` so far, and with
  ``written`` the wall-clock ``start_s`` / ``end_s`` and ``cpu_s`` of the
  worker process while writing.
  """

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
    record = {"file": assignment.filename, "written": False,
              "host": socket.gethostname(), "pid": os.getpid(),
              "sensor_builds": _SENSOR_BUILDS}
    # A retried bundle, a task recomputed after its worker died, or a rerun
    # racing an earlier one, keeps what is done.
    if not sharding.is_complete(output_dir, assignment, key):
      start = time.time()
      cpu = time.process_time()
      file_writer.write_assignment(self._preparer, output_dir,
                                   self._settings, assignment, self._label)
      end = time.time()
      # CPU of the whole worker process (decode and sensor threads).
      cpu = time.process_time() - cpu
      record.update(written=True, start_s=start, end_s=end, cpu_s=cpu)
      metrics.Metrics.counter(METRICS_NAMESPACE, "cpu_ms").inc(int(cpu * 1e3))
      # min(start) .. max(end) over all workers: the writing time without
      # the workers' start-up (process launch, sensor build).
      metrics.Metrics.distribution(METRICS_NAMESPACE, "file_start_ms").update(
          int(start * 1e3))
      metrics.Metrics.distribution(METRICS_NAMESPACE, "file_end_ms").update(
          int(end * 1e3))
    yield record

  def teardown(self):
    if self._preparer is not None:
      self._preparer.progress.update(force=True)


def write_files(todo: Sequence[sharding.FileAssignment],
                output_dir: str | os.PathLike, settings: dict[str, Any],
                config: file_writer.WriterConfig, *, runner: str,
                options: Sequence[str] = (),
                dask_scheduler: str | None = None,
                dask_workers: int | None = None) -> dict[str, Any]:
  """Runs the pipeline that writes ``todo`` (and their manifest parts).

  Args:
    todo: The files to write.
    output_dir: Where they go (seen by every worker).
    settings: The run's settings (``sharding.settings_key``).
    config: What each worker builds its preparer and sensor from.
    runner: A Beam runner name; ``DaskRunner`` for Dask (:mod:`.dask_cluster`).
    options: Further Beam pipeline options (``--direct_num_workers=2``, ...).
    dask_scheduler: With ``DaskRunner``: the scheduler's address; None
      starts a local cluster.
    dask_workers: With ``DaskRunner`` and no scheduler: the local cluster's
      worker processes (None: ``dask_cluster.DEFAULT_LOCAL_WORKERS``).

  Returns:
    ``writing_seconds``: from the first file's start to the last file's end
    on any worker (the run without the workers' start-up);
    ``worker_cpu_seconds``: CPU time the workers spent writing files;
    ``worker_processes`` (Dask): processes that wrote a file;
    ``sensor_builds`` (Dask): sensors built by those processes. None where
    the runner reports none of it.

  Raises:
    dask_cluster.SchedulerUnreachableError: ``dask_scheduler`` does not
      answer within the connection timeout.
  """
  if not todo:
    return _timings_of_records([])
  write = WriteFileFn(str(output_dir), settings, config,
                      sum(len(a.clips) for a in todo))
  if not dask_cluster.is_dask(runner):
    result = _pipeline(todo, write, [f"--runner={runner}", *options]).run()
    result.wait_until_finish()
    return _timings(result)
  address = dask_cluster.scheduler_address(dask_scheduler, options)
  with dask_cluster.scheduler(
      address, dask_workers,
      dask_cluster.connect_timeout_s(options)) as address:
    result = _pipeline(todo, write, dask_cluster.beam_flags(
        address, len(todo), options)).run()
    try:
      result.wait_until_finish()
      # One future per computed bag: the records of every file.
      records = [r for future in result.futures for r in future.result()]
    finally:
      result.client.close()
  return _timings_of_records(records)


def _pipeline(todo: Sequence[sharding.FileAssignment], write: WriteFileFn,
              flags: Sequence[str]) -> beam.Pipeline:
  logging.info("Beam: %d files, options %s", len(todo), list(flags))
  pipeline = beam.Pipeline(options=pipeline_options.PipelineOptions(flags))
  _ = (pipeline
       | "Files" >> beam.Create(list(todo))
       # Spreads the files over the workers (Create's output is one bundle
       # otherwise; on Dask, a no-op: dask_cluster.beam_flags spreads them).
       | "Spread" >> beam.Reshuffle()
       | "WriteFile" >> beam.ParDo(write))
  return pipeline


def _timings_of_records(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
  """Timings from :class:`WriteFileFn`'s records (runners without metrics)."""
  written = [r for r in records if r["written"]]
  if not written:
    return {"writing_seconds": None, "worker_cpu_seconds": None,
            "worker_processes": None, "sensor_builds": None}
  builds: dict[tuple[str, int], int] = {}
  for r in written:
    process = (r["host"], r["pid"])
    builds[process] = max(builds.get(process, 0), r["sensor_builds"])
  return {
      "writing_seconds": (max(r["end_s"] for r in written)
                          - min(r["start_s"] for r in written)),
      "worker_cpu_seconds": sum(r["cpu_s"] for r in written),
      "worker_processes": len(builds),
      "sensor_builds": sum(builds.values()),
  }


def _timings(result) -> dict[str, Any]:
  timings = {"writing_seconds": None, "worker_cpu_seconds": None,
             "worker_processes": None, "sensor_builds": None}
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
