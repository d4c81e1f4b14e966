"""The fault corpus: broken inputs derived from tiny valid files.

Every broken file is made by a small pure function from a valid one, so the
corpus needs no stored fixtures and each case says in one line what is wrong.
Skeleton mutations only touch the file's first lines (frame count, first
frame's first body) or its end, so they apply to any valid ``.skeleton`` file,
hand-made or synthetic.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from posedriven.data.formats import ntu
from posedriven.data import skeletons
from tests.helpers import write_video_rgb

SAMPLE_NAME = "S001C002P003R001A004"

# Line numbers (0-based) in any valid .skeleton file with >= 1 body in frame 1.
FRAME_COUNT_LINE = 0
BODY_COUNT_LINE = 1
BODY_HEADER_LINE = 2
JOINT_COUNT_LINE = 3
FIRST_JOINT_LINE = 4

HANDS = (skeletons.KINECT_V2.left_hand, skeletons.KINECT_V2.right_hand)


def valid_sequence(num_frames: int = 4, num_bodies: int = 1,
                   name: str = SAMPLE_NAME) -> ntu.SkeletonSequence:
  """A plausible Kinect v2 recording: bodies standing 3 m away, all tracked.

  Joint ``j`` of body ``b`` sits at colour pixel ``(600 + 300 b + 10 j,
  400 + 5 j + t)`` of the 1920x1080 frame, so every value is known.
  """
  t, b, j = num_frames, num_bodies, ntu.NUM_JOINTS
  frames = np.arange(t, dtype=np.float32)[:, None, None]
  bodies = np.arange(b, dtype=np.float32)[None, :, None]
  joints = np.arange(j, dtype=np.float32)[None, None, :]
  color = np.stack(np.broadcast_arrays(600 + 300 * bodies + 10 * joints,
                                       400 + 5 * joints + frames), -1)
  xyz = np.stack(np.broadcast_arrays(
      0.5 * bodies + 0.01 * joints + 0.02 * frames, 0.5 - 0.05 * joints,
      3.0 + 0 * frames), -1)
  shape = (t, b)
  return ntu.SkeletonSequence(
      name=name,
      body_ids=np.arange(101, 101 + b, dtype=np.uint64),
      present=np.ones(shape, bool),
      xyz=xyz.astype(np.float32),
      depth_xy=(color / 4).astype(np.float32),
      color_xy=color.astype(np.float32),
      orientation=np.tile(np.float32([1, 0, 0, 0]), shape + (j, 1)),
      tracking_state=np.full(shape + (j,), 2, np.int8),
      clipped_edges=np.zeros(shape, np.int32),
      hand_confidence=np.ones(shape + (2,), np.int8),
      hand_state=np.ones(shape + (2,), np.int8),
      is_restricted=np.zeros(shape, np.int8),
      lean_xy=np.zeros(shape + (2,), np.float32),
      body_tracking_state=np.full(shape, 2, np.int8))


def write_valid_skeleton(directory: Path, name: str = SAMPLE_NAME,
                         **kwargs) -> Path:
  path = Path(directory) / f"{name}.skeleton"
  ntu.write_skeleton(path, valid_sequence(name=name, **kwargs))
  return path


# -- sequence-level faults: written by the official writer ------------------


def with_nan_hand(seq: ntu.SkeletonSequence, frames=(1,),
                  value: float = np.nan) -> ntu.SkeletonSequence:
  """Body 0's left hand joint holds ``value`` (NaN/inf) in ``frames``."""
  xyz, color = seq.xyz.copy(), seq.color_xy.copy()
  xyz[list(frames), 0, HANDS[0], 0] = value
  color[list(frames), 0, HANDS[0], 1] = value
  return dataclasses.replace(seq, xyz=xyz, color_xy=color)


def with_extra_bodies(seq: ntu.SkeletonSequence, total: int = 5,
                      frame: int = 1) -> ntu.SkeletonSequence:
  """``total`` bodies in ``frame`` (Kinect false positives), 1-2 elsewhere."""
  extra = total - seq.num_bodies
  def pad(a, fill=0):
    widths = [(0, 0)] * a.ndim
    widths[1] = (0, extra)
    return np.pad(a, widths, constant_values=fill)
  present = pad(seq.present, False)
  present[frame] = True
  # The noise bodies stand still far to the right of the actors.
  color = pad(seq.color_xy)
  color[frame, seq.num_bodies:] = [1700.0, 500.0]
  return dataclasses.replace(
      seq, body_ids=np.concatenate([seq.body_ids, np.arange(
          900, 900 + extra, dtype=np.uint64)]),
      present=present, xyz=pad(seq.xyz), depth_xy=pad(seq.depth_xy),
      color_xy=color, orientation=pad(seq.orientation),
      tracking_state=pad(seq.tracking_state, 2),
      clipped_edges=pad(seq.clipped_edges),
      hand_confidence=pad(seq.hand_confidence), hand_state=pad(seq.hand_state),
      is_restricted=pad(seq.is_restricted), lean_xy=pad(seq.lean_xy),
      body_tracking_state=pad(seq.body_tracking_state))


