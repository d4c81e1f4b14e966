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
* **Bad clips.** A clip that cannot be read (corrupt or missing video, bad or
  empty skeleton) is recorded in the manifest with status ``error`` and the
  reason; the run goes on. Clips on the official "missing skeletons" lists
  are ``skipped``. A skeleton file whose name is not a sample name is no
  clip: it is logged and left out.
"""

from __future__ import annotations

import collections
from concurrent import futures
import dataclasses
import os
from pathlib import Path
from typing import Any, Iterator

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
from posedriven.prepare import progress as progress_lib
from posedriven.prepare import sensor_pass
from posedriven.prepare import sharding


@dataclasses.dataclass
class _ClipState:
  """What the decode thread learnt about one clip (read by the writer)."""

  source: registry.ClipSource
  clip: clip_lib.Clip | None = None
  error: str | None = None
  video_frames: int = -1
  container_frames: int = -1
  crop_size_px: float = 0.0


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

  # -- decode thread (runs inside tf.data's from_generator) ----------------

  def _load(self, state: _ClipState) -> clip_lib.Clip | None:
    try:
      return self.dataset.load_clip(state.source.skeleton_path)
    except Exception as e:  # pylint: disable=broad-except
      # One unreadable clip must not stop a multi-hour run: record and go on.
      state.error = f"skeleton: {type(e).__name__}: {e}"
      logging.warning("%s: skipped, %s", state.source.name, state.error)
      return None

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
      state.error = f"video: {type(e).__name__}: {e}"
      logging.warning("%s: skipped, %s", state.source.name, state.error)

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
    return sharding.manifest_entry(
        source, status=sharding.STATUS_OK, label=int(clip.label),
        skeleton_frames=t_skeleton, video_frames=state.video_frames,
        container_frames=state.container_frames, frames=t, **common)


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
    max_clips: Only the first ``max_clips`` clips by name (smoke runs; it
      changes the file assignment, so use one value per output_dir).
    log_every_s: Seconds between progress lines.
    overwrite: Rewrite files that were prepared with other settings or clips
      (without it they are refused: a finished preparation is not replaced
      silently). Files of the same settings are always kept (resuming).
    sensor: A ready glimpse sensor (computed argument, e.g. shared by tests
      and benchmarks); overrides the ``glimpse_*`` arguments.

  Returns:
    Summary: ``files_written``, ``files_skipped``, clip counts of this run,
    ``seconds``, ``clips_per_s``, ``crops_per_s`` and the merged ``manifest``.
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
  if not 0 <= shard_index < num_shards:
    raise ValueError(
        f"shard_index must be in [0, {num_shards}), got {shard_index}")
  spec = registry.get_format(dataset)
  registry.get_protocol(protocol, dataset)
  dataset_root = Path(dataset_root)
  output_dir = Path(output_dir)
  (output_dir / sharding.MANIFEST_PARTS).mkdir(parents=True, exist_ok=True)
  if crop_size_px is None:
    crop_size_px = spec.crop_size_px(dataset_root)
  crop_size_px = float(crop_size_px)
  if crop_output_size is None:
    crop_output_size = int(round(crop_size_px))

  sources = registry.list_clips(dataset_root, dataset)
  if max_clips is not None:
    sources = sources[:max_clips]
  assignments, unassigned = sharding.assign_files(sources, protocol,
                                                  clips_per_file)
  mine = [a for i, a in enumerate(assignments) if i % num_shards == shard_index]
  # Every worker writes the same content: no coordination needed.
  atomic.write_json(output_dir / sharding.MANIFEST_PARTS / "unassigned.json", {
      "clips": unassigned,
      "files_per_split": {s: sum(a.split == s for a in assignments)
                          for s in sharding.SPLITS}})

  if store == tfrecords.STORE_FEATURES and sensor is None:
    from posedriven.models import glimpse  # pylint: disable=g-import-not-at-top
    sensor = glimpse.GlimpseSensor(
        weights=glimpse_weights, input_size=glimpse_input_size,
        dtype=mixed_precision)
  if store != tfrecords.STORE_FEATURES:
    sensor = None
  settings = {
      "dataset": dataset, "protocol": protocol, "store": store,
      "crop_size_px": crop_size_px, "crop_output_size": crop_output_size,
      "clips_per_file": clips_per_file, "max_clips": max_clips,
      "glimpse_input_size": sensor.input_size if sensor is not None else None,
      "glimpse_weights": (str(sensor.weights_source) if sensor is not None
                          and sensor.weights_source is not None else None),
  }
  other = [a.filename for a in mine if sharding.has_other_settings(
      output_dir, a, sharding.settings_key(settings, a))]
  if other and not overwrite:
    raise atomic.OutputExistsError(
        output_dir, f"{len(other)} TFRecord files prepared with other "
        f"settings or clips ({', '.join(other[:3])}"
        f"{', ...' if len(other) > 3 else ''})")
  todo = [a for a in mine
          if not sharding.is_complete(output_dir, a,
                                      sharding.settings_key(settings, a))]
  label = f"prepare {dataset} shard {shard_index}/{num_shards}"
  logging.info("%s: %d clips in %d files; this worker: %d files, %d already"
               " complete", label, len(sources), len(assignments), len(mine),
               len(mine) - len(todo))
  has_gpu = bool(tf.config.list_physical_devices("GPU"))
  if decode_workers is None:
    decode_workers = max(1, (os.cpu_count() or 1) // 2) if has_gpu else 1
  if decode_threads is None:
    decode_threads = 0 if has_gpu and decode_workers == 1 else 1
  progress = progress_lib.Progress(sum(len(a.clips) for a in todo), label,
                                   log_every_s)
  preparer = _Preparer(spec, store=store, crop_size_px=crop_size_px,
                       crop_output_size=crop_output_size,
                       batch_size=batch_size, sensor=sensor,
                       decode_threads=decode_threads,
                       decode_workers=decode_workers, progress=progress)
  counts = dict.fromkeys(sharding.STATUSES, 0)
  for assignment in todo:
    with atomic.replacing(output_dir / assignment.filename) as tmp:
      entries = preparer.write_file(assignment, tmp)
      for entry in entries:
        counts[entry["status"]] += 1
      # The part goes first: a file that exists always has its part.
      atomic.write_json(sharding.part_path(output_dir, assignment), {
          "file": assignment.filename, "split": assignment.split,
          "settings": sharding.settings_key(settings, assignment),
          "clips": entries})
    logging.info("%s: wrote %s (%d clips, %d errors)", label,
                 assignment.filename, len(entries),
                 sum(e["status"] != sharding.STATUS_OK for e in entries))
  progress.update(force=True)
  manifest = sharding.merge_manifest(output_dir)
  # Per worker: shards may run with different bindings (e.g. decode_workers).
  config.save_operative_config(output_dir,
                               f"operative_config-{shard_index}.gin")
  seconds = progress.elapsed
  return {
      "files_written": len(todo),
      "files_skipped": len(mine) - len(todo),
      "clips": counts,
      "seconds": seconds,
      "clips_per_s": progress.clips / seconds if seconds > 0 else 0.0,
      "crops_per_s": progress.crops / seconds if seconds > 0 else 0.0,
      "manifest": manifest,
  }
