"""NTU RGB+D ``.skeleton`` files: reader, writer, body selection, clips.

File format (one value group per line, whitespace separated)::

  <num_frames>
  per frame:
    <num_bodies>                      (0 allowed; Kinect sometimes reports 4+)
    per body:
      bodyID clipedEdges handLeftConfidence handLeftState
        handRightConfidence handRightState isRestricted leanX leanY
        trackingState
      <num_joints>                    (always 25 for Kinect v2)
      per joint:
        x y z depthX depthY colorX colorY
        orientationW orientationX orientationY orientationZ trackingState

``colorX/colorY`` are pixels in the 1920x1080 RGB frame; ``depthX/depthY``
pixels in the 512x424 depth frame; ``x y z`` metres in camera space.

Sample names, the official missing-skeleton lists, directory listing and
the official splits are :mod:`posedriven.data.formats.ntu_dataset`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np

from posedriven import atomic
from posedriven.data import clip as clip_lib
from posedriven.data import skeletons
from posedriven.data.formats import file_guards
from posedriven.data.formats import ntu_dataset
from posedriven.data.formats import tokenizer
# Re-exported: callers and tests use ``ntu.<name>`` for the dataset helpers.
# pylint: disable=unused-import
from posedriven.data.formats.ntu_dataset import (
    NTU60_CS_TRAIN_SUBJECTS, NTU60_PROTOCOLS, NTU120_CSUB_TRAIN_SUBJECTS,
    NTU120_PROTOCOLS, NTU_CAMERAS, NTU_CV_TRAIN_CAMERAS, SampleName,
    cross_view_split, list_skeleton_files, missing_skeleton_samples,
    parse_sample_name)
# pylint: enable=unused-import

NUM_JOINTS = 25
RGB_SIZE = (1920, 1080)  # (width, height) of NTU RGB videos.
DEPTH_SIZE = (512, 424)
# A clip has at most 300 frames in NTU; the limits below only refuse counts
# that cannot be real (corrupt headers), they are far above any real value.
MAX_FRAMES = 100_000
MAX_BODIES_PER_FRAME = 64

_BODY_FIELDS = 10
_JOINT_FIELDS = 12


class SkeletonFormatError(file_guards.FormatError):
  """A ``.skeleton`` file does not follow the format; names file and line."""


@dataclasses.dataclass
class SkeletonSequence:
  """Everything an NTU ``.skeleton`` file holds, as arrays.

  Bodies are tracked across frames by ``bodyID``: body ``b`` is the b-th
  distinct ID in order of first appearance. Fields of absent bodies are 0.

  Attributes:
    name: File stem, e.g. ``S001C001P001R001A001``.
    body_ids: uint64 ``[B]``.
    present: bool ``[T, B]``.
    xyz: float32 ``[T, B, 25, 3]`` camera space, metres.
    depth_xy: float32 ``[T, B, 25, 2]`` depth-frame pixels.
    color_xy: float32 ``[T, B, 25, 2]`` RGB-frame (1920x1080) pixels.
    orientation: float32 ``[T, B, 25, 4]`` quaternions (W, X, Y, Z).
    tracking_state: int8 ``[T, B, 25]``: 0 not tracked, 1 inferred, 2 tracked.
    clipped_edges: int32 ``[T, B]``.
    hand_confidence: int8 ``[T, B, 2]`` (left, right).
    hand_state: int8 ``[T, B, 2]`` (left, right).
    is_restricted: int8 ``[T, B]``.
    lean_xy: float32 ``[T, B, 2]``.
    body_tracking_state: int8 ``[T, B]``.
  """

  name: str
  body_ids: np.ndarray
  present: np.ndarray
  xyz: np.ndarray
  depth_xy: np.ndarray
  color_xy: np.ndarray
  orientation: np.ndarray
  tracking_state: np.ndarray
  clipped_edges: np.ndarray
  hand_confidence: np.ndarray
  hand_state: np.ndarray
  is_restricted: np.ndarray
  lean_xy: np.ndarray
  body_tracking_state: np.ndarray

  @property
  def num_frames(self) -> int:
    return int(self.present.shape[0])

  @property
  def num_bodies(self) -> int:
    return int(self.present.shape[1])


def load_skeleton(path: str | os.PathLike) -> SkeletonSequence:
  """Reads an NTU RGB+D ``.skeleton`` file completely.

  Values are checked in the dtype they are stored in (float32 coordinates,
  int8 states, uint64 bodyIDs), and the dense ``[T, B, ...]`` arrays must fit
  the file's memory budget (``tokenizer.Lines.zeros``): a file that starts a
  new bodyID in every frame is refused instead of allocating ``T^2`` cells.

  Documented fallbacks (each logged with the sample name):
    * NaN/inf joint values, including finite text that overflows float32
      (``1e39``): the joint is marked not tracked and zeroed.
    * NaN/inf lean values: set to 0.
    * A bodyID repeated within one frame: the repeat is dropped.

  Raises:
    SkeletonFormatError: not a regular file, truncated file, non-numeric
      token, joint count other than 25, negative or implausible counts, a
      bodyID outside 0..2^64-1, a header field outside its dtype, a
      trackingState other than 0, 1, 2, too many distinct bodies for the
      file's size. The message names file and line.
  """
  path = Path(path)
  lines = tokenizer.Lines(
      path, file_guards.read_text(path, SkeletonFormatError),
      SkeletonFormatError)
  name = path.name.split(".")[0]

  num_frames = lines.count("frame count", MAX_FRAMES)
  # Per frame: list of (body_id, body_fields, joints[25, 12]).
  frames: list[list[tuple[int, list[float], np.ndarray]]] = []
  for t in range(num_frames):
    num_bodies = lines.count(f"body count of frame {t + 1}",
                             MAX_BODIES_PER_FRAME)
    bodies = []
    seen_ids = set()
    for _ in range(num_bodies):
      body_id, body_fields = _body_header(lines)
      num_joints = lines.count("joint count", 10_000)
      if num_joints != NUM_JOINTS:
        raise lines.error(
            f"body has {num_joints} joints; NTU RGB+D (Kinect v2) files have"
            f" {NUM_JOINTS}")
      joints = np.empty((NUM_JOINTS, _JOINT_FIELDS), np.float64)
      for j in range(NUM_JOINTS):
        tokens = lines.values(f"joint {j + 1}", _JOINT_FIELDS)
        joints[j] = lines.floats(tokens, f"joint {j + 1}")
        # NaN is the documented untracked-joint fallback; a number must be a
        # state spelt as an integer, not wrap around in int8 (300 -> 44).
        if (np.isfinite(joints[j, -1]) and
            tokenizer.parse_int(tokens[-1]) not in TRACKING_STATES):
          raise lines.error(f"joint {j + 1} trackingState {tokens[-1]!r} is"
                            f" not one of {TRACKING_STATES}")
      if body_id in seen_ids:
        logging.warning("%s: frame %d repeats bodyID %d; keeping the first",
                        name, t + 1, body_id)
        continue
      seen_ids.add(body_id)
      bodies.append((body_id, body_fields, joints))
    frames.append(bodies)
  for rest in lines.lines[lines.pos:]:
    if rest.strip():
      logging.warning("%s: ignoring data after the last of %d frames", name,
                      num_frames)
      break
  return _to_arrays(name, frames, lines)


# Kinect v2 tracking states: not tracked, inferred, tracked.
TRACKING_STATES = (0, 1, 2)
# Integer fields of the body header after the bodyID, with the dtype
# SkeletonSequence stores them in.
_HEADER_INTS = (("clipedEdges", np.int32), ("handLeftConfidence", np.int8),
                ("handLeftState", np.int8), ("handRightConfidence", np.int8),
                ("handRightState", np.int8), ("isRestricted", np.int8))
_MAX_BODY_ID = 2**64 - 1  # body_ids are uint64 (Kinect's 64-bit tracking ids)


def _body_header(lines: tokenizer.Lines) -> tuple[int, list[float]]:
  """``(bodyID, the 9 other fields)`` of a body header line, validated."""
  header = lines.values("body header", _BODY_FIELDS)
  body_id = lines.int_value(header[0], "bodyID", 0, _MAX_BODY_ID)
  fields: list[float] = [
      lines.int_value(token, field, *tokenizer.dtype_range(dtype))
      for token, (field, dtype) in zip(header[1:7], _HEADER_INTS)]
  fields += lines.floats(header[7:9], "body header lean")
  fields.append(lines.int_value(header[9], "body trackingState",
                                min(TRACKING_STATES), max(TRACKING_STATES)))
  return body_id, fields


def _to_arrays(name, frames, lines: tokenizer.Lines) -> SkeletonSequence:
  index: dict[int, int] = {}
  for bodies in frames:
    for body_id, _, _ in bodies:
      index.setdefault(body_id, len(index))
  t, b = len(frames), len(index)
  what = (f"{b} distinct bodyIDs over {t} frames (dense [T, B, 25, 12]"
          " arrays)")
  raw = lines.zeros((t, b, NUM_JOINTS, _JOINT_FIELDS), np.float64, what)
  info = lines.zeros((t, b, _BODY_FIELDS - 1), np.float64, what)
  present = np.zeros((t, b), bool)
  for ti, bodies in enumerate(frames):
    for body_id, fields, joints in bodies:
      bi = index[body_id]
      raw[ti, bi] = joints
      info[ti, bi] = fields
      present[ti, bi] = True
  del frames
  # Checked in float32, the dtype the values are kept in: 1e39 is inf there.
  values, overflow = tokenizer.cast_finite(raw[..., :11], np.float32)
  bad = overflow.any(axis=-1) | ~np.isfinite(raw[..., 11])
  if bad.any():
    logging.warning("%s: %d joint entries hold NaN/inf (in float32); marked"
                    " not tracked", name, int(bad.sum()))
    values[bad] = 0.0
  tracking = np.where(bad, 0, raw[..., 11]).astype(np.int8)
  lean, bad_lean = tokenizer.cast_finite(info[..., 6:8], np.float32)
  if bad_lean.any():
    logging.warning("%s: %d lean values hold NaN/inf (in float32); set to 0",
                    name, int(bad_lean.sum()))
    lean[bad_lean] = 0.0
  return SkeletonSequence(
      name=name,
      body_ids=np.array(list(index), np.uint64),
      present=present,
      xyz=np.ascontiguousarray(values[..., 0:3]),
      depth_xy=np.ascontiguousarray(values[..., 3:5]),
      color_xy=np.ascontiguousarray(values[..., 5:7]),
      orientation=np.ascontiguousarray(values[..., 7:11]),
      tracking_state=tracking,
      clipped_edges=info[..., 0].astype(np.int32),
      hand_confidence=info[..., [1, 3]].astype(np.int8),
      hand_state=info[..., [2, 4]].astype(np.int8),
      is_restricted=info[..., 5].astype(np.int8),
      lean_xy=lean,
      body_tracking_state=info[..., 8].astype(np.int8),
  )


def _fmt(x: float) -> str:
  # 9 significant digits round-trip any float32 exactly.
  return f"{x:.9g}"


def write_skeleton(path: str | os.PathLike, seq: SkeletonSequence) -> None:
  """Writes ``seq`` in the official text format (inverse of load_skeleton).

  The file is written to a temporary name and renamed, so readers never see
  half a file.
  """
  out = [str(seq.num_frames)]
  for t in range(seq.num_frames):
    bodies = np.flatnonzero(seq.present[t])
    out.append(str(len(bodies)))
    for b in bodies:
      header = [
          str(int(seq.body_ids[b])), str(int(seq.clipped_edges[t, b])),
          str(int(seq.hand_confidence[t, b, 0])),
          str(int(seq.hand_state[t, b, 0])),
          str(int(seq.hand_confidence[t, b, 1])),
          str(int(seq.hand_state[t, b, 1])),
          str(int(seq.is_restricted[t, b])),
          _fmt(seq.lean_xy[t, b, 0]), _fmt(seq.lean_xy[t, b, 1]),
          str(int(seq.body_tracking_state[t, b])),
      ]
      out.append(" ".join(header))
      out.append(str(NUM_JOINTS))
      for j in range(NUM_JOINTS):
        values = [*seq.xyz[t, b, j], *seq.depth_xy[t, b, j],
                  *seq.color_xy[t, b, j], *seq.orientation[t, b, j]]
        out.append(" ".join(_fmt(v) for v in values) +
                   f" {int(seq.tracking_state[t, b, j])}")
  atomic.write_text(path, "\n".join(out) + "\n", encoding="ascii")


# Body selection thresholds, after the NTU denoising used by the
# view-adaptive LSTM and PYSKL preprocessing code.
MIN_BODY_FRAMES = 11          # bodies seen in <= 11 frames are noise.
SPREAD_RATIO = 0.8            # a frame is noisy if x-spread > 0.8 * y-spread
NOISY_FRAME_FRACTION = 0.69754  # ... and a body is noise above this fraction.


def body_motion(seq: SkeletonSequence) -> np.ndarray:
  """Per body: summed variance over time of all joint coordinates ``[B]``."""
  motion = np.zeros(seq.num_bodies, np.float64)
  for b in range(seq.num_bodies):
    frames = seq.xyz[seq.present[:, b], b]
    if len(frames) > 1:
      motion[b] = frames.reshape(len(frames), -1).var(axis=0).sum()
  return motion


def select_main_bodies(seq: SkeletonSequence, max_bodies: int = 2) -> list[int]:
  """Chooses the actors among the tracked bodies.

  Kinect reports false positives (furniture, a passer-by) as bodies. When a
  clip has more than ``max_bodies`` bodies:
    1. bodies present in at most ``MIN_BODY_FRAMES`` frames are dropped;
    2. bodies wider than tall (x-spread > ``SPREAD_RATIO`` * y-spread) in more
       than ``NOISY_FRAME_FRACTION`` of their frames are dropped (objects);
    3. of the rest, the ``max_bodies`` with the most motion are kept.
  A rule that would drop every body is skipped. The chosen bodies are returned
  in order of first appearance, so "person 1" is the first to enter.

  Returns:
    Body indices into ``seq`` (at most ``max_bodies``).
  """
  candidates = list(range(seq.num_bodies))
  if len(candidates) <= max_bodies:
    return candidates
  lengths = seq.present.sum(axis=0)
  kept = [b for b in candidates if lengths[b] > MIN_BODY_FRAMES]
  if kept:
    candidates = kept
  kept = []
  for b in candidates:
    xyz = seq.xyz[seq.present[:, b], b]
    x_spread = xyz[..., 0].max(axis=1) - xyz[..., 0].min(axis=1)
    y_spread = xyz[..., 1].max(axis=1) - xyz[..., 1].min(axis=1)
    noisy = np.mean(x_spread > SPREAD_RATIO * y_spread)
    if noisy <= NOISY_FRAME_FRACTION:
      kept.append(b)
  if kept:
    candidates = kept
  motion = body_motion(seq)
  candidates = sorted(candidates, key=lambda b: -motion[b])[:max_bodies]
  first_seen = seq.present.argmax(axis=0)
  chosen = sorted(candidates, key=lambda b: (first_seen[b], b))
  dropped = sorted(set(range(seq.num_bodies)) - set(chosen))
  logging.info("%s: %d bodies tracked; kept %s, dropped %s as noise",
               seq.name, seq.num_bodies, chosen, dropped)
  return chosen


# One error for "no usable skeleton" in every reader (clip.check_usable);
# named here too because NTU's reader raised it first.
EmptySkeletonError = clip_lib.EmptySkeletonError


def to_clip(seq: SkeletonSequence, label: int | None = None) -> clip_lib.Clip:
  """Turns a parsed file into a :class:`Clip` (two people, 4 hands).

  Args:
    seq: Parsed file.
    label: 0-based class; by default parsed from the sample name (-1 if the
      name is not an NTU sample name).

  Raises:
    EmptySkeletonError: no body is tracked in any frame.
  """
  if seq.num_bodies == 0 or not seq.present.any():
    raise EmptySkeletonError(f"{seq.name}: no body is tracked in any frame")
  bodies = select_main_bodies(seq, skeletons.MAX_PEOPLE)
  t = seq.num_frames
  xyz = np.zeros((t, 2, NUM_JOINTS, 3), np.float32)
  color = np.zeros((t, 2, NUM_JOINTS, 2), np.float32)
  tracked = np.zeros((t, 2, NUM_JOINTS), bool)
  present = np.zeros((t, 2), bool)
  for p, b in enumerate(bodies):
    xyz[:, p] = seq.xyz[:, b]
    color[:, p] = seq.color_xy[:, b]
    tracked[:, p] = seq.tracking_state[:, b] > 0
    present[:, p] = seq.present[:, b]
  hand_xy, hand_valid = clip_lib.hands_from_people(
      color, present, skeletons.KINECT_V2, tracked)
  metadata = {}
  try:
    sample = ntu_dataset.parse_sample_name(seq.name)
    metadata = dataclasses.asdict(sample)
    if label is None:
      label = sample.label
  except ValueError:
    if label is None:
      logging.warning("%s: not an NTU sample name; label unknown (-1)",
                      seq.name)
      label = -1
  return clip_lib.Clip(
      name=seq.name, label=label, skeleton="kinect_v2", xyz=xyz,
      present=present, hand_xy_px=hand_xy, hand_valid=hand_valid,
      image_size=RGB_SIZE, metadata=metadata)


def load_clip(path: str | os.PathLike, label: int | None = None
              ) -> clip_lib.Clip:
  """``to_clip(load_skeleton(path))``; errors name the file.

  Raises:
    SkeletonFormatError: see :func:`load_skeleton`.
    EmptySkeletonError: no body is tracked in any frame.
  """
  seq = load_skeleton(path)
  try:
    return to_clip(seq, label)
  except EmptySkeletonError:
    # to_clip only knows the sample name; the caller needs the file.
    raise EmptySkeletonError(
        f"{path}: no body is tracked in any frame ({seq.num_frames} frames)"
    ) from None
