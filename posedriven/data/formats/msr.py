"""MSR Daily Activity 3D: ``aXX_sYY_eZZ_skeleton.txt`` reader and protocol.

Files are named ``aXX_sYY_eZZ_skeleton.txt`` (action 01-16, subject 01-10,
environment 01-02: each subject performs each activity once sitting on the
sofa and once standing); the RGB video beside it is ``aXX_sYY_eZZ_rgb.avi``
(640x480).

Skeleton file format (whitespace separated)::

  <num_frames> <n>            n = 20 (joints, as in the dataset README) or 40
                              (rows per person); only num_frames is used.
  per frame:
    <num_rows>                0 (nobody), 40 (one person) or 80 (two people)
    per person (20 Kinect v1 joints), per joint two rows:
      x y z c                 world coordinates (metres), confidence
      u v depth c             screen coordinates, u and v normalised to [0, 1]

The confidence column is documented as "not useful" and is ignored. Joint
pixels in the 640x480 RGB frame are ``(u * 640, v * 480)``; ``u, v`` come from
the depth camera, so they are only approximately registered to the RGB frame.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path

import numpy as np

from posedriven.data import clip as clip_lib
from posedriven.data import protocols
from posedriven.data import skeletons
from posedriven.data.formats import file_guards
from posedriven.data.formats import tokenizer

NUM_JOINTS = 20
RGB_SIZE = (640, 480)  # (width, height) of MSR RGB videos.
ROWS_PER_PERSON = 2 * NUM_JOINTS
_VALID_ROW_COUNTS = (0, ROWS_PER_PERSON, 2 * ROWS_PER_PERSON)
_HEADER_SECOND_VALUES = (NUM_JOINTS, ROWS_PER_PERSON)
_ROW_FIELDS = 4
# Refuses only corrupt headers: real clips have a few hundred frames.
MAX_FRAMES = 100_000

MSR_CLASS_NAMES = (
    "drink",
    "eat",
    "read book",
    "call cellphone",
    "write on a paper",
    "use laptop",
    "use vacuum cleaner",
    "cheer up",
    "sit still",
    "toss paper",
    "play game",
    "lie down on sofa",
    "walk",
    "play guitar",
    "stand up",
    "sit down",
)
NUM_SUBJECTS = 10

SKELETON_SUFFIX = "_skeleton.txt"
# ASCII: Python's \d and int() also take other scripts' digits.
_NAME_RE = re.compile(r"^a(\d{2})_s(\d{2})_e(\d{2})(?:_skeleton\.txt)?$",
                      re.ASCII)


class MsrFormatError(file_guards.FormatError):
  """A skeleton file does not follow the format; names file and line."""


@dataclasses.dataclass(frozen=True)
class SampleName:
  """Fields of an ``aXX_sYY_eZZ`` name (all 1-based)."""

  action: int
  subject: int
  environment: int

  @property
  def label(self) -> int:
    """0-based class index."""
    return self.action - 1

  def __str__(self) -> str:
    return f"a{self.action:02d}_s{self.subject:02d}_e{self.environment:02d}"


def parse_sample_name(path: str | os.PathLike) -> SampleName:
  """Parses ``a01_s02_e01_skeleton.txt`` (or ``a01_s02_e01``).

  Raises:
    ValueError: the name does not follow the pattern or the action is not
      1-16; the message names the file.
  """
  base = Path(path).name
  match = _NAME_RE.match(base)
  if not match:
    raise ValueError(
        f"{path}: not an MSR Daily Activity 3D file name (expected"
        " aXX_sYY_eZZ_skeleton.txt, e.g. a01_s02_e01_skeleton.txt)")
  sample = SampleName(*(int(g) for g in match.groups()))
  if not 1 <= sample.action <= len(MSR_CLASS_NAMES):
    raise ValueError(f"{path}: action {sample.action} is outside 1-"
                     f"{len(MSR_CLASS_NAMES)}")
  return sample


@dataclasses.dataclass
class MsrSkeletons:
  """Everything a skeleton file holds, as arrays (at most two people).

  Attributes:
    present: bool ``[T, 2]``: person p is in frame t (p=1 only in 80-row
      frames).
    xyz: float32 ``[T, 2, 20, 3]`` world coordinates, metres; 0 if absent.
    screen_uvd: float32 ``[T, 2, 20, 3]`` normalised ``u, v`` and depth; 0 if
      absent.
  """

  present: np.ndarray
  xyz: np.ndarray
  screen_uvd: np.ndarray

  @property
  def num_frames(self) -> int:
    return int(self.present.shape[0])

  @property
  def color_xy_px(self) -> np.ndarray:
    """float32 ``[T, 2, 20, 2]`` pixels in the 640x480 RGB frame."""
    scale = np.array(RGB_SIZE, np.float32)
    # A huge u or v overflows to inf here: the hand is then invalid
    # (clip.hands_from_people), the documented fallback.
    with np.errstate(over="ignore", invalid="ignore"):
      return (self.screen_uvd[..., :2] * scale).astype(np.float32)


def load_skeleton_file(path: str | os.PathLike) -> MsrSkeletons:
  """Reads one ``*_skeleton.txt`` completely.

  Documented fallback: NaN/inf world coordinates (in float32, so ``1e39``
  counts) are zeroed (logged); NaN/inf screen coordinates make the hand
  invalid downstream.

  Raises:
    MsrFormatError: not a regular file, unreadable or truncated file (a
      frame count beyond the lines that follow), a header that is not
      ``<num_frames> <20|40>``, a per-frame row count other than 0/40/80, a
      row without 4 values, a non-numeric value. Names the file and line.
  """
  path = Path(path)
  lines = tokenizer.Lines(path, file_guards.read_text(path, MsrFormatError),
                          MsrFormatError)
  num_frames, second = lines.integers("header <num_frames> <num_joints>", 2)
  if not 0 <= num_frames <= MAX_FRAMES:
    raise lines.error(f"frame count {num_frames} is outside 0-{MAX_FRAMES}")
  if second not in _HEADER_SECOND_VALUES:
    raise lines.error(
        f"header's second value is {second}; expected {NUM_JOINTS} (joints)"
        f" or {ROWS_PER_PERSON} (rows per person)")
  if num_frames > lines.remaining():
    # Every frame has at least its row-count line: refuse before allocating.
    raise lines.error(
        f"file is truncated: the header says {num_frames} frames but only"
        f" {lines.remaining()} lines follow, so frame {lines.remaining() + 1}"
        " and later are missing")
  present = np.zeros((num_frames, skeletons.MAX_PEOPLE), bool)
  raw = lines.zeros(
      (num_frames, skeletons.MAX_PEOPLE, NUM_JOINTS, 2, _ROW_FIELDS),
      np.float64, f"{num_frames} frames")
  for t in range(num_frames):
    (num_rows,) = lines.integers(f"row count of frame {t + 1}", 1)
    if num_rows not in _VALID_ROW_COUNTS:
      raise lines.error(
          f"frame {t + 1} has {num_rows} rows; expected one of"
          f" {_VALID_ROW_COUNTS} ({ROWS_PER_PERSON} per tracked person)")
    for p in range(num_rows // ROWS_PER_PERSON):
      for j in range(NUM_JOINTS):
        for r, kind in enumerate(("world", "screen")):
          raw[t, p, j, r] = lines.numbers(
              f"frame {t + 1} person {p + 1} joint {j + 1} {kind} row",
              _ROW_FIELDS)
      present[t, p] = True
  if lines.has_more():
    logging.warning("%s: ignoring data after the last of %d frames",
                    path.name, num_frames)
  # Checked in float32, the dtype they are kept in: 1e39 is inf there.
  world, bad = tokenizer.cast_finite(raw[..., 0, :3], np.float32)
  if bad.any():
    logging.warning("%s: %d world coordinates are NaN/inf (in float32); set"
                    " to 0", path.name, int(bad.sum()))
    world[bad] = 0.0
  screen, _ = tokenizer.cast_finite(raw[..., 1, :3], np.float32)
  return MsrSkeletons(present=present, xyz=world, screen_uvd=screen)


def format_file(present: np.ndarray, xyz: np.ndarray,
                screen_uvd: np.ndarray) -> str:
  """Skeleton file content (inverse of :func:`load_skeleton_file`).

  Args:
    present: bool ``[T, 2]``; a frame lists its present people in order, so
      person 2 may only be present with person 1.
    xyz: float ``[T, 2, 20, 3]`` world coordinates, metres.
    screen_uvd: float ``[T, 2, 20, 3]`` normalised ``u, v`` and depth.

  The confidence column is written as 1.
  """
  present = np.asarray(present, bool)
  t = present.shape[0]
  if np.any(present[:, 1] & ~present[:, 0]):
    raise ValueError("person 2 present without person 1: the format cannot"
                     " say so")
  # 9 significant digits round-trip any float32 exactly.
  fmt = lambda values: " ".join(f"{float(v):.9g}" for v in values) + " 1"
  out = [f"{t} {NUM_JOINTS}"]
  for f in range(t):
    people = int(present[f].sum())
    out.append(str(people * ROWS_PER_PERSON))
    for p in range(people):
      for j in range(NUM_JOINTS):
        out.append(fmt(xyz[f, p, j]))
        out.append(fmt(screen_uvd[f, p, j]))
  return "\n".join(out) + "\n"


def load_clip(path: str | os.PathLike) -> clip_lib.Clip:
  """Reads a ``aXX_sYY_eZZ_skeleton.txt`` into a :class:`Clip`.

  ``Clip.name`` is ``aXX_sYY_eZZ``; metadata holds ``action``, ``subject`` and
  ``environment`` (1-based). Person 1 is the first 40 rows of a frame, person
  2 the next 40 when present.

  Raises:
    ValueError: bad file name.
    MsrFormatError: malformed file.
    EmptySkeletonError: no frame contains a person.
  """
  path = Path(path)
  sample = parse_sample_name(path)
  data = load_skeleton_file(path)
  if not data.present.any():
    raise clip_lib.EmptySkeletonError(
        f"{path}: no frame contains a person ({data.num_frames} frames)")
  hand_xy, hand_valid = clip_lib.hands_from_people(
      data.color_xy_px, data.present, skeletons.KINECT_V1)
  return clip_lib.Clip(
      name=str(sample),
      label=sample.label,
      skeleton=skeletons.KINECT_V1.name,
      xyz=data.xyz,
      present=data.present,
      hand_xy_px=hand_xy,
      hand_valid=hand_valid,
      image_size=RGB_SIZE,
      metadata=dataclasses.asdict(sample),
  )


def list_skeleton_files(root: str | os.PathLike) -> list[Path]:
  """Sorted ``aXX_sYY_eZZ_skeleton.txt`` files directly under ``root``.

  Raises:
    FileNotFoundError: ``root`` is not a directory.
  """
  root = Path(root)
  if not root.is_dir():
    raise FileNotFoundError(f"MSR directory {root} does not exist")
  return sorted(f for f in root.glob(f"*{SKELETON_SUFFIX}")
                if _NAME_RE.match(f.name))


def video_path(skeleton_path: str | os.PathLike) -> Path:
  """``.../aXX_sYY_eZZ_skeleton.txt`` -> ``.../aXX_sYY_eZZ_rgb.avi``."""
  skeleton_path = Path(skeleton_path)
  sample = parse_sample_name(skeleton_path)
  return skeleton_path.with_name(f"{sample}_rgb.avi")


def cross_subject_split(subject: int) -> str:
  """Cross-subject protocol: odd subjects train, even subjects test.

  Raises:
    ValueError: subject outside 1-10.
  """
  subject = int(subject)
  if not 1 <= subject <= NUM_SUBJECTS:
    raise ValueError(f"MSR subject must be 1-{NUM_SUBJECTS}, got {subject}")
  return "train" if subject % 2 == 1 else "test"


PROTOCOLS = (
    protocols.Protocol(
        "msr_cs", "subject",
        "MSR Daily Activity 3D cross-subject: odd subjects train",
        cross_subject_split),
)
