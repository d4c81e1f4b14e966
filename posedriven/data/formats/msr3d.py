"""MSR Action3D: real Kinect v1 skeletons, reader and protocols.

Li, Zhang and Liu, "Action recognition based on a bag of 3D points", CVPR
workshops 2010: 20 actions x 10 subjects x 2-3 repetitions (567 sequences),
one person, 20 joints, no RGB video. A dataset root holds two folders with
one file per sequence, named ``aXX_sYY_eZZ`` (action 1-20, subject 1-10,
repetition 1-3):

* ``MSRAction3DSkeletonReal3D/aXX_sYY_eZZ_skeleton3D.txt``: world
  coordinates in metres, ``x y z c`` per row;
* ``MSRAction3DSkeleton(20joints)/aXX_sYY_eZZ_skeleton.txt``: depth-image
  coordinates (320x240) and depth, ``u v d c`` per row.

Neither has a header: 20 rows per frame, so the frame count is rows / 20.
``c`` is a per-joint confidence that is neither documented nor used here.

**Row order is not the Kinect SDK's.** The dataset's README lists the joints
in ``NUI_SKELETON_POSITION`` order (hip centre first), but the rows are
stored as left shoulder, right shoulder, shoulder centre, spine, left hip,
right hip, hip centre, left/right elbow, left/right wrist, left/right hand,
left/right knee, left/right ankle, left/right foot, head. Measured on the
files: row 20 is the highest joint in every sequence and rows 1-2 are a
shoulder-wide pair just below it; in the one-arm actions (a01-a06) rows 9,
11 and 13 move 3-10x more than rows 8, 10 and 12, and Li et al. had
subjects use their right arm (``tests/data/formats/test_msr3d.py`` checks
both on the real files). :data:`FILE_ROWS` puts the rows into
:data:`skeletons.KINECT_V1` order, so the clip takes the Kinect v1
topological path (and ``skeleton_layout='kinect_v2'``, the NTU layout) as
MSR Daily Activity 3D's joints do.

Quirks of the real files, none fatal to a run: a frame whose 20 rows are
all zero is a frame where the tracker lost the person (the person is absent
there); ``a13_s09_e02`` is all zeros (no person at all: preparation's
``error``); a clip with more than :data:`MAX_MISSING_FRAME_FRACTION` of such
frames, or whose two files disagree on the frame count (``a13_s09_e03``:
936 world frames, 255 depth-image frames), is ``degraded``
(:attr:`Clip.defects <posedriven.data.clip.Clip>`).

Protocols (the subject split of Li et al. 2010, used by Wang et al. 2012 for
all 20 actions): subjects 1 3 5 7 9 train, 2 4 6 8 10 test. The three
8-action subsets AS1-AS3 are Table 1 of Li et al. 2010; the lists below are
the ones used by public implementations of the benchmark, found with the
project's code search (exact strings ``AS1=[2 3 5 6 10 13 18 20];AS2=[1 4 7
8 9 11 14 12];AS3=[6 14 15 16 17 18 19 20]`` in Jin Qi's MATLAB code, 2014,
and the same three lists in an independent ``load_MSRAction3D_dataset.m``
and in ``actList_as1/2/3`` of a third code base). Settings are chosen on
``*_val`` protocols: training subjects 1, 5, 7 train and 3, 9 validate, the
test subjects are left out.
"""

from __future__ import annotations

import dataclasses
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
ROW_FIELDS = 4  # x y z c / u v d c
DEPTH_IMAGE_SIZE = (320, 240)  # (width, height) of the u, v coordinates
WORLD_DIR = "MSRAction3DSkeletonReal3D"
DEPTH_DIR = "MSRAction3DSkeleton(20joints)"
WORLD_SUFFIX = "_skeleton3D.txt"
DEPTH_SUFFIX = "_skeleton.txt"
# A clip missing its person in more of its frames than this is degraded.
MAX_MISSING_FRAME_FRACTION = 0.5

