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
import datetime
import json
import math
import os
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from posedriven.data import clip as clip_lib
from posedriven.data import glimpse_crops
from posedriven.data import msr
from posedriven.data import ntu
from posedriven.data import protocols
from posedriven.data import sbu
from posedriven.data import skeletons
from posedriven.data import synthetic
from posedriven.data import tfrecords
from posedriven.data import video

MANIFEST = "manifest.json"
MANIFEST_PARTS = "manifest_parts"
SPLITS = (protocols.TRAIN, protocols.TEST)
STATUS_OK = "ok"
STATUS_SKIPPED = "skipped"
STATUS_ERROR = "error"

# Crop side in source pixels (paper, section 4).
NTU_CROP_SIZE_PX = 50.0
SBU_MSR_CROP_SIZE_PX = 100.0


@dataclasses.dataclass(frozen=True)
class ClipSource:
  """Where one clip's files are, known before anything is parsed.

  Attributes:
    name: Clip name (sort key, manifest key).
    skeleton_path: Skeleton file, or SBU sequence directory.
    video_path: Video file; None for image-sequence datasets (SBU).
    metadata: Protocol keys parsed from the name / path.
    skip_reason: Set for clips excluded up front (official missing lists).
  """

  name: str
  skeleton_path: Path
  video_path: Path | None
  metadata: dict[str, Any]
  skip_reason: str | None = None


@dataclasses.dataclass(frozen=True)
class _Dataset:
  list_sources: Callable[[Path], list[ClipSource]]
  load_clip: Callable[[ClipSource], clip_lib.Clip]
  crop_size_px: Callable[[Path], float]


def _ntu_sources(root: Path, dataset: str) -> list[ClipSource]:
  skeleton_dir = root / "nturgb+d_skeletons"
  rgb_dir = root / "nturgb+d_rgb"
  files = ntu.list_skeleton_files(skeleton_dir, dataset, skip_missing=False)
  missing = ntu.missing_skeleton_samples(dataset)
  sources = []
  for path in files:
    name = path.name.split(".")[0]
    sources.append(ClipSource(
        name=name, skeleton_path=path, video_path=rgb_dir / f"{name}_rgb.avi",
        metadata=dataclasses.asdict(ntu.parse_sample_name(name)),
        skip_reason=("on the official list of samples with missing skeletons"
                     if name in missing else None)))
  return sources


def _synthetic_sources(root: Path) -> list[ClipSource]:
  # The NTU listing: a file that is not a sample name is logged and left out
  # instead of stopping the run. Synthetic actions stay below 120.
  files = ntu.list_skeleton_files(root / synthetic.SKELETON_DIR, "ntu120",
                                  skip_missing=False)
  sources = []
  for path in files:
    name = path.name.split(".")[0]
    sources.append(ClipSource(
        name=name, skeleton_path=path,
        video_path=synthetic.video_path(root, name),
        metadata=dataclasses.asdict(ntu.parse_sample_name(name))))
  return sources


def _synthetic_crop_size(root: Path) -> float:
  return float(synthetic.load_meta(root)["crop_size_px"])


def _synthetic_clip(source: ClipSource) -> clip_lib.Clip:
  # Hand pixels of the synthetic set refer to its own image size (meta file).
  root = source.skeleton_path.parent.parent
  return synthetic.load_clip(root, source.name)


def _sbu_sources(root: Path) -> list[ClipSource]:
  sources = []
  for seq_dir in sbu.list_sequences(root):
    seq_id = sbu.parse_sequence_dir(seq_dir)
    sources.append(ClipSource(
        name=seq_id.name, skeleton_path=seq_dir, video_path=None,
        metadata={"set_name": seq_id.set_name, "action": seq_id.action,
                  "sequence": seq_id.sequence}))
  return sources


