"""Dataset preparation: skeletons + video -> glimpse features -> TFRecords.

``prepare_dataset`` turns a dataset directory into sharded TFRecord files
(format: :mod:`posedriven.data.tfrecords`) and a ``manifest.json``::

  <output_dir>/train-00000-of-00012.tfrecord ...
  <output_dir>/test-00000-of-00005.tfrecord ...
  <output_dir>/manifest.json
  <output_dir>/manifest_parts/*.json      (one per TFRecord file)

Per clip the skeleton is read, the video is decoded frame by frame in a
``tf.data`` pipeline (never the whole clip in memory: each frame is decoded
into the same buffer), small patches around the 4 hands are cut out of each
frame as it is decoded (:func:`glimpse_crops.patch_chunks`), the crops of a
chunk of frames are resampled at once with ``tf.image.crop_and_resize``
(:func:`glimpse_crops.resize_patches`, on the GPU when there is one), and the
frozen glimpse sensor (InceptionV3,
:class:`~posedriven.models.glimpse.GlimpseSensor`) maps batches of crops to
2048-d features. Decoding runs in tf.data's threads and is prefetched, so it
overlaps the CNN (:mod:`.file_writer`, one file at a time).

Design decisions:

* **Splits.** Files are written per protocol split (``train``, ``test``). The
  paper's 5% validation set is *not* written separately: it is carved out of
  the train files at read time by the clip name's stable hash
  (``protocols.is_validation``), see ``pipeline.train_dataset(validation=)``.
  The manifest marks those clips (``"validation": true``) for information.
* **Frame alignment.** NTU skeleton and video frame counts sometimes differ by
  a frame or two (and a truncated video decodes fewer frames than its header
  says). Frame ``t`` of the skeleton is frame ``t`` of the video; the record
  keeps the first ``min(T_skeleton, T_video_decoded)`` frames of both. Any
  difference is logged with the clip name and recorded in the manifest.
* **Video resolution.** Hand pixels refer to ``Clip.image_size``; a video of
  another resolution has the hand positions and the crop size scaled to it
  (logged).
* **Sharding and resuming.** Each split's clip list (sorted by name) is cut
  into files of ``clips_per_file`` clips; worker ``shard_index`` of
  ``num_shards`` writes the files whose index ``k`` has
  ``k % num_shards == shard_index``: no coordination is needed. A file is
  written under a temporary name and renamed when complete, after its manifest
  part; a rerun skips files that are complete with the same settings, so a
  killed run resumes and never leaves half a file behind. Each worker merges
  the parts it finds into ``manifest.json`` at the end (``"complete"`` says
  whether every file exists); :func:`merge_manifest` redoes it.
* **Beam.** With ``runner=`` (``DirectRunner``, ``FlinkRunner``, ...) the
  files to write are the elements of an Apache Beam pipeline
  (:mod:`posedriven.prepare.beam_pipeline`); each Beam worker writes a file
  with :func:`file_writer.write_assignment`, as this process does without
  a runner, so the bytes are the same. ``num_shards`` stays for machines
  without Beam (it is an extra) or without a Beam cluster (a batch
  scheduler's job array). ``runner="DaskRunner"`` runs on Dask's
  distributed scheduler, named (``dask_scheduler``, e.g. on SLURM through
  ``dask-jobqueue``) or a local cluster of worker processes
  (:mod:`.dask_cluster`).
* **Bad clips.** A clip that cannot be read (corrupt or missing video, bad
  skeleton, a skeleton without a usable joint in any frame: 0 frames, nobody
  present or every joint NaN, ``clip.check_usable``; a label outside
  the dataset's classes) is recorded in the manifest with status ``error``
  and the reason, and logged as an error with its name; the run goes on.
  Clips on the official "missing skeletons" lists are ``skipped``. A
  skeleton file whose name is not a sample name is no clip: it is logged
  and left out.
* **Degraded clips** (:func:`clip_quality.degradation`) are usable but
  below a quality threshold: fewer than
  :data:`clip_quality.MIN_VIDEO_FRAME_FRACTION` of the skeleton's frames
  decode from the video (a 1-frame video beside a 27-frame skeleton, a PNG
  renamed ``.avi``), or no hand is tracked and valid in any frame
  though the pose is (every hand joint untracked). They are written like
  ``ok`` clips, logged, and recorded with status ``degraded`` and the
  reason, counted apart in ``manifest["counts"]``. Training and evaluation
  read every record of the files, degraded ones included (README,
  "Degraded clips").
* **Records of another protocol** (:mod:`.record_reuse`). With
  ``records_from=<dir>`` (the same dataset and record settings, another
  protocol: SBU's five folds) the clips that directory holds are copied
  record by record into this protocol's files, so the sensor runs once per
  clip across protocols; copied entries say ``records_from``.
* **Output directory** (:mod:`.output_dir`). A directory that holds data
  prepared with other settings (dataset, protocol, store, crop size,
  sensor, ``max_clips``) is refused with ``atomic.OutputExistsError``
  unless ``overwrite=True``, which removes that data first; the same
  settings resume.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

from absl import logging
import gin
import keras

from posedriven import atomic
from posedriven import config
from posedriven.data import skeletons
from posedriven.data import tfrecords
from posedriven.data.formats import registry
from posedriven.models import glimpse
from posedriven.prepare import dask_cluster
from posedriven.prepare import file_writer
from posedriven.prepare import output_dir as output_dir_lib
from posedriven.prepare import record_reuse
from posedriven.prepare import sharding

# The names this module held before its writer, quality policy and output
# directory had modules of their own, importable from here as before.
# pylint: disable=unused-import,g-importing-member,g-bad-import-order
from posedriven.prepare.clip_quality import MIN_VIDEO_FRAME_FRACTION
from posedriven.prepare.clip_quality import degradation
from posedriven.prepare.clip_quality import label_problem
from posedriven.prepare.file_writer import WriterConfig
from posedriven.prepare.file_writer import decode_defaults
from posedriven.prepare.file_writer import make_preparer
from posedriven.prepare.file_writer import write_assignment
from posedriven.prepare.output_dir import output_dir_problem
# pylint: enable=unused-import,g-importing-member,g-bad-import-order

# Beam is an extra (setup.py): the threaded path needs none of it. Imported
# here, not in the function that uses it, so that no gin configurable is
# first imported after a binary has locked gin.
try:
  from posedriven.prepare import beam_pipeline
  _BEAM_MISSING = ""
except ModuleNotFoundError as e:
  if not (e.name or "").startswith("apache_beam"):
    raise
  beam_pipeline = None
  _BEAM_MISSING = str(e)


def check_root_splits(dataset_root: Path,
                      sources: Sequence[registry.ClipSource],
                      protocol: str) -> None:
  """Refuses a root where ``protocol`` leaves the train or test split empty.

  Raises:
    sharding.EmptySplitError: with the clips of each split and those left
      out (official missing lists, outside the protocol, bad metadata).
  """
  by_split, left_out = sharding.split_sources(sources, protocol)
  counts = {s: len(clips) for s, clips in by_split.items()}
  counts["left out"] = len(left_out)
  sharding.check_splits(
      protocol, counts, where=str(dataset_root),
      remedy="training and evaluation need both. Is it the dataset root and"
      " protocol you meant? To prepare one split on purpose, bind"
      " prepare_dataset.allow_empty_split = True")


@gin.configurable(denylist=["dataset_root", "output_dir", "num_shards",
                            "shard_index", "sensor"])
def prepare_dataset(dataset_root: str | os.PathLike,
                    output_dir: str | os.PathLike, *,
                    dataset: str = "ntu60",
                    protocol: str = "ntu60_cs",
                    num_shards: int = 1,
                    shard_index: int = 0,
                    clips_per_file: int = 64,
                    store: str = tfrecords.STORE_FEATURES,
                    glimpse_input_size: int = 299,
                    glimpse_weights: str | None = "imagenet",
                    crop_size_px: float | None = None,
                    crop_output_size: int | None = None,
                    batch_size: int = 64,
                    mixed_precision: str | None = None,
                    decode_threads: int | None = None,
                    decode_workers: int | None = None,
                    max_clips: int | None = None,
                    log_every_s: float = 30.0,
                    overwrite: bool = False,
                    allow_empty_split: bool = False,
                    runner: str | None = None,
                    beam_options: Sequence[str] = (),
                    dask_scheduler: str | None = None,
                    dask_workers: int | None = None,
                    records_from: str | os.PathLike | None = None,
                    sensor=None) -> dict[str, Any]:
  """Writes this worker's TFRecord files and merges the manifest.

  Args:
    dataset_root: Dataset directory (NTU / synthetic: the folder holding
      ``nturgb+d_skeletons`` and ``nturgb+d_rgb``; SBU: the folder of the
      ``sXXsYY`` sets; MSR: the folder of ``*_skeleton.txt`` and
      ``*_rgb.avi``).
    output_dir: Where files and manifest go (created).
    dataset: A ``registry.DATASETS`` name.
    protocol: One of the dataset's protocols (``registry.PROTOCOLS``)
      deciding train / test.
    num_shards: Independent workers sharing the work (by file index).
    shard_index: This worker, ``0 <= shard_index < num_shards``.
    clips_per_file: Clips per TFRecord file (~1.6 MB per NTU clip of
      features).
    store: ``features`` (glimpse features, float16 ``[T, 4, 2048]``),
      ``crops`` (uint8 hand crops ``[T, 4, S, S, 3]``, for end-to-end
      sensors) or ``none`` (pose only; videos are not read).
    glimpse_input_size: Sensor input side (299 in the paper; >= 75).
    glimpse_weights: ``imagenet``, a weights file, or None (random; tests).
    crop_size_px: Crop side in source pixels; default 50 for NTU, 100 for
      SBU / MSR, ``crop_size_px`` of ``synthetic_meta.json``.
    crop_output_size: Side ``S`` of the crops cut from the frame; default
      ``crop_size_px`` (native resolution, the sensor resizes).
    batch_size: Crops per sensor batch (``batch_size / 4`` frames).
    mixed_precision: e.g. ``mixed_float16`` for the sensor on a GPU.
    decode_threads: FFmpeg threads per video. None: 1 (one thread spends
      ~8% less CPU per H.264 frame than FFmpeg's default), except with a
      GPU and one decode worker: 0 (FFmpeg's choice, one per core).
    decode_workers: Clips decoded at once in threads. None: 1 when
      TensorFlow sees no GPU (decoding then shares the cores with the
      sensor), else half the CPU cores (one H.264 stream decodes ~300
      frames/s, well below what a GPU sensor takes).
    max_clips: Only the first ``max_clips`` (>= 1) clips by name (smoke
      runs; it changes the file assignment, so use one value per
      output_dir). None: all.
    log_every_s: Seconds between progress lines.
    overwrite: Replace data prepared in ``output_dir`` with other settings
      (another dataset, protocol, store, ...). Without it such a directory is
      refused; data of the same settings is resumed either way.
    allow_empty_split: Prepare even when the protocol leaves the train or
      the test split of ``dataset_root`` without a clip (e.g. ``ntu60_cv``
      on camera-1 clips only: a test set for a trained model). Without it
      such a root is refused before the sensor is built. The whole root
      counts, not the ``max_clips`` subset of a smoke run.
    runner: None: this process writes the files (threads: decoding overlaps
      the sensor). A Beam runner name (``DirectRunner``, ``FlinkRunner``,
      ``SparkRunner``, ``DataflowRunner``, ``PortableRunner``,
      ``DaskRunner``): an Apache Beam pipeline writes them
      (:mod:`posedriven.prepare.beam_pipeline`, ``pip install -e
      ".[beam]"``), one file per element, same bytes.
      Every worker must see ``dataset_root`` and ``output_dir`` (a shared
      filesystem) and load ``glimpse_weights``; ``num_shards`` must be 1.
    beam_options: Beam pipeline options for ``runner``, e.g.
      ``["--direct_num_workers=2", "--direct_running_mode=multi_processing"]``
      or ``["--flink_master=host:8081"]``.
    dask_scheduler: With ``runner="DaskRunner"``: the address of a running
      Dask scheduler (``tcp://host:8786``, e.g. one ``dask-jobqueue``
      started on a SLURM login node). None: a ``distributed.LocalCluster``
      of ``dask_workers`` worker processes on 127.0.0.1, closed at the end
      (``pip install -e ".[dask]"``). A scheduler that does not answer
      within ``--dask_connection_timeout`` (``beam_options``; default 30 s)
      is an error naming it.
    dask_workers: Worker processes of that local cluster (None: 2); each
      writes one file at a time.
    records_from: Another directory prepared from the same clips with the
      same record settings (``record_reuse.RECORD_SETTINGS``; e.g. another
      SBU fold): the records of the clips it holds are copied from it (no
      decoding, no sensor call; the sensor is not even built when it holds
      every clip), the others prepared as usual; each copied clip's
      manifest entry says ``records_from``. Other record settings are
      refused, naming them. The direct path only (``runner=None``): a
      copy is file I/O, nothing to distribute.
    sensor: A ready glimpse sensor (computed argument, e.g. shared by tests
      and benchmarks); overrides the ``glimpse_*`` arguments. With a
      ``runner`` only its input size and weights file are used: each worker
      loads its own.

  Returns:
    Summary: ``files_written``, ``files_skipped``, clip counts of this run
    (per status: ``ok``, ``degraded``, ``skipped``, ``error``), ``seconds``
    (wall time writing files, Beam's launch included), ``writing_seconds``
    (with a runner: first file's start to last file's end on any worker,
    without the workers' start-up; None if the runner has no metrics),
    ``worker_cpu_seconds`` (CPU time of the processes writing files),
    ``worker_processes`` (processes that wrote a file: 1 without a runner,
    None with Beam metrics only), ``sensor_builds`` (Dask: sensors those
    processes built, one each; else None),
    ``clips_per_s``, ``crops_per_s`` (over ``seconds``) and the merged
    ``manifest``.

  Raises:
    ValueError: bad settings, or ``dataset_root`` holds no clip of the
      dataset (a run with nothing to write is not a complete dataset).
    sharding.EmptySplitError: the protocol leaves a split of
      ``dataset_root`` empty and ``allow_empty_split`` is False.
    NotADirectoryError: ``output_dir`` (or a parent) is a file.
    atomic.OutputExistsError: ``output_dir`` holds data prepared with other
      settings and ``overwrite`` is False.
    record_reuse.RecordReuseError: ``records_from`` is not a prepared
      directory of the same record settings.
  """
  if store not in tfrecords.STORES:
    raise ValueError(f"store must be one of {tfrecords.STORES}, got {store!r}")
  if mixed_precision is not None:
    try:
      keras.dtype_policies.get(mixed_precision)
    except ValueError as e:
      raise ValueError(f"mixed_precision {mixed_precision!r}: {e}") from None
  if decode_workers is not None and decode_workers < 1:
    raise ValueError(f"decode_workers must be >= 1, got {decode_workers}")
  if max_clips is not None and max_clips < 1:
    raise ValueError(f"max_clips must be >= 1 (None: every clip), got"
                     f" {max_clips}")
  if not 0 <= shard_index < num_shards:
    raise ValueError(
        f"shard_index must be in [0, {num_shards}), got {shard_index}")
  if runner is None and beam_options:
    raise ValueError(f"beam_options {list(beam_options)} need a runner")
  if not dask_cluster.is_dask(runner) and (
      dask_scheduler is not None or dask_workers is not None):
    raise ValueError("dask_scheduler and dask_workers need"
                     f" runner='DaskRunner', got runner={runner!r}")
  if dask_workers is not None and (dask_scheduler is not None
                                   or dask_workers < 1):
    raise ValueError(
        f"dask_workers={dask_workers} sizes the local cluster: >= 1, and"
        " without dask_scheduler (a named scheduler has its own workers)")
  if runner is not None and records_from is not None:
    raise ValueError(f"records_from needs the direct path (runner=None),"
                     f" got runner={runner!r}: copying records is file I/O,"
                     " nothing for a Beam pipeline to distribute")
  if runner is not None and num_shards != 1:
    raise ValueError("num_shards must be 1 with a Beam runner (the runner"
                     f" distributes the files), got {num_shards}")
  spec = registry.get_format(dataset)
  registry.get_protocol(protocol, dataset)
  dataset_root = Path(dataset_root)
  output_dir = Path(output_dir)
  problem = output_dir_lib.output_dir_problem(output_dir)
  if problem is not None:
    raise NotADirectoryError(problem)
  if crop_size_px is None:
    crop_size_px = spec.crop_size_px(dataset_root)
  crop_size_px = float(crop_size_px)
  if crop_output_size is None:
    crop_output_size = int(round(crop_size_px))

  all_sources = registry.list_clips(dataset_root, dataset)
  sources = all_sources[:max_clips] if max_clips is not None else all_sources
  assignments, unassigned = sharding.assign_files(sources, protocol,
                                                  clips_per_file)
  if not assignments:
    raise ValueError(
        f"{dataset_root}: no {dataset} clip to prepare ({len(sources)} found,"
        f" {len(unassigned)} skipped or outside the protocol); is it the"
        f" dataset root? ({spec.description})")
  if not allow_empty_split:
    check_root_splits(dataset_root, all_sources, protocol)
  mine = [a for i, a in enumerate(assignments) if i % num_shards == shard_index]

  features = store == tfrecords.STORE_FEATURES
  if not features:
    sensor = None
  elif sensor is not None:
    glimpse_input_size = sensor.input_size
    glimpse_weights = (None if sensor.weights_source is None
                       else str(sensor.weights_source))
  if runner is not None:
    if features and glimpse_weights is None:
      raise ValueError(
          "a Beam runner needs sensor weights that every worker loads"
          " (glimpse_weights=None would give each worker other random"
          " weights)")
    sensor = None  # each worker builds its own
  elif features and sensor is None and records_from is None:
    sensor = glimpse.GlimpseSensor(
        weights=glimpse_weights, input_size=glimpse_input_size,
        dtype=mixed_precision)
  settings = {
      "dataset": dataset, "protocol": protocol, "store": store,
      "crop_size_px": crop_size_px, "crop_output_size": crop_output_size,
      "clips_per_file": clips_per_file, "max_clips": max_clips,
      "glimpse_input_size": glimpse_input_size if features else None,
      "glimpse_weights": (str(glimpse_weights) if features
                          and glimpse_weights is not None else None),
  }
  output_dir_lib.claim_output_dir(output_dir, settings, overwrite)
  # Every worker writes the same content: no coordination needed.
  atomic.write_json(output_dir / sharding.MANIFEST_PARTS / "unassigned.json", {
      "clips": unassigned,
      "files_per_split": {s: sum(a.split == s for a in assignments)
                          for s in sharding.SPLITS}})
  todo = [a for a in mine
          if not sharding.is_complete(output_dir, a,
                                      sharding.settings_key(settings, a))]
  source = None
  if records_from is not None:
    source = record_reuse.RecordSource(records_from, settings, output_dir)
    if features and sensor is None and any(
        c.name not in source for a in todo for c in a.clips):
      sensor = glimpse.GlimpseSensor(
          weights=glimpse_weights, input_size=glimpse_input_size,
          dtype=mixed_precision)
  label = f"prepare {dataset} shard {shard_index}/{num_shards}"
  logging.info("%s: %d clips in %d files; this worker: %d files, %d already"
               " complete", label, len(sources), len(assignments), len(mine),
               len(mine) - len(todo))
  writer_config = file_writer.WriterConfig(
      dataset=dataset, store=store, crop_size_px=crop_size_px,
      crop_output_size=crop_output_size, batch_size=batch_size,
      glimpse_input_size=glimpse_input_size,
      glimpse_weights=(None if glimpse_weights is None
                       else str(glimpse_weights)),
      mixed_precision=mixed_precision, decode_threads=decode_threads,
      decode_workers=decode_workers, log_every_s=log_every_s)
  start, cpu = time.monotonic(), time.process_time()
  if runner is None:
    preparer = file_writer.make_preparer(
        writer_config, sensor, sum(len(a.clips) for a in todo), label)
    for assignment in todo:
      file_writer.write_assignment(preparer, output_dir, settings,
                                   assignment, label, source)
    preparer.progress.update(force=True)
  else:
    if beam_pipeline is None:
      raise ImportError(
          f"runner={runner!r} needs Apache Beam, an extra: pip install -e"
          f" '.[beam]' ({_BEAM_MISSING})")
    timings = beam_pipeline.write_files(
        todo, output_dir, settings, writer_config, runner=runner,
        options=beam_options, dask_scheduler=dask_scheduler,
        dask_workers=dask_workers)
  seconds = time.monotonic() - start
  if runner is None:
    timings = {"writing_seconds": seconds,
               "worker_cpu_seconds": time.process_time() - cpu,
               "worker_processes": 1, "sensor_builds": None}
  counts = dict.fromkeys(sharding.STATUSES, 0)
  frames = 0
  for assignment in todo:
    part = json.loads(sharding.part_path(output_dir, assignment).read_text())
    for entry in part["clips"]:
      counts[entry["status"]] += 1
      if entry["status"] in sharding.WRITTEN and store != tfrecords.STORE_NONE:
        frames += entry["frames"] or 0
  clips = sum(len(a.clips) for a in todo)
  manifest = sharding.merge_manifest(output_dir)
  # Per worker: shards may run with different bindings (e.g. decode_workers).
  config.save_operative_config(output_dir,
                               f"operative_config-{shard_index}.gin")
  return {
      "files_written": len(todo),
      "files_skipped": len(mine) - len(todo),
      "clips": counts,
      "seconds": seconds,
      **timings,
      "clips_per_s": clips / seconds if seconds > 0 else 0.0,
      "crops_per_s": (skeletons.NUM_HANDS * frames / seconds if seconds > 0
                      else 0.0),
      "manifest": manifest,
  }