MSR3D_CLASS_NAMES = (
    "high arm wave",
    "horizontal arm wave",
    "hammer",
    "hand catch",
    "forward punch",
    "high throw",
    "draw x",
    "draw tick",
    "draw circle",
    "hand clap",
    "two hand wave",
    "side boxing",
    "bend",
    "forward kick",
    "side kick",
    "jogging",
    "tennis swing",
    "tennis serve",
    "golf swing",
    "pick up and throw",
)
NUM_SUBJECTS = 10
TRAIN_SUBJECTS = (1, 3, 5, 7, 9)
# Training subjects held out for choosing settings (the *_val protocols).
VALIDATION_SUBJECTS = (3, 9)

# 1-based actions of the subsets (Li et al. 2010, Table 1).
ACTION_SETS = {
    "as1": (2, 3, 5, 6, 10, 13, 18, 20),
    "as2": (1, 4, 7, 8, 9, 11, 12, 14),
    "as3": (6, 14, 15, 16, 17, 18, 19, 20),
}

# The file's joint name of each row (see the module docstring).
_FILE_JOINTS = (
    "ShoulderLeft", "ShoulderRight", "ShoulderCenter", "Spine", "HipLeft",
    "HipRight", "HipCenter", "ElbowLeft", "ElbowRight", "WristLeft",
    "WristRight", "HandLeft", "HandRight", "KneeLeft", "KneeRight",
    "AnkleLeft", "AnkleRight", "FootLeft", "FootRight", "Head")
# FILE_ROWS[j]: the file row holding Kinect v1 joint j.
FILE_ROWS = np.array([_FILE_JOINTS.index(name)
                      for name in skeletons.KINECT_V1.joint_names], np.int64)

_NAME_RE = re.compile(
    r"^a(\d{2})_s(\d{2})_e(\d{2})(?:_skeleton3D\.txt|_skeleton\.txt)?$")


class Msr3dFormatError(file_guards.FormatError):
  """A skeleton file does not follow the format; names file and line."""


@dataclasses.dataclass(frozen=True)
class SampleName:
  """Fields of an ``aXX_sYY_eZZ`` name (all 1-based)."""

  action: int
  subject: int
  repetition: int

  @property
  def label(self) -> int:
    """0-based class index."""
    return self.action - 1

  def __str__(self) -> str:
    return f"a{self.action:02d}_s{self.subject:02d}_e{self.repetition:02d}"


def parse_sample_name(path: str | os.PathLike) -> SampleName:
  """Parses ``a01_s02_e01_skeleton3D.txt`` (or ``_skeleton.txt``, or the
  bare ``a01_s02_e01``).

  Raises:
    ValueError: the name does not follow the pattern, or the action is not
      1-20 or the subject not 1-10; the message names the file.
  """
  match = _NAME_RE.match(Path(path).name)
  if not match:
    raise ValueError(
        f"{path}: not an MSR Action3D file name (expected"
        f" aXX_sYY_eZZ{WORLD_SUFFIX}, e.g. a01_s02_e01{WORLD_SUFFIX})")
  sample = SampleName(*(int(g) for g in match.groups()))
  if not 1 <= sample.action <= len(MSR3D_CLASS_NAMES):
    raise ValueError(f"{path}: action {sample.action} is outside 1-"
                     f"{len(MSR3D_CLASS_NAMES)}")
  if not 1 <= sample.subject <= NUM_SUBJECTS:
    raise ValueError(f"{path}: subject {sample.subject} is outside 1-"
                     f"{NUM_SUBJECTS}")
  return sample