def _msr_sources(root: Path) -> list[ClipSource]:
  sources = []
  for path in msr.list_skeleton_files(root):
    sample = msr.parse_sample_name(path)
    sources.append(ClipSource(
        name=str(sample), skeleton_path=path, video_path=msr.video_path(path),
        metadata=dataclasses.asdict(sample)))
  return sources


_DATASETS: dict[str, _Dataset] = {
    "ntu60": _Dataset(lambda root: _ntu_sources(root, "ntu60"),
                      lambda s: ntu.load_clip(s.skeleton_path),
                      lambda root: NTU_CROP_SIZE_PX),
    "ntu120": _Dataset(lambda root: _ntu_sources(root, "ntu120"),
                       lambda s: ntu.load_clip(s.skeleton_path),
                       lambda root: NTU_CROP_SIZE_PX),
    "synthetic": _Dataset(_synthetic_sources, _synthetic_clip,
                          _synthetic_crop_size),
    "sbu": _Dataset(_sbu_sources, lambda s: sbu.load_clip(s.skeleton_path),
                    lambda root: SBU_MSR_CROP_SIZE_PX),
    "msr": _Dataset(_msr_sources, lambda s: msr.load_clip(s.skeleton_path),
                    lambda root: SBU_MSR_CROP_SIZE_PX),
}


# Dataset layouts ``prepare_dataset`` reads.
DATASETS = tuple(sorted(_DATASETS))


def _get_dataset(dataset: str) -> _Dataset:
  try:
    return _DATASETS[dataset]
  except KeyError:
    raise ValueError(f"unknown dataset {dataset!r}; expected one of"
                     f" {sorted(_DATASETS)}") from None


def list_clips(dataset_root: str | os.PathLike, dataset: str = "ntu60"
               ) -> list[ClipSource]:
  """All clips of a dataset directory, sorted by name, without parsing them."""
  sources = _get_dataset(dataset).list_sources(Path(dataset_root))
  return sorted(sources, key=lambda s: s.name)


def _frame_source(source: ClipSource, clip: clip_lib.Clip):
  """Video path, or SBU's image list (one image per skeleton frame)."""
  if source.video_path is not None:
    return source.video_path
  return sbu.clip_frame_paths(source.skeleton_path, clip)


@dataclasses.dataclass(frozen=True)
class FileAssignment:
  """One output file and the clips it holds."""

  split: str
  index: int
  count: int
  clips: tuple[ClipSource, ...]

  @property
  def filename(self) -> str:
    return f"{self.split}-{self.index:05d}-of-{self.count:05d}.tfrecord"


def assign_files(sources: Sequence[ClipSource], protocol: str,
                 clips_per_file: int
                 ) -> tuple[list[FileAssignment], list[dict[str, Any]]]:
  """Cuts each split's clip list into files (deterministic, by position).

  Returns:
    The files of all splits, and manifest entries for clips that go in no
    file (skipped up front, or metadata the protocol rejects).
  """
  if clips_per_file < 1:
    raise ValueError(f"clips_per_file must be >= 1, got {clips_per_file}")
  by_split: dict[str, list[ClipSource]] = {s: [] for s in SPLITS}
  unassigned = []
  for source in sources:
    if source.skip_reason:
      unassigned.append(_entry(source, None, None, STATUS_SKIPPED,
                               source.skip_reason))
      continue
    try:
      split = protocols.split_of(protocol, source.metadata)
    except ValueError as e:
      unassigned.append(_entry(source, None, None, STATUS_ERROR, str(e)))
      continue
    by_split[split].append(source)
  files = []
  for split in SPLITS:
    clips = by_split[split]
    count = math.ceil(len(clips) / clips_per_file)
    for k in range(count):
      files.append(FileAssignment(
          split, k, count,
          tuple(clips[k * clips_per_file:(k + 1) * clips_per_file])))
  return files, unassigned


def _entry(source: ClipSource, split: str | None, filename: str | None,
           status: str, reason: str = "", **extra) -> dict[str, Any]:
  entry = {"name": source.name, "split": split, "file": filename,
           "status": status, "reason": reason, "label": None,
           "skeleton_frames": None, "video_frames": None, "frames": None}
  if split == protocols.TRAIN:
    entry["validation"] = protocols.is_validation(source.name)
  entry.update(extra)
  return entry


