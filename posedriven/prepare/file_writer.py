"""Writing one TFRecord file of prepared clips: decode, sensor, records.

:func:`write_assignment` is the one place a file is written, by
``prepare_dataset``'s threaded path and by every Beam worker alike
(:mod:`.beam_pipeline`), so both write the same bytes. A process builds its
writer once (:func:`make_preparer`, from a picklable :class:`WriterConfig`)
and writes its files with it.

Per file, a ``tf.data`` pipeline decodes the clips' videos frame by frame in
its threads (``decode_workers`` clips at once), cuts the hand patches next
to the decoder and fills the sensor's batches across clips; the writer
(main thread) keeps a few sensor calls in flight (:mod:`.sensor_pass`) and
writes each clip's record once its last batch is back. Frame alignment, video resolution, bad and
degraded clips: see :mod:`.preparer` and :mod:`.clip_quality`. A clip that
cannot be read is recorded ``error`` with the reason and the file goes on.
"""

from __future__ import annotations

import collections
from concurrent import futures
import dataclasses
import os
from pathlib import Path
from typing import Any, Iterator

from absl import logging
import numpy as np
import tensorflow as tf

from posedriven import atomic
from posedriven.data import clip as clip_lib
from posedriven.data import glimpse_crops
from posedriven.data import skeletons
from posedriven.data import tfrecords
from posedriven.data import video
from posedriven.data.formats import registry
from posedriven.prepare import clip_quality
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
    problem = clip_quality.label_problem(int(clip.label), self.dataset)
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

  def write_file(self, assignment: sharding.FileAssignment, tmp: Path,
                 records_from=None) -> list[dict[str, Any]]:
    """Writes the records of one file to ``tmp``; returns manifest entries.

    ``records_from``: a ``record_reuse.RecordSource``; the clips it holds
    are copied from it, in their place in the file, and only the others
    are decoded and sent through the sensor.
    """
    reused = ({} if records_from is None else
              records_from.load(s.name for s in assignment.clips))
    states = [_ClipState(s) for s in assignment.clips
              if s.name not in reused]
    fresh = iter(self._clip_values(states))
    entries: list[dict[str, Any]] = []
    with tf.io.TFRecordWriter(str(tmp)) as writer:
      for source in assignment.clips:
        if source.name in reused:
          writer.write(reused[source.name].record)
          entries.append(records_from.entry(
              reused[source.name], source, assignment.split,
              assignment.filename))
        else:
          slot, parts = next(fresh)
          entries.append(self._finish(assignment, states[slot], parts,
                                      writer))
        self.progress.update(clips=1)
    # Run the generator to its end: it closes its pipeline and threads.
    if next(fresh, None) is not None:
      raise RuntimeError(f"{assignment.filename}: more clips processed than"
                         " the file holds")
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
    degraded = clip_quality.degradation(clip, t_skeleton, state.video_frames)
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
                     label: str, records_from=None) -> list[dict[str, Any]]:
  """Writes one TFRecord file and its manifest part, atomically.

  The one place a file is written, by the threaded path and by every Beam
  worker alike (hence the same bytes): the sensor's batches span the clips
  of one file in order, so a file, not a clip, is the unit of work.
  ``records_from``: see ``_Preparer.write_file``.

  Returns:
    The file's manifest entries.
  """
  with atomic.replacing(output_dir / assignment.filename) as tmp:
    entries = preparer.write_file(assignment, tmp, records_from)
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