def with_duplicate_body_id(seq: ntu.SkeletonSequence
                           ) -> ntu.SkeletonSequence:
  """A second body in every frame that reuses body 0's ID."""
  seq = with_extra_bodies(seq, total=seq.num_bodies + 1, frame=0)
  present = seq.present.copy()
  present[:, -1] = True
  ids = seq.body_ids.copy()
  ids[-1] = ids[0]
  return dataclasses.replace(seq, body_ids=ids, present=present)


def with_hands_outside(seq: ntu.SkeletonSequence, image_size: tuple[int, int],
                       frames=(0, 1)) -> ntu.SkeletonSequence:
  """Body 0's hands far left of / below the image in ``frames``."""
  color = seq.color_xy.copy()
  color[list(frames), 0, HANDS[0]] = [-400.0, 0.5 * image_size[1]]
  color[list(frames), 0, HANDS[1]] = [0.5 * image_size[0],
                                      image_size[1] + 900.0]
  return dataclasses.replace(seq, color_xy=color)


def without_bodies(seq: ntu.SkeletonSequence) -> ntu.SkeletonSequence:
  """Every frame reports 0 bodies."""
  return dataclasses.replace(seq, present=np.zeros_like(seq.present))


# -- text-level faults: what the writer can never produce --------------------

TextFault = Callable[[str], str]


def _edit_lines(text: str, edit: Callable[[list[str]], None]) -> str:
  lines = text.splitlines()
  edit(lines)
  return "\n".join(lines) + "\n"


def _set_line(index: int, value: str) -> TextFault:
  def fault(text):
    return _edit_lines(text, lambda lines: lines.__setitem__(index, value))
  return fault


def empty(text: str) -> str:
  del text
  return ""


def zero_frames(text: str) -> str:
  """A well-formed file of 0 frames."""
  del text
  return "0\n"


def blank_lines_only(text: str) -> str:
  del text
  return "\n  \n\n"