def _write_json_atomic(path: Path, value: Any) -> None:
  tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
  tmp.write_text(json.dumps(value, indent=1, sort_keys=True))
  os.replace(tmp, path)


@dataclasses.dataclass
class _ClipState:
  """What the decode thread learnt about one clip (read by the writer)."""

  source: ClipSource
  clip: clip_lib.Clip | None = None
  error: str | None = None
  video_frames: int = -1
  container_frames: int = -1
  crop_size_px: float = 0.0


class _Progress:
  """Clips/s, crops/s and ETA, logged at most every ``every_s`` seconds."""

  def __init__(self, total_clips: int, label: str, every_s: float):
    self.total, self.label, self.every_s = total_clips, label, every_s
    self.start = self.last = time.monotonic()
    self.clips = self.crops = 0

  def update(self, clips: int = 0, crops: int = 0, force: bool = False):
    self.clips += clips
    self.crops += crops
    now = time.monotonic()
    if not force and now - self.last < self.every_s:
      return
    self.last = now
    elapsed = max(now - self.start, 1e-9)
    rate = self.clips / elapsed
    eta = (self.total - self.clips) / rate if rate > 0 else float("nan")
    eta_text = (str(datetime.timedelta(seconds=round(eta)))
                if math.isfinite(eta) else "?")
    logging.info("%s: %d/%d clips, %.2f clips/s, %.1f crops/s, ETA %s",
                 self.label, self.clips, self.total, rate,
                 self.crops / elapsed, eta_text)

  @property
  def elapsed(self) -> float:
    return time.monotonic() - self.start


# Tracing InceptionV3 takes seconds: one traced function per sensor and size.
_GLIMPSE_FNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CROP_FNS: dict[int, Callable] = {}
_HANDS = skeletons.NUM_HANDS
_PATCH_SIGNATURE = [
    tf.TensorSpec([None, _HANDS, None, None, 3], tf.uint8),  # patches
    tf.TensorSpec([None, _HANDS, 4], tf.float32),  # boxes in the patches
    tf.TensorSpec([None, _HANDS], tf.bool),  # valid
]


def glimpse_fn(sensor, crop_output_size: int) -> Callable:
  """``fn(patches, boxes, valid)``: hand patches -> what preparation stores.

  One traced function resamples the crops (``glimpse_crops.resize_patches``)
  and, with a sensor, runs it, so both happen on the GPU when there is one:
  only the small patches cross from the decoder.

  Args:
    sensor: A glimpse sensor, or None to return the crops.
    crop_output_size: Side ``S`` of the crops.

  Returns:
    A ``tf.function`` returning float ``[N, 4, D]`` glimpse features, or
    without a sensor uint8 ``[N, 4, S, S, 3]`` crops.
  """
  fns = (_CROP_FNS if sensor is None
         else _GLIMPSE_FNS.setdefault(sensor, {}))
  if crop_output_size not in fns:
    size = crop_output_size

    def crops_to_values(patches, boxes, valid):
      crops = glimpse_crops.resize_patches(patches, boxes, valid, size)
      if sensor is None:
        return crops
      features = sensor(tf.reshape(crops, [-1, size, size, 3]),
                        training=False)
      return tf.reshape(features, [-1, _HANDS, features.shape[-1]])

    fns[size] = tf.function(crops_to_values,
                            input_signature=_PATCH_SIGNATURE)
  return fns[crop_output_size]


