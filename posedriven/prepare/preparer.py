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
overlaps the CNN.

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
  with :func:`write_assignment`, as this process does without a runner, so
  the bytes are the same. ``num_shards`` stays for machines without Beam
  (it is an extra) or without a Beam cluster (a batch scheduler's job
  array).
* **Bad clips.** A clip that cannot be read (corrupt or missing video, bad
  skeleton, a skeleton without a usable joint in any frame: 0 frames, nobody
  present or every joint NaN, :func:`clip_lib.check_usable`; a label outside
  the dataset's classes) is recorded in the manifest with status ``error``
  and the reason, and logged as an error with its name; the run goes on.
  Clips on the official "missing skeletons" lists are ``skipped``. A
  skeleton file whose name is not a sample name is no clip: it is logged
  and left out.
* **Degraded clips** (:func:`degradation`) are usable but below a quality
  threshold: fewer than :data:`MIN_VIDEO_FRAME_FRACTION` of the skeleton's
  frames decode from the video (a 1-frame video beside a 27-frame skeleton,
  a PNG renamed ``.avi``), or no hand is tracked and valid in any frame
  though the pose is (every hand joint untracked). They are written like
  ``ok`` clips, logged, and recorded with status ``degraded`` and the
  reason, counted apart in ``manifest["counts"]``. Training and evaluation
  read every record of the files, degraded ones included (README,
  "Degraded clips").
* **Output directory.** A directory that holds data prepared with other
  settings (dataset, protocol, store, crop size, sensor, ``max_clips``) is
  refused with ``atomic.OutputExistsError`` unless ``overwrite=True``, which
  removes that data first; the same settings resume.
"""

from __future__ import annotations

import collections
from concurrent import futures
import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from absl import logging
import gin
import keras
import numpy as np
import tensorflow as tf

from posedriven import atomic
from posedriven import config
from posedriven.data import clip as clip_lib
from posedriven.data import glimpse_crops
from posedriven.data import skeletons
from posedriven.data import tfrecords
from posedriven.data import video
from posedriven.data.formats import registry
from posedriven.models import glimpse
from posedriven.prepare import progress as progress_lib
from posedriven.prepare import sensor_pass
from posedriven.prepare import sharding

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


# Degraded-clip policy (README, "Degraded clips"): a clip whose video
# decodes fewer than this share of its skeleton's frames is degraded. Real
# NTU videos differ from their skeletons by a frame or two.
MIN_VIDEO_FRAME_FRACTION = 0.5


def degradation(clip: clip_lib.Clip, skeleton_frames: int,
                video_frames: int) -> str | None:
  """Why a readable clip is degraded, or None when it is fine.

  Args:
    clip: The clip as written (cut to the frames both sources have).
    skeleton_frames: Frames of the skeleton file.
    video_frames: Frames that decoded; < 0 when the video was not read
      (``store="none"``).
  """
  reasons = []
  if 0 <= video_frames < MIN_VIDEO_FRAME_FRACTION * skeleton_frames:
    reasons.append(
        f"video: only {video_frames} of the skeleton's {skeleton_frames}"
        f" frames decode (threshold {MIN_VIDEO_FRAME_FRACTION:.0%}); the"
        f" record keeps {video_frames}")
  reasons.extend(clip.defects)  # the reader's own findings (Clip.defects)
  if not clip.hand_valid.any():
    # The pose is still there (clip_lib.check_usable refuses a clip without
    # one); only the glimpses are lost.
    reasons.append("skeleton: no hand is tracked and valid in any frame"
                   " (every hand joint untracked or NaN); every glimpse is"
                   " blank")
  return "; ".join(reasons) or None


def label_problem(label: int, dataset: registry.DatasetFormat) -> str | None:
  """Why ``label`` cannot be trained on with ``dataset``'s classes, or None."""
  num_classes = len(dataset.class_names)
  if 0 <= label < num_classes:
    return None
  return (f"label {label} is outside the {num_classes} classes of"
          f" {dataset.name} (0..{num_classes - 1}); training could not use"
          " it")


@dataclasses.dataclass
class _ClipState:
  """What the decode thread learnt about one clip (read by the writer)."""

  source: registry.ClipSource
  clip: clip_lib.Clip | None = None
  error: str | None = None
  video_frames: int = -1
  container_frames: int = -1
  crop_size_px: float = 0.0


def _record_error(state: _ClipState, reason: str) -> None:
  """Marks the clip ``error`` (not written) and logs it with its name.

  The log says "error", as the manifest does: "skipped" is the status of
  the official missing-skeleton lists only (README).
  """
  state.error = reason
  logging.warning("%s: error, not written: %s", state.source.name, reason)


class _Preparer:
  """Writes the files of one worker; holds the sensor and settings."""

  def __init__(self, dataset: registry.DatasetFormat, *, store: str,
               crop_size_px: float,
               crop_output_size: int, batch_size: int, sensor,
               decode_threads: int, decode_workers: int,
               progress: progress_lib.Progress):
    self.dataset = dataset
    self.store = store
    self.crop_size_px = crop_size_px
    self.crop_output_size = crop_output_size
    self.frames_per_batch = max(1, batch_size // skeletons.NUM_HANDS)
    self.sensor = sensor
    self.decode_threads = decode_threads
    self.decode_workers = decode_workers
    self.progress = progress
    self._glimpse_fn = (None if store == tfrecords.STORE_NONE else
                        sensor_pass.glimpse_fn(sensor, crop_output_size))

  def warm_up(self) -> None:
    """Traces and runs the sensor function once on one blank frame, so that
    a fresh worker's first file is not slowed by it (records unchanged:
    each batch's features depend only on that batch)."""
    if self._glimpse_fn is None:
      return
    side = max(1, int(np.ceil(self.crop_size_px)))
    self._glimpse_fn(np.zeros((1, skeletons.NUM_HANDS, side, side, 3),
                              np.uint8),
                     np.zeros((1, skeletons.NUM_HANDS, 4), np.float32),
                     np.zeros((1, skeletons.NUM_HANDS), bool))

  # -- decode thread (runs inside tf.data's from_generator) ----------------

  def _load(self, state: _ClipState) -> clip_lib.Clip | None:
    try:
      clip = self.dataset.load_clip(state.source.skeleton_path)
      # Every dataset alike: an all-NaN clip is as empty as a 0-frame one.
      clip_lib.check_usable(clip, state.source.skeleton_path)
    except Exception as e:  # pylint: disable=broad-except
      # One unreadable clip must not stop a multi-hour run: record and go on.
      _record_error(state, f"skeleton: {type(e).__name__}: {e}")
      return None
    problem = label_problem(int(clip.label), self.dataset)
    if problem is not None:
      # Caught here, a bad name costs one manifest line instead of a crash
      # at whichever training epoch first samples the clip.
      _record_error(state, f"label: {state.source.skeleton_path}: {problem}")
      return None
    return clip

  def _chunks(self, states: list[_ClipState]
              ) -> Iterator[dict[str, np.ndarray]]:
    """Yields chunks of decoded frames with their hands, clip by clip."""
    if self.decode_workers <= 1 or self.store == tfrecords.STORE_NONE:
      for slot, state in enumerate(states):
        yield from self._clip_stream(slot, state)
      return
    # Several clips decode at once (OpenCV releases the GIL); a clip's
    # patches (~3 MB for 100 Full-HD frames) are held until its turn, so
    # chunks still arrive in slot order.
    pool = futures.ThreadPoolExecutor(self.decode_workers)
    try:
      ahead: collections.deque = collections.deque()
      for slot, state in enumerate(states):
        ahead.append(pool.submit(
            lambda s=slot, c=state: list(self._clip_stream(s, c))))
        if len(ahead) > self.decode_workers:
          yield from ahead.popleft().result()
      while ahead:
        yield from ahead.popleft().result()
    finally:
      pool.shutdown(wait=True, cancel_futures=True)

  def _clip_stream(self, slot: int, state: _ClipState
                   ) -> Iterator[dict[str, np.ndarray]]:
    """One clip's chunks; failures are recorded in ``state``, not raised."""
    clip = self._load(state)
    if clip is None:
      return
    state.clip = clip
    if self.store == tfrecords.STORE_NONE:
      state.video_frames = -1
      return
    try:
      yield from self._clip_chunks(slot, state, clip)
    except Exception as e:  # pylint: disable=broad-except
      _record_error(state, f"video: {type(e).__name__}: {e}")

  def _clip_chunks(self, slot: int, state: _ClipState, clip: clip_lib.Clip):
    frames = self.dataset.frame_source(state.source, clip)
    with video.open_source(frames,
                           decode_threads=self.decode_threads) as reader:
      state.container_frames = reader.num_frames
      # Hand patches are cut next to the decoder: the whole-frame colour
      # conversion, a 6 MB copy per frame into TensorFlow and a full-frame
      # crop_and_resize input would cost more CPU than the sensor saves by
      # overlapping (BUILD_NOTES).
      state.crop_size_px, chunks = glimpse_crops.clip_patch_chunks(
          clip, reader, self.crop_size_px, self.frames_per_batch)
      decoded = 0
      for indices, patches in chunks:
        decoded += len(indices)
        yield {
            "patches": patches.patches,
            "boxes": patches.boxes,
            "valid": patches.valid,
            "slot": np.full(len(indices), slot, np.int32),
            "frame_index": indices.astype(np.int32),
        }
    state.video_frames = decoded
    if decoded == 0:
      state.error = "video: no frame decoded"

  def _patch_dataset(self, states: list[_ClipState]) -> tf.data.Dataset:
    patches, boxes, valid = sensor_pass.PATCH_SIGNATURE
    signature = {"patches": patches, "boxes": boxes, "valid": valid,
                 "slot": tf.TensorSpec([None], tf.int32),
                 "frame_index": tf.TensorSpec([None], tf.int32)}
    # Batches are filled in the generator (rebatch): unbatch/batch in
    # tf.data cost ~1 CPU-ms per frame in element overhead.
    return (tf.data.Dataset.from_generator(
        lambda: sensor_pass.rebatch(self._chunks(states),
                                    self.frames_per_batch),
        output_signature=signature)
            .prefetch(2)
            .with_options(sensor_pass.no_autotune()))

  # -- writer (main thread) -------------------------------------------------

  def write_file(self, assignment: sharding.FileAssignment, tmp: Path
                 ) -> list[dict[str, Any]]:
    """Writes the records of one file to ``tmp``; returns manifest entries."""
    states = [_ClipState(s) for s in assignment.clips]
    entries: list[dict[str, Any]] = []
    with tf.io.TFRecordWriter(str(tmp)) as writer:
      for slot, parts in self._clip_values(states):
        entries.append(self._finish(assignment, states[slot], parts, writer))
        self.progress.update(clips=1)
    return entries

  def _clip_values(self, states: list[_ClipState]
                   ) -> Iterator[tuple[int, list[np.ndarray]]]:
    """``(slot, value chunks)`` of each clip, in slot order, once it is done."""
    if self.store == tfrecords.STORE_NONE:
      for _ in self._chunks(states):
        pass
      yield from ((slot, []) for slot in range(len(states)))
      return
    done, parts = 0, []
    for slots, values in self._values(self._patch_dataset(states)):
      self.progress.update(crops=int(len(slots)) * skeletons.NUM_HANDS)
      # Slots arrive in order; a new slot means earlier clips are done.
      for slot in np.unique(slots):
        while done < slot:
          yield done, parts
          done, parts = done + 1, []
        parts.append(values[slots == slot])
    while done < len(states):
      yield done, parts
      done, parts = done + 1, []

  def _values(self, batches: tf.data.Dataset
              ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(slots, values)`` per batch, in order: glimpse features or crops."""

    def values(batch) -> np.ndarray:
      out = self._glimpse_fn(batch["patches"], batch["boxes"], batch["valid"])
      return (out.numpy() if self.sensor is None
              else out.numpy().astype(np.float16))

    # With one call at a time the cores idle while a call starts, ends and
    # converts its output, and whenever decoding holds one of them (measured,
    # BUILD_NOTES); TensorFlow releases the GIL, so threads suffice.
    in_flight: collections.deque = collections.deque()
    with futures.ThreadPoolExecutor(sensor_pass.SENSOR_CALLS_IN_FLIGHT) as pool:
      for batch in batches:
        in_flight.append((batch["slot"].numpy(), pool.submit(values, batch)))
        if len(in_flight) == sensor_pass.SENSOR_CALLS_IN_FLIGHT:
          slots, result = in_flight.popleft()
          yield slots, result.result()
      while in_flight:
        slots, result = in_flight.popleft()
        yield slots, result.result()

  def _finish(self, assignment: sharding.FileAssignment, state: _ClipState,
              parts: list[np.ndarray], writer) -> dict[str, Any]:
    source, clip = state.source, state.clip
    common = dict(split=assignment.split, filename=assignment.filename)
    if state.error is not None or clip is None:
      return sharding.manifest_entry(
          source, status=sharding.STATUS_ERROR,
          reason=state.error or "not processed", **common)
    t_skeleton = clip.num_frames
    if self.store == tfrecords.STORE_NONE:
      t = t_skeleton
      values = None
    else:
      values = np.concatenate(parts) if parts else None
      t = 0 if values is None else len(values)
      if t != state.video_frames:
        return sharding.manifest_entry(
            source, status=sharding.STATUS_ERROR,
            reason=f"internal: {t} frames processed, "
            f"{state.video_frames} decoded", **common)
      if t_skeleton != state.container_frames or t != t_skeleton:
        logging.warning(
            "%s: skeleton has %d frames, the video container says %d and"
            " %d of the needed frames decoded; keeping the first %d frames of"
            " both", clip.name, t_skeleton, state.container_frames, t, t)
    clip = clip_lib.first_frames(clip, t)
    record = tfrecords.serialize_clip(
        clip,
        glimpse_features=values if self.store == tfrecords.STORE_FEATURES
        else None,
        crops=values if self.store == tfrecords.STORE_CROPS else None,
        crop_size_px=state.crop_size_px, skeleton_frames=t_skeleton,
        video_frames=state.video_frames)
    writer.write(record)
    degraded = degradation(clip, t_skeleton, state.video_frames)
    if degraded:
      logging.warning("%s: degraded, %s", clip.name, degraded)
    return sharding.manifest_entry(
        source, status=(sharding.STATUS_DEGRADED if degraded
                         else sharding.STATUS_OK),
        reason=degraded or "", label=int(clip.label),
        skeleton_frames=t_skeleton, video_frames=state.video_frames,
        container_frames=state.container_frames, frames=t, **common)


@dataclasses.dataclass(frozen=True)
class WriterConfig:
  """What a process needs to write files: picklable, so that every Beam
  worker builds its own preparer (and sensor) from it."""

  dataset: str
  store: str
  crop_size_px: float
  crop_output_size: int
  batch_size: int
  glimpse_input_size: int
  glimpse_weights: str | None
  mixed_precision: str | None
  decode_threads: int | None
  decode_workers: int | None
  log_every_s: float


def decode_defaults(decode_workers: int | None, decode_threads: int | None
                    ) -> tuple[int, int]:
  """``(decode_workers, decode_threads)`` with None filled for this machine."""
  has_gpu = bool(tf.config.list_physical_devices("GPU"))
  if decode_workers is None:
    decode_workers = max(1, (os.cpu_count() or 1) // 2) if has_gpu else 1
  if decode_threads is None:
    decode_threads = 0 if has_gpu and decode_workers == 1 else 1
  return decode_workers, decode_threads


def make_preparer(config: WriterConfig, sensor, total_clips: int,
                  label: str) -> _Preparer:
  """The file writer of one process (``sensor``: None unless features)."""
  decode_workers, decode_threads = decode_defaults(config.decode_workers,
                                                   config.decode_threads)
  return _Preparer(
      registry.get_format(config.dataset), store=config.store,
      crop_size_px=config.crop_size_px,
      crop_output_size=config.crop_output_size,
      batch_size=config.batch_size, sensor=sensor,
      decode_threads=decode_threads, decode_workers=decode_workers,
      progress=progress_lib.Progress(total_clips, label, config.log_every_s))


def write_assignment(preparer: _Preparer, output_dir: Path,
                     settings: dict[str, Any],
                     assignment: sharding.FileAssignment,
                     label: str) -> list[dict[str, Any]]:
  """Writes one TFRecord file and its manifest part, atomically.

  The one place a file is written, by the threaded path and by every Beam
  worker alike (hence the same bytes): the sensor's batches span the clips
  of one file in order, so a file, not a clip, is the unit of work.

  Returns:
    The file's manifest entries.
  """
  with atomic.replacing(output_dir / assignment.filename) as tmp:
    entries = preparer.write_file(assignment, tmp)
    # The part goes first: a file that exists always has its part.
    atomic.write_json(sharding.part_path(output_dir, assignment), {
        "file": assignment.filename, "split": assignment.split,
        "settings": sharding.settings_key(settings, assignment),
        "clips": entries})
  logging.info("%s: wrote %s (%d clips, %d errors, %d degraded)", label,
               assignment.filename, len(entries),
               sum(e["status"] == sharding.STATUS_ERROR for e in entries),
               sum(e["status"] == sharding.STATUS_DEGRADED for e in entries))
  return entries


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


def output_dir_problem(output_dir: Path) -> str | None:
  """Why ``output_dir`` cannot become a directory of prepared data, or None.

  Said before any work: ``mkdir`` would only name ``manifest_parts``.
  """
  if output_dir.exists() and not output_dir.is_dir():
    return (f"output_dir {output_dir} is a file, not a directory; give a"
            " directory for the prepared data (it is created if missing)")
  parent = output_dir.parent
  while not parent.exists() and parent != parent.parent:
    parent = parent.parent
  if not parent.is_dir():
    return (f"output_dir {output_dir}: {parent} is a file, not a directory;"
            " give a directory for the prepared data")
  return None


def _claim_output_dir(output_dir: Path, settings: dict[str, Any],
                      overwrite: bool) -> None:
  """Creates ``output_dir``; refuses (or with ``overwrite`` removes) data
  prepared there with other settings, before anything is written."""
  others = sharding.parts_of_other_settings(output_dir, settings)
  if others and not overwrite:
    raise atomic.OutputExistsError(
        output_dir, "data prepared with other settings: " +
        sharding.describe_difference(others[0][1], settings))
  if others:
    logging.warning("%s: removing %d files prepared with other settings"
                    " (overwrite=True)", output_dir, len(others))
    sharding.remove_parts(output_dir, [path for path, _ in others])
  (output_dir / sharding.MANIFEST_PARTS).mkdir(parents=True, exist_ok=True)


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
      ``SparkRunner``, ``DataflowRunner``, ``PortableRunner``): an Apache
      Beam pipeline writes them (:mod:`posedriven.prepare.beam_pipeline`,
      ``pip install -e ".[beam]"``), one file per element, same bytes.
      Every worker must see ``dataset_root`` and ``output_dir`` (a shared
      filesystem) and load ``glimpse_weights``; ``num_shards`` must be 1.
    beam_options: Beam pipeline options for ``runner``, e.g.
      ``["--direct_num_workers=2", "--direct_running_mode=multi_processing"]``
      or ``["--flink_master=host:8081"]``.
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
  if runner is not None and num_shards != 1:
    raise ValueError("num_shards must be 1 with a Beam runner (the runner"
                     f" distributes the files), got {num_shards}")
  spec = registry.get_format(dataset)
  registry.get_protocol(protocol, dataset)
  dataset_root = Path(dataset_root)
  output_dir = Path(output_dir)
  problem = output_dir_problem(output_dir)
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
  elif features and sensor is None:
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
  _claim_output_dir(output_dir, settings, overwrite)
  # Every worker writes the same content: no coordination needed.
  atomic.write_json(output_dir / sharding.MANIFEST_PARTS / "unassigned.json", {
      "clips": unassigned,
      "files_per_split": {s: sum(a.split == s for a in assignments)
                          for s in sharding.SPLITS}})
  todo = [a for a in mine
          if not sharding.is_complete(output_dir, a,
                                      sharding.settings_key(settings, a))]
  label = f"prepare {dataset} shard {shard_index}/{num_shards}"
  logging.info("%s: %d clips in %d files; this worker: %d files, %d already"
               " complete", label, len(sources), len(assignments), len(mine),
               len(mine) - len(todo))
  writer_config = WriterConfig(
      dataset=dataset, store=store, crop_size_px=crop_size_px,
      crop_output_size=crop_output_size, batch_size=batch_size,
      glimpse_input_size=glimpse_input_size,
      glimpse_weights=(None if glimpse_weights is None
                       else str(glimpse_weights)),
      mixed_precision=mixed_precision, decode_threads=decode_threads,
      decode_workers=decode_workers, log_every_s=log_every_s)
  start, cpu = time.monotonic(), time.process_time()
  if runner is None:
    preparer = make_preparer(writer_config, sensor,
                             sum(len(a.clips) for a in todo), label)
    for assignment in todo:
      write_assignment(preparer, output_dir, settings, assignment, label)
    preparer.progress.update(force=True)
  else:
    if beam_pipeline is None:
      raise ImportError(
          f"runner={runner!r} needs Apache Beam, an extra: pip install -e"
          f" '.[beam]' ({_BEAM_MISSING})")
    timings = beam_pipeline.write_files(
        todo, output_dir, settings, writer_config, runner=runner,
        options=beam_options)
  seconds = time.monotonic() - start
  if runner is None:
    timings = {"writing_seconds": seconds,
               "worker_cpu_seconds": time.process_time() - cpu}
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