def truncated_mid_joint(text: str) -> str:
  """Ends half-way through the 7th joint line of the first body."""
  lines = text.splitlines()
  cut = lines[FIRST_JOINT_LINE + 6]
  return "\n".join(lines[:FIRST_JOINT_LINE + 6] + [cut[:len(cut) // 2]])


def truncated_mid_file(text: str) -> str:
  """Ends at a line boundary half-way through the file (a short copy)."""
  lines = text.splitlines()
  return "\n".join(lines[:len(lines) // 2]) + "\n"


def non_numeric_joint(text: str) -> str:
  def edit(lines):
    values = lines[FIRST_JOINT_LINE + 2].split()
    values[5] = "abc"
    lines[FIRST_JOINT_LINE + 2] = " ".join(values)
  return _edit_lines(text, edit)


def non_numeric_frame_count(text: str) -> str:
  return _set_line(FRAME_COUNT_LINE, "three")(text)


def binary_garbage(text: str) -> str:
  del text
  rng = np.random.default_rng(7)
  return rng.integers(0, 256, 3000, dtype=np.uint8).tobytes().decode("latin-1")


def joint_count(n: int) -> TextFault:
  """The first body claims ``n`` joints and has ``n`` joint lines."""
  def fault(text):
    def edit(lines):
      joints = lines[FIRST_JOINT_LINE:FIRST_JOINT_LINE + ntu.NUM_JOINTS]
      joints = (joints * 2)[:n]
      lines[JOINT_COUNT_LINE:FIRST_JOINT_LINE + ntu.NUM_JOINTS] = (
          [str(n)] + joints)
    return _edit_lines(text, edit)
  return fault


def negative_frame_count(text: str) -> str:
  return _set_line(FRAME_COUNT_LINE, "-4")(text)


def negative_body_count(text: str) -> str:
  return _set_line(BODY_COUNT_LINE, "-1")(text)


def negative_joint_count(text: str) -> str:
  return _set_line(JOINT_COUNT_LINE, "-25")(text)


def absurd_frame_count(text: str) -> str:
  return _set_line(FRAME_COUNT_LINE, "4000000000")(text)


def absurd_body_count(text: str) -> str:
  return _set_line(BODY_COUNT_LINE, "1000000")(text)


def absurd_joint_count(text: str) -> str:
  return _set_line(JOINT_COUNT_LINE, str(10**12))(text)


def frame_count_beyond_data(text: str) -> str:
  return _set_line(FRAME_COUNT_LINE, "5000")(text)


def float_body_count(text: str) -> str:
  return _set_line(BODY_COUNT_LINE, "1.5")(text)


def nan_body_id(text: str) -> str:
  def edit(lines):
    header = lines[BODY_HEADER_LINE].split()
    header[0] = "nan"
    lines[BODY_HEADER_LINE] = " ".join(header)
  return _edit_lines(text, edit)


def trailing_garbage(text: str) -> str:
  return text + "7\nleftover lines\n"


def joint_value(column: int, value: str, joint: int = 0) -> TextFault:
  """Column ``column`` of joint ``joint`` of the first body set to ``value``."""
  def fault(text):
    def edit(lines):
      values = lines[FIRST_JOINT_LINE + joint].split()
      values[column] = value
      lines[FIRST_JOINT_LINE + joint] = " ".join(values)
    return _edit_lines(text, edit)
  return fault


def body_header_value(column: int, value: str) -> TextFault:
  """Column ``column`` of the first body header (0: bodyID) set to ``value``."""
  def fault(text):
    def edit(lines):
      header = lines[BODY_HEADER_LINE].split()
      header[column] = value
      lines[BODY_HEADER_LINE] = " ".join(header)
    return _edit_lines(text, edit)
  return fault


def every_joint_untracked(text: str) -> str:
  """trackingState 0 for every joint of every body (Kinect lost them)."""
  def edit(lines):
    for i, line in enumerate(lines):
      values = line.split()
      if len(values) == 12:
        lines[i] = " ".join(values[:11] + ["0"])
  return _edit_lines(text, edit)


def every_joint_nan(text: str) -> str:
  def edit(lines):
    for i, line in enumerate(lines):
      if len(line.split()) == 12:
        lines[i] = " ".join(["nan"] * 11 + ["2"])
  return _edit_lines(text, edit)


def new_body_every_frame(num_frames: int) -> str:
  """A ``.skeleton`` whose every frame shows one body with a new bodyID.

  Small per frame (~650 bytes) but ``num_frames`` distinct bodies: dense
  ``[T, B]`` arrays would grow as ``num_frames ** 2``.
  """
  joint = " ".join(["0"] * 11 + ["2"])
  lines = [str(num_frames)]
  for t in range(num_frames):
    lines += ["1", f"{t} 0 0 0 0 0 0 0 0 2", str(ntu.NUM_JOINTS)]
    lines += [joint] * ntu.NUM_JOINTS
  return "\n".join(lines) + "\n"


def utf8_bom(text: str) -> str:
  """The text behind a UTF-8 byte-order mark (as Notepad saves it)."""
  return "\xef\xbb\xbf" + text


def utf16(text: str) -> str:
  """The text re-encoded as UTF-16 with its byte-order mark.

  Fault functions return text whose code points are the file's bytes
  (``break_skeleton`` writes it as latin-1).
  """
  return text.encode("utf-16").decode("latin-1")


def utf16_without_bom(text: str) -> str:
  return text.encode("utf-16-le").decode("latin-1")


def break_skeleton(path: Path, fault: TextFault) -> Path:
  """Rewrites ``path`` in place with ``fault`` applied to its text."""
  path = Path(path)
  path.write_bytes(fault(path.read_text(encoding="ascii")).encode("latin-1"))
  return path


# -- videos -------------------------------------------------------------------


def read_video_rgb(path: Path) -> list[np.ndarray]:
  capture = cv2.VideoCapture(str(path))
  frames = []
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
  capture.release()
  return frames


def random_bytes(path: Path, size: int = 30_000) -> Path:
  path.write_bytes(np.random.default_rng(3).integers(
      0, 256, size, dtype=np.uint8).tobytes())
  return path


def zero_bytes(path: Path) -> Path:
  path.write_bytes(b"")
  return path


def cut_mid_stream(path: Path, fraction: float = 0.55) -> Path:
  """Keeps the first ``fraction`` of the bytes: the header still counts all."""
  data = path.read_bytes()
  path.write_bytes(data[:int(len(data) * fraction)])
  return path


def drop_frames(path: Path, count: int) -> Path:
  """Re-encodes without the last ``count`` frames."""
  return write_video_rgb(path, read_video_rgb(path)[:-count])


def add_frames(path: Path, count: int) -> Path:
  """Re-encodes with ``count`` copies of the last frame appended."""
  frames = read_video_rgb(path)
  return write_video_rgb(path, frames + [frames[-1]] * count)


def rescale(path: Path, factor: float) -> Path:
  """Re-encodes at ``factor`` times the resolution (same content)."""
  frames = read_video_rgb(path)
  height, width = frames[0].shape[:2]
  size = (int(round(width * factor)), int(round(height * factor)))
  return write_video_rgb(path, [
      cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in frames])


# -- SBU and MSR ---------------------------------------------------------------


def sbu_rows(num_frames: int = 3) -> list[str]:
  """Valid ``skeleton_pos.txt`` rows: frame number + 2 x 15 joints x 3."""
  rows = []
  for t in range(num_frames):
    values = [0.3 + 0.01 * (i % 30) + 0.001 * t for i in range(90)]
    rows.append(",".join([str(t + 1)] + [f"{v:.4f}" for v in values]))
  return rows


def msr_text(people_per_frame=(1, 1, 2)) -> str:
  """A valid MSR Daily Activity 3D skeleton file."""
  lines = [f"{len(people_per_frame)} 20"]
  for t, people in enumerate(people_per_frame):
    lines.append(str(40 * people))
    for p in range(people):
      for j in range(20):
        lines.append(f"{0.01 * j + p:.3f} {0.5 - 0.02 * j:.3f} 2.5 1")
        lines.append(f"{0.3 + 0.01 * j + 0.2 * p:.3f} {0.4 + 0.01 * t:.3f}"
                     " 2500 1")
  return "\n".join(lines) + "\n"