def rebatch(chunks: Iterable[dict[str, np.ndarray]], size: int
            ) -> Iterator[dict[str, np.ndarray]]:
  """Regroups row-aligned chunks into chunks of exactly ``size`` rows.

  Rows keep their order and chunks may span clips, so the sensor sees full
  batches. A chunk whose arrays have other trailing shapes than the rows
  waiting (hand patches of clips with another crop size) first flushes
  those as a shorter chunk; so does the end of the stream.

  Args:
    chunks: Dicts of arrays sharing their first dimension.
    size: Rows per output chunk.

  Yields:
    Dicts with the same keys; every array has ``size`` rows, except before
    a shape change and at the end.
  """
  if size < 1:
    raise ValueError(f"size must be >= 1, got {size}")
  waiting: list[dict[str, np.ndarray]] = []
  rows = 0

  def shapes(chunk):
    return {k: v.shape[1:] for k, v in chunk.items()}

  def take(n: int) -> dict[str, np.ndarray]:
    nonlocal waiting, rows
    joined = {k: np.concatenate([c[k] for c in waiting]) for k in waiting[0]}
    rest = {k: v[n:] for k, v in joined.items()}
    waiting = [rest] if len(next(iter(rest.values()))) else []
    rows -= n
    return {k: v[:n] for k, v in joined.items()}

  for chunk in chunks:
    if waiting and shapes(chunk) != shapes(waiting[0]):
      yield take(rows)
    waiting.append(chunk)
    rows += len(next(iter(chunk.values())))
    while rows >= size:
      yield take(size)
  if rows:
    yield take(rows)


# Sensor batches computed concurrently (two on a 2-core CPU: +2-10%).
SENSOR_CALLS_IN_FLIGHT = 2


def _no_autotune() -> tf.data.Options:
  # TF 2.21: destroying an iterator whose autotune thread is asleep blocks
  # for up to ~5 s (stack: ~LogicalThreadWrapper in ~RootDataset::Iterator).
  # Preparation builds one iterator per file, so that was 5 s per file;
  # the parallelism here is fixed anyway.
  options = tf.data.Options()
  options.autotune.enabled = False
  return options