def load_rows(path: str | os.PathLike) -> np.ndarray:
  """One file of either kind, rows as stored: float32 ``[T, 20, 4]``.

  Raises:
    Msr3dFormatError: not a regular file or unreadable; empty; a row
      without 4 values; a non-numeric value; a value that is NaN or
      infinite (in float32, so ``1e39`` counts); a row count that is not a
      multiple of 20 (a truncated last frame). Names the file and line.
  """
  path = Path(path)
  lines = tokenizer.Lines(
      path, file_guards.read_text(path, Msr3dFormatError), Msr3dFormatError)
  rows, line_of_row = [], []
  while lines.has_more():
    rows.append(lines.numbers(f"row {len(rows) + 1} (x y z c)", ROW_FIELDS))
    line_of_row.append(lines.pos)
  if not rows:
    raise Msr3dFormatError(path, None, "file is empty (no data)")
  if len(rows) % NUM_JOINTS:
    first = len(rows) // NUM_JOINTS * NUM_JOINTS
    raise Msr3dFormatError(
        path, line_of_row[first],
        f"{len(rows)} rows is not a multiple of {NUM_JOINTS} (one row per"
        f" joint): the last frame, from this line, has only"
        f" {len(rows) - first} of its {NUM_JOINTS} rows (truncated file?)")
  values, bad = tokenizer.cast_finite(np.asarray(rows), np.float32)
  if bad.any():
    row = int(np.argwhere(bad)[0, 0])
    raise Msr3dFormatError(
        path, line_of_row[row],
        f"value {rows[row][int(np.argwhere(bad[row])[0, 0])]!r} is not"
        " finite (in float32)")
  return values.reshape(-1, NUM_JOINTS, ROW_FIELDS)


@dataclasses.dataclass
class Msr3dSkeleton:
  """A sequence's two files, joints in :data:`skeletons.KINECT_V1` order.

  Attributes:
    xyz: float32 ``[T, 20, 3]`` world coordinates, metres.
    present: bool ``[T]``: the frame holds a skeleton (not all zeros).
    depth_uvd: float32 ``[T', 20, 3]`` depth-image ``u, v`` (pixels of the
      320x240 image) and depth; ``T'`` is the depth file's frame count
      (``T`` but for defective sequences), 0 if that file is missing.
  """

  xyz: np.ndarray
  present: np.ndarray
  depth_uvd: np.ndarray

  @property
  def num_frames(self) -> int:
    return int(self.xyz.shape[0])


def depth_path(world_path: str | os.PathLike) -> Path:
  """``root/<WORLD_DIR>/aXX_sYY_eZZ_skeleton3D.txt`` -> the depth file."""
  world_path = Path(world_path)
  sample = parse_sample_name(world_path)
  return world_path.parent.parent / DEPTH_DIR / f"{sample}{DEPTH_SUFFIX}"


def load_skeleton(world_path: str | os.PathLike) -> Msr3dSkeleton:
  """Reads a sequence's world file and, when it exists, its depth file.

  Raises:
    Msr3dFormatError: either file is malformed (:func:`load_rows`).
  """
  world = load_rows(world_path)[:, FILE_ROWS]
  xyz = np.ascontiguousarray(world[..., :3])
  depth_file = depth_path(world_path)
  depth = (load_rows(depth_file)[:, FILE_ROWS, :3] if depth_file.exists()
           else np.zeros((0, NUM_JOINTS, 3), np.float32))
  return Msr3dSkeleton(xyz=xyz, present=np.any(xyz != 0, axis=(1, 2)),
                       depth_uvd=np.ascontiguousarray(depth))


def defects(seq: Msr3dSkeleton, depth_file: Path) -> tuple[str, ...]:
  """Why a readable sequence is degraded (empty when it is fine)."""
  out = []
  t = seq.num_frames
  missing = t - int(seq.present.sum())
  if missing > MAX_MISSING_FRAME_FRACTION * t:
    out.append(f"skeleton: no person in {missing} of {t} frames (all-zero"
               f" rows; threshold {MAX_MISSING_FRAME_FRACTION:.0%})")
  if seq.depth_uvd.shape[0] != t:
    have = ("is missing" if not depth_file.exists() else
            f"has {seq.depth_uvd.shape[0]} frames")
    out.append(f"depth-image file {depth_file.name} {have}, the world file"
               f" {t}: hand pixels are invalid where it has none")
  return tuple(out)


def load_clip(path: str | os.PathLike) -> clip_lib.Clip:
  """Reads ``.../MSRAction3DSkeletonReal3D/aXX_sYY_eZZ_skeleton3D.txt``.

  ``Clip.xyz`` holds the world coordinates as person 1 (person 2 is never
  present); hand pixels come from the depth-image file (320x240), in the
  frames it has. ``Clip.name`` is ``aXX_sYY_eZZ``; metadata holds
  ``action``, ``subject`` and ``repetition`` (1-based).

  Raises:
    ValueError: bad file name.
    Msr3dFormatError: malformed file.
    EmptySkeletonError: no frame holds a skeleton (``a13_s09_e02``).
  """
  path = Path(path)
  sample = parse_sample_name(path)
  seq = load_skeleton(path)
  t = seq.num_frames
  if not seq.present.any():
    raise clip_lib.EmptySkeletonError(
        f"{path}: no frame holds a skeleton (all {t} frames are zeros)")
  xyz = np.zeros((t, skeletons.MAX_PEOPLE, NUM_JOINTS, 3), np.float32)
  xyz[:, 0] = np.where(seq.present[:, None, None], seq.xyz, 0.0)
  present = np.zeros((t, skeletons.MAX_PEOPLE), bool)
  present[:, 0] = seq.present
  pixels = np.zeros((t, skeletons.MAX_PEOPLE, NUM_JOINTS, 2), np.float32)
  overlap = min(t, seq.depth_uvd.shape[0])
  pixels[:overlap, 0] = seq.depth_uvd[:overlap, :, :2]
  hand_present = present.copy()
  hand_present[overlap:] = False
  hand_xy, hand_valid = clip_lib.hands_from_people(
      pixels, hand_present, skeletons.KINECT_V1)
  return clip_lib.Clip(
      name=str(sample), label=sample.label, skeleton=skeletons.KINECT_V1.name,
      xyz=xyz, present=present, hand_xy_px=hand_xy, hand_valid=hand_valid,
      image_size=DEPTH_IMAGE_SIZE, metadata=dataclasses.asdict(sample),
      defects=defects(seq, depth_path(path)))


def list_skeleton_files(root: str | os.PathLike) -> list[Path]:
  """Sorted world files ``root/MSRAction3DSkeletonReal3D/aXX_sYY_eZZ...``.

  Raises:
    FileNotFoundError: ``root`` has no ``MSRAction3DSkeletonReal3D`` folder.
  """
  folder = Path(root) / WORLD_DIR
  if not folder.is_dir():
    raise FileNotFoundError(f"MSR Action3D folder {folder} does not exist")
  return sorted(f for f in folder.glob(f"*{WORLD_SUFFIX}")
                if _NAME_RE.match(f.name))


def is_skeleton(path: str | os.PathLike) -> bool:
  return Path(path).name.endswith(WORLD_SUFFIX)


# ---------------------------------------------------------------------------
# Protocols.


def _subject_split(subject: int, validation: bool) -> str:
  subject = int(subject)
  if not 1 <= subject <= NUM_SUBJECTS:
    raise ValueError(f"subject must be 1-{NUM_SUBJECTS}, got {subject}")
  if not validation:
    return protocols.split(subject in TRAIN_SUBJECTS)
  if subject not in TRAIN_SUBJECTS:
    return protocols.OUTSIDE
  return protocols.split(subject not in VALIDATION_SUBJECTS)


def _rule(actions: tuple[int, ...] | None, validation: bool):
  def rule(values) -> str:
    action, subject = values
    if actions is not None and int(action) not in actions:
      return protocols.OUTSIDE
    return _subject_split(subject, validation)
  return rule


def _protocols() -> tuple[protocols.Protocol, ...]:
  out = []
  for subset, actions, what in (
      ("cs", None, "all 20 actions"),
      *((name, acts, f"{name.upper()}, actions {list(acts)}")
        for name, acts in ACTION_SETS.items())):
    out.append(protocols.Protocol(
        f"msr3d_{subset}", ("action", "subject"),
        f"MSR Action3D cross-subject, {what}: subjects 1 3 5 7 9 train",
        _rule(actions, validation=False)))
    out.append(protocols.Protocol(
        f"msr3d_{subset}_val", ("action", "subject"),
        f"validation split of msr3d_{subset}: subjects 1 5 7 train, 3 9"
        " validate, test subjects left out",
        _rule(actions, validation=True)))
  return tuple(out)


PROTOCOLS = _protocols()