class _Preparer:
  """Writes the files of one worker; holds the sensor and settings."""

  def __init__(self, dataset: _Dataset, *, store: str, crop_size_px: float,
               crop_output_size: int, batch_size: int, sensor,
               decode_threads: int, decode_workers: int,
               progress: _Progress):
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
                        glimpse_fn(sensor, crop_output_size))

  # -- decode thread (runs inside tf.data's from_generator) ----------------

  def _load(self, state: _ClipState) -> clip_lib.Clip | None:
    try:
      return self.dataset.load_clip(state.source)
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
    with video.open_source(_frame_source(state.source, clip),
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
    signature = {"patches": _PATCH_SIGNATURE[0], "boxes": _PATCH_SIGNATURE[1],
                 "valid": _PATCH_SIGNATURE[2],
                 "slot": tf.TensorSpec([None], tf.int32),
                 "frame_index": tf.TensorSpec([None], tf.int32)}
    # Batches are filled in the generator (rebatch): unbatch/batch in
    # tf.data cost ~1 CPU-ms per frame in element overhead.
    return (tf.data.Dataset.from_generator(
        lambda: rebatch(self._chunks(states), self.frames_per_batch),
        output_signature=signature)
            .prefetch(2)
            .with_options(_no_autotune()))

  # -- writer (main thread) -------------------------------------------------

  def write_file(self, assignment: FileAssignment, tmp: Path
                 ) -> list[dict[str, Any]]:
    """Writes the records of one file to ``tmp``; returns manifest entries."""
    states = [_ClipState(s) for s in assignment.clips]
    pending: dict[int, list[np.ndarray]] = {}
    entries: list[dict[str, Any]] = []
    next_slot = 0

    with tf.io.TFRecordWriter(str(tmp)) as writer:

      def finish_until(slot_limit: int):
        nonlocal next_slot
        while next_slot < slot_limit:
          entries.append(self._finish(
              assignment, states[next_slot], pending.pop(next_slot, []),
              writer))
          self.progress.update(clips=1)
          next_slot += 1

      if self.store == tfrecords.STORE_NONE:
        for _ in self._chunks(states):
          pass
      else:
        for slots, values in self._values(self._patch_dataset(states)):
          self.progress.update(crops=int(len(slots)) * skeletons.NUM_HANDS)
          # Slots arrive in order; a new slot means earlier clips are done.
          for slot in np.unique(slots):
            finish_until(int(slot))
            pending.setdefault(int(slot), []).append(values[slots == slot])
      finish_until(len(states))
    return entries

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
    with futures.ThreadPoolExecutor(SENSOR_CALLS_IN_FLIGHT) as pool:
      for batch in batches:
        in_flight.append((batch["slot"].numpy(), pool.submit(values, batch)))
        if len(in_flight) == SENSOR_CALLS_IN_FLIGHT:
          slots, result = in_flight.popleft()
          yield slots, result.result()
      while in_flight:
        slots, result = in_flight.popleft()
        yield slots, result.result()

  def _finish(self, assignment: FileAssignment, state: _ClipState,
              parts: list[np.ndarray], writer) -> dict[str, Any]:
    source, clip = state.source, state.clip
    common = dict(split=assignment.split, filename=assignment.filename)
    if state.error is not None or clip is None:
      return _entry(source, status=STATUS_ERROR,
                    reason=state.error or "not processed", **common)
    t_skeleton = clip.num_frames
    if self.store == tfrecords.STORE_NONE:
      t = t_skeleton
      values = None
    else:
      values = np.concatenate(parts) if parts else None
      t = 0 if values is None else len(values)
      if t != state.video_frames:
        return _entry(source, status=STATUS_ERROR,
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
    return _entry(source, status=STATUS_OK, label=int(clip.label),
                  skeleton_frames=t_skeleton, video_frames=state.video_frames,
                  container_frames=state.container_frames, frames=t, **common)


def _settings_key(settings: dict[str, Any], assignment: FileAssignment
                  ) -> dict[str, Any]:
  return {**settings, "clips": [s.name for s in assignment.clips]}


def _part_path(output_dir: Path, assignment: FileAssignment) -> Path:
  return output_dir / MANIFEST_PARTS / (
      assignment.filename.replace(".tfrecord", ".json"))


def _is_complete(output_dir: Path, assignment: FileAssignment,
                 key: dict[str, Any]) -> bool:
  part = _part_path(output_dir, assignment)
  if not (output_dir / assignment.filename).is_file() or not part.is_file():
    return False
  try:
    previous = json.loads(part.read_text())
  except ValueError:
    return False
  if previous.get("settings") != key:
    logging.warning("%s exists but was written with other settings or clips;"
                    " rewriting it", assignment.filename)
    return False
  return True


def merge_manifest(output_dir: str | os.PathLike) -> dict[str, Any]:
  """Merges ``manifest_parts/*.json`` into ``manifest.json`` (atomically).

  Returns:
    The manifest: ``clips`` (one entry per clip, sorted by name: name, label,
    split, file, status ok/skipped/error, reason, skeleton_frames,
    video_frames, frames, validation), ``files`` per split, ``settings`` and
    ``complete`` (every expected file is present).
  """
  output_dir = Path(output_dir)
  clips: dict[str, dict[str, Any]] = {}
  files: dict[str, list[str]] = {s: [] for s in SPLITS}
  expected: dict[str, int] | None = None
  settings = None
  for part_path in sorted((output_dir / MANIFEST_PARTS).glob("*.json")):
    part = json.loads(part_path.read_text())
    for entry in part["clips"]:
      clips[entry["name"]] = entry
    if "files_per_split" in part:
      expected = part["files_per_split"]
    if part.get("file") and (output_dir / part["file"]).is_file():
      files[part["split"]].append(part["file"])
    if part.get("settings"):
      settings = {k: v for k, v in part["settings"].items() if k != "clips"}
  complete = expected is not None and all(
      len(files[s]) == expected.get(s, 0) for s in SPLITS)
  manifest = {
      "settings": settings,
      "complete": complete,
      "files": {s: sorted(f) for s, f in files.items()},
      "clips": [clips[name] for name in sorted(clips)],
      "counts": {status: sum(c["status"] == status for c in clips.values())
                 for status in (STATUS_OK, STATUS_SKIPPED, STATUS_ERROR)},
  }
  _write_json_atomic(output_dir / MANIFEST, manifest)
  return manifest


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
                    sensor=None) -> dict[str, Any]:
  """Writes this worker's TFRecord files and merges the manifest.

  Args:
    dataset_root: Dataset directory (NTU / synthetic: the folder holding
      ``nturgb+d_skeletons`` and ``nturgb+d_rgb``; SBU: the folder of the
      ``sXXsYY`` sets; MSR: the folder of ``*_skeleton.txt`` and
      ``*_rgb.avi``).
    output_dir: Where files and manifest go (created).
    dataset: ``ntu60``, ``ntu120``, ``synthetic``, ``sbu`` or ``msr``.
    protocol: ``protocols.PROTOCOLS`` key deciding train / test.
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
  spec = _get_dataset(dataset)
  protocols.get_protocol(protocol)
  dataset_root = Path(dataset_root)
  output_dir = Path(output_dir)
  (output_dir / MANIFEST_PARTS).mkdir(parents=True, exist_ok=True)
  if crop_size_px is None:
    crop_size_px = spec.crop_size_px(dataset_root)
  crop_size_px = float(crop_size_px)
  if crop_output_size is None:
    crop_output_size = int(round(crop_size_px))

  sources = list_clips(dataset_root, dataset)
  if max_clips is not None:
    sources = sources[:max_clips]
  assignments, unassigned = assign_files(sources, protocol, clips_per_file)
  mine = [a for i, a in enumerate(assignments) if i % num_shards == shard_index]
  # Every worker writes the same content: no coordination needed.
  _write_json_atomic(output_dir / MANIFEST_PARTS / "unassigned.json", {
      "clips": unassigned,
      "files_per_split": {s: sum(a.split == s for a in assignments)
                          for s in SPLITS}})

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
  todo = [a for a in mine
          if not _is_complete(output_dir, a, _settings_key(settings, a))]
  label = f"prepare {dataset} shard {shard_index}/{num_shards}"
  logging.info("%s: %d clips in %d files; this worker: %d files, %d already"
               " complete", label, len(sources), len(assignments), len(mine),
               len(mine) - len(todo))
  has_gpu = bool(tf.config.list_physical_devices("GPU"))
  if decode_workers is None:
    decode_workers = max(1, (os.cpu_count() or 1) // 2) if has_gpu else 1
  if decode_threads is None:
    decode_threads = 0 if has_gpu and decode_workers == 1 else 1
  progress = _Progress(sum(len(a.clips) for a in todo), label, log_every_s)
  preparer = _Preparer(spec, store=store, crop_size_px=crop_size_px,
                       crop_output_size=crop_output_size,
                       batch_size=batch_size, sensor=sensor,
                       decode_threads=decode_threads,
                       decode_workers=decode_workers, progress=progress)
  counts = {STATUS_OK: 0, STATUS_ERROR: 0, STATUS_SKIPPED: 0}
  for assignment in todo:
    path = output_dir / assignment.filename
    tmp = path.with_name(path.name + ".tmp")
    entries = preparer.write_file(assignment, tmp)
    for entry in entries:
      counts[entry["status"]] += 1
    # The part goes first: a file that exists always has its part.
    _write_json_atomic(_part_path(output_dir, assignment), {
        "file": assignment.filename, "split": assignment.split,
        "settings": _settings_key(settings, assignment), "clips": entries})
    os.replace(tmp, path)
    logging.info("%s: wrote %s (%d clips, %d errors)", label,
                 assignment.filename, len(entries),
                 sum(e["status"] != STATUS_OK for e in entries))
  progress.update(force=True)
  manifest = merge_manifest(output_dir)
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
