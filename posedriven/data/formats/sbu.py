"""SBU Kinect Interaction: ``skeleton_pos.txt`` reader and the 5-fold protocol.

Dataset layout (Yun et al. 2012, "Two-person Interaction Detection Using
Body-Pose Features and Multiple Instance Learning")::

  <root>/sXXsYY/<action 01-08>/<sequence 001..>/
      skeleton_pos.txt
      rgb_000001.png ...   (640x480 RGB frames)
      depth_000001.png ...

``sXXsYY`` names the subject pair (a "set"). ``skeleton_pos.txt`` holds one
comma-separated row per frame::

  frame, xA1, yA1, zA1, ..., xA15, yA15, zA15, xB1, yB1, zB1, ..., zB15

i.e. the frame number and 15 OpenNI joints for person A then person B
(1 + 90 values). Frame numbers need not start at 1 (real files do not
always); they only have to fit the ``rgb_NNNNNN.png`` names. A person who is
not tracked in a frame is written as 45 zeros (no tracked joint has depth
0), or the row stops after person A (1 + 45 values): both give
``present = False`` for that person and frame. Blank lines and Windows line
endings are accepted.

Coordinates. The values are normalised metric camera coordinates; the
dataset README undoes the normalisation with::

  X = 1280 - 2560 * x      (mm)
  Y = 960 - 1920 * y       (mm)
  Z = z * 10000 / 7.8125   (mm)

We divide by 1000 so that ``Clip.xyz`` is in metres like NTU. The joint's
pixel in the 640x480 RGB frame is the perspective projection of ``(X, Y, Z)``
with the Kinect v1 colour camera (:func:`project_to_color`)::

  u = cx + fx * X / Z      v = cy - fy * Y / Z

The intrinsics default to fx = fy = 525, cx = 319.5, cy = 239.5 px, the
OpenNI / ROS defaults for the Kinect v1 RGB camera at 640x480 (TUM RGB-D
benchmark, "Intrinsic Camera Calibration of the Kinect",
https://vision.in.tum.de/data/datasets/rgbd-dataset/intrinsic_calibration;
also Open3D's ``PrimeSenseDefault``). A calibrated device differs by a few
pixels (Nicolas Burrus' Kinect calibration: fx 529.2, fy 525.6, cx 328.9,
cy 267.5); bind ``sbu_color_camera.fx`` etc. to use other values.

Signs, checked on a real recording (SBU frame ``rgb_000298.png`` and its
``skeleton_pos.txt``, copied in the public repository
askmuhsin/human-posture-helper-code, folders ``images/`` and ``dataset/``):

* ``u`` grows with ``X`` (``+ fx X / Z``): with it both skeletons lie on the
  two people; with ``u = 640 x`` (this reader before issue 27) each lands
  on the other person's side of the frame. At ``Z = 4 fx`` mm (2.1 m) the
  projection is the linear ``u = 640 (1 - x) - 0.5``, ``v = 480 y - 0.5``:
  ``v`` is the old ``480 y``, ``u`` its mirror image. At another depth the
  projection and that linear mapping differ by ``|u - cx| * |1 - Z / 2.1 m|``
  (``u`` projected): 50 px for a hand 150 px from the centre at 2.8 m.
* Left and right are the person's own, as in NTU (Kinect v2): in ``(X, Y,
  Z)`` as defined above, ``(Neck - Torso) x (ShoulderRight - ShoulderLeft)``
  is the direction the person faces, as ``(SpineShoulder - SpineMid) x
  (ShoulderRight - ShoulderLeft)`` is in NTU's camera space (there it points
  at the camera in the three real NTU samples). In the frame above, person
  B faces person A along ``+X``, as the image shows; in the repository's
  other file (frames 350-366 and 566-594) A and B face each other in every
  frame (with the opposite handedness they would turn their backs to each
  other throughout an interaction). The labels relate
  to the image as NTU's do, so ``Clip.xyz`` needs no mirroring to meet
  NTU's: ``HandLeft`` maps to NTU's ``HandLeft``, and ``X`` points to the
  image's right in both.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path

import gin
import numpy as np

from posedriven.data import clip as clip_lib
from posedriven.data import protocols
from posedriven.data import skeletons
from posedriven.data.formats import file_guards
from posedriven.data.formats import tokenizer

NUM_JOINTS = 15
RGB_SIZE = (640, 480)  # (width, height) of SBU RGB frames.
SKELETON_FILE = "skeleton_pos.txt"
# RGB frames are rgb_NNNNNN.png: six digits.
MAX_FRAME_NUMBER = 999_999
_PERSON_VALUES = NUM_JOINTS * 3
_NUM_COLUMNS = 1 + 2 * _PERSON_VALUES
_ONE_PERSON_COLUMNS = 1 + _PERSON_VALUES

# Folder 01..08 in this order.
SBU_CLASS_NAMES = (
    "approaching",
    "departing",
    "kicking",
    "pushing",
    "shaking hands",
    "hugging",
    "exchanging object",
    "punching",
)

# Standard 5-fold cross-validation over subject-pair sets (Yun et al. 2012):
# fold k tests on SBU_FOLDS[k - 1] and trains on the 4 other folds.
SBU_FOLDS: tuple[tuple[str, ...], ...] = (
    ("s01s02", "s03s04", "s05s02", "s06s04"),
    ("s02s03", "s02s07", "s03s05", "s05s03"),
    ("s01s03", "s01s07", "s07s01", "s07s03"),
    ("s02s01", "s02s06", "s03s02", "s03s06"),
    ("s04s02", "s04s03", "s04s06", "s06s02", "s06s03"),
)
NUM_FOLDS = len(SBU_FOLDS)
SBU_SETS: tuple[str, ...] = tuple(sorted(s for fold in SBU_FOLDS for s in fold))

# ASCII: Python's \d and int() also take other scripts' digits.
_SET_RE = re.compile(r"^s(\d{2})s(\d{2})$", re.ASCII)
_ACTION_RE = re.compile(r"^(\d{2})$", re.ASCII)
_SEQUENCE_RE = re.compile(r"^(\d{3})$", re.ASCII)


class SbuFormatError(file_guards.FormatError):
  """A ``skeleton_pos.txt`` does not follow the format; names file and line."""


@dataclasses.dataclass
class SbuSkeletons:
  """Everything a ``skeleton_pos.txt`` holds, as arrays (person A, then B).

  Attributes:
    frame_index: int64 ``[T]`` frame numbers from the file's first column
      (they name the RGB frames, see :func:`frame_path`).
    normalized: float32 ``[T, 2, 15, 3]`` the file's values, unchanged
      (zeros for a person not tracked).
    xyz: float32 ``[T, 2, 15, 3]`` denormalised camera space, metres; zeros
      where the person is not tracked.
    color_xy_px: float32 ``[T, 2, 15, 2]`` pixels in the 640x480 RGB frame
      (:func:`project_to_color`); zeros where the person is not tracked
      and for a tracked joint at depth <= 0 (no pixel).
    present: bool ``[T, 2]``: the person is tracked in the frame.
  """

  frame_index: np.ndarray
  normalized: np.ndarray
  xyz: np.ndarray
  color_xy_px: np.ndarray
  present: np.ndarray

  @property
  def num_frames(self) -> int:
    return int(self.frame_index.shape[0])


@dataclasses.dataclass(frozen=True)
class ColorCamera:
  """Pinhole intrinsics of the RGB camera, pixels (640x480 frame)."""

  fx: float
  fy: float
  cx: float
  cy: float


# OpenNI / ROS default for the Kinect v1 RGB camera (module docstring).
KINECT_V1_COLOR = ColorCamera(fx=525.0, fy=525.0, cx=319.5, cy=239.5)


@gin.configurable("sbu_color_camera")
def color_camera(fx: float = KINECT_V1_COLOR.fx, fy: float = KINECT_V1_COLOR.fy,
                 cx: float = KINECT_V1_COLOR.cx,
                 cy: float = KINECT_V1_COLOR.cy) -> ColorCamera:
  """The RGB intrinsics :func:`load_clip` projects with (gin: the reader's
  edge; every preparation worker must parse the same bindings)."""
  if not (fx > 0 and fy > 0):
    raise ValueError(f"focal lengths must be > 0 px, got fx={fx}, fy={fy}")
  return ColorCamera(float(fx), float(fy), float(cx), float(cy))


def _readme_mm(normalized: np.ndarray) -> np.ndarray:
  """The README's formulas: file values -> camera space, mm, float64."""
  normalized = np.asarray(normalized, np.float64)
  x, y, z = normalized[..., 0], normalized[..., 1], normalized[..., 2]
  return np.stack([1280.0 - 2560.0 * x, 960.0 - 1920.0 * y,
                   z * 10000.0 / 7.8125], axis=-1)


def denormalize(normalized: np.ndarray) -> np.ndarray:
  """File values ``[..., 3]`` -> camera-space metres ``[..., 3]``.

  The README's formulas give millimetres; we return metres (/1000).
  """
  return (_readme_mm(normalized) / 1000.0).astype(np.float32)


def normalize(xyz_m: np.ndarray) -> np.ndarray:
  """Camera-space metres ``[..., 3]`` -> file values (inverse of
  :func:`denormalize`), float64."""
  mm = np.asarray(xyz_m, np.float64) * 1000.0
  return np.stack([(1280.0 - mm[..., 0]) / 2560.0,
                   (960.0 - mm[..., 1]) / 1920.0,
                   mm[..., 2] * 7.8125 / 10000.0], axis=-1)


def project_to_color(xyz_m: np.ndarray, camera: ColorCamera) -> np.ndarray:
  """Camera-space points ``[..., 3]`` (any length unit) -> RGB pixels
  ``[..., 2]``, float64: ``u = cx + fx X / Z``, ``v = cy - fy Y / Z``.

  Points with ``Z <= 0`` (not in front of the camera) have no pixel: NaN.
  """
  xyz = np.asarray(xyz_m, np.float64)
  z = xyz[..., 2]
  in_front = z > 0
  safe_z = np.where(in_front, z, 1.0)
  uv = np.stack([camera.cx + camera.fx * xyz[..., 0] / safe_z,
                 camera.cy - camera.fy * xyz[..., 1] / safe_z], axis=-1)
  return np.where(in_front[..., None], uv, np.nan)


def to_pixels(normalized: np.ndarray,
              camera: ColorCamera = KINECT_V1_COLOR) -> np.ndarray:
  """File values ``[..., 3]`` -> RGB-frame pixels ``[..., 2]`` (float32),
  the projection of the README's metric coordinates; NaN where ``z <= 0``."""
  return project_to_color(_readme_mm(normalized), camera).astype(np.float32)


def load_skeleton_file(path: str | os.PathLike,
                       camera: ColorCamera = KINECT_V1_COLOR) -> SbuSkeletons:
  """Reads one ``skeleton_pos.txt``; pixels are projected with ``camera``.

  Blank lines are skipped. Coordinates are checked in float32 (the dtype
  they are kept in), frame numbers against the RGB file names they stand
  for (``rgb_NNNNNN.png``: 0..:data:`MAX_FRAME_NUMBER`).

  Raises:
    SbuFormatError: not a regular file, unreadable or empty file, a row
      without 91 values, a non-numeric value, a frame number that is not an
      integer in 0..999999, a coordinate that is NaN or infinite in float32.
      The message names the file and the 1-based line.
  """
  path = Path(path)
  content = file_guards.read_text(path, SbuFormatError)
  frames: list[int] = []
  rows: list[list[float]] = []
  line_numbers: list[int] = []
  for line_no, line in enumerate(content.splitlines(), start=1):
    if not line.strip():
      continue
    tokens = [t.strip() for t in line.split(",")]
    if tokens and not tokens[-1]:
      tokens.pop()  # a trailing comma ends some rows
    if len(tokens) not in (_NUM_COLUMNS, _ONE_PERSON_COLUMNS):
      raise SbuFormatError(
          path, line_no,
          f"row has {len(tokens)} comma-separated values, expected"
          f" {_NUM_COLUMNS} (frame number + 2 people x {NUM_JOINTS} joints"
          f" x 3) or {_ONE_PERSON_COLUMNS} (person B not tracked)")
    frame = tokenizer.parse_int(tokens[0])
    if frame is None:
      raise SbuFormatError(path, line_no,
                           f"frame number {tokens[0]!r} is not an integer"
                           " (plain decimal digits expected)")
    if not 0 <= frame <= MAX_FRAME_NUMBER:
      raise SbuFormatError(
          path, line_no, f"frame number {tokens[0]!r} is outside"
          f" 0..{MAX_FRAME_NUMBER} (it names rgb_NNNNNN.png)")
    values = [tokenizer.parse_float(t) for t in tokens[1:]]
    if None in values:
      raise SbuFormatError(path, line_no, "non-numeric value"
                           f" {tokens[1 + values.index(None)]!r}")
    frames.append(frame)
    rows.append(values + [0.0] * (_NUM_COLUMNS - 1 - len(values)))
    line_numbers.append(line_no)
  if not rows:
    raise SbuFormatError(path, None, "file has no frames (no data rows)")
  normalized, bad = tokenizer.cast_finite(
      np.array(rows, np.float64).reshape(len(rows), 2, NUM_JOINTS, 3),
      np.float32)
  if bad.any():
    row = int(np.argwhere(bad)[0][0])
    raise SbuFormatError(path, line_numbers[row],
                         "NaN or infinite coordinate (in float32)")
  # The pixel and metre conversions scale the values; a huge but finite
  # coordinate must not turn into inf there either.
  # 45 zeros: the person is not tracked in that frame.
  present = np.any(normalized != 0, axis=(2, 3))
  if not present.any():
    raise SbuFormatError(path, None, "no frame holds a tracked person (every"
                         " coordinate is 0)")
  with np.errstate(over="ignore", invalid="ignore"):
    xyz, pixels = denormalize(normalized), to_pixels(normalized, camera)
  xyz[~present], pixels[~present] = 0.0, 0.0
  # NaN: a tracked joint at depth <= 0, no pixel (set to 0 below);
  # infinite: an overflow.
  bad = ~(np.isfinite(xyz).reshape(len(rows), -1).all(-1) &
          ~np.isinf(pixels).reshape(len(rows), -1).any(-1))
  if bad.any():
    raise SbuFormatError(path, line_numbers[int(np.argmax(bad))],
                         "coordinate too large: infinite once converted to"
                         " metres or pixels (float32)")
  pixels[np.isnan(pixels)] = 0.0
  return SbuSkeletons(
      frame_index=np.array(frames, np.int64),
      normalized=normalized,
      xyz=xyz,
      color_xy_px=pixels,
      present=present,
  )


def format_rows(frame_index: np.ndarray, normalized: np.ndarray) -> str:
  """``skeleton_pos.txt`` content (inverse of :func:`load_skeleton_file`).

  Args:
    frame_index: int ``[T]`` frame numbers (they name ``rgb_NNNNNN.png``).
    normalized: float ``[T, 2, 15, 3]`` normalised values (zeros: person
      not tracked).
  """
  normalized = np.asarray(normalized, np.float32)
  if normalized.shape != (len(frame_index), 2, NUM_JOINTS, 3):
    raise ValueError(f"normalized has shape {normalized.shape}, expected"
                     f" [{len(frame_index)}, 2, {NUM_JOINTS}, 3]")
  lines = []
  for frame, values in zip(frame_index, normalized.reshape(
      len(frame_index), -1)):
    # 9 significant digits round-trip any float32 exactly.
    lines.append(",".join([str(int(frame))] + [f"{v:.9g}" for v in values]))
  return "\n".join(lines) + "\n"


@dataclasses.dataclass(frozen=True)
class SequenceId:
  """Where a sequence sits in the dataset tree (all numbers 1-based)."""

  set_name: str
  subject_pair: tuple[int, int]
  action: int
  sequence: int

  @property
  def label(self) -> int:
    return self.action - 1

  @property
  def name(self) -> str:
    return f"{self.set_name}_a{self.action:02d}_{self.sequence:03d}"


def parse_sequence_dir(sequence_dir: str | os.PathLike) -> SequenceId:
  """Parses ``.../sXXsYY/AA/SSS`` into its set, action and sequence.

  Raises:
    ValueError: the last three path components do not follow that layout.
  """
  sequence_dir = Path(sequence_dir)
  seq_part = sequence_dir.name
  action_part = sequence_dir.parent.name
  set_part = sequence_dir.parent.parent.name
  set_match = _SET_RE.match(set_part)
  action_match = _ACTION_RE.match(action_part)
  seq_match = _SEQUENCE_RE.match(seq_part)
  if not (set_match and action_match and seq_match):
    raise ValueError(
        f"{sequence_dir}: not an SBU sequence directory (expected"
        " .../sXXsYY/<action 01-08>/<sequence 001..>)")
  action = int(action_match.group(1))
  if not 1 <= action <= len(SBU_CLASS_NAMES):
    raise ValueError(
        f"{sequence_dir}: action folder {action_part!r} is outside 01-"
        f"{len(SBU_CLASS_NAMES):02d}")
  return SequenceId(
      set_name=set_part,
      subject_pair=(int(set_match.group(1)), int(set_match.group(2))),
      action=action,
      sequence=int(seq_match.group(1)),
  )


def load_clip(sequence_dir: str | os.PathLike,
              camera: ColorCamera | None = None) -> clip_lib.Clip:
  """Reads ``<sequence_dir>/skeleton_pos.txt`` into a :class:`Clip`.

  Hand pixels are projected with ``camera``; None: :func:`color_camera`
  (the gin-bound intrinsics, Kinect v1 defaults unless bound).

  A person is present where the file tracks them (SBU always has two
  actors, but a tracker can lose one).
  ``Clip.name`` is ``sXXsYY_aAA_SSS``; metadata holds ``set_name``
  (``"s01s02"``), ``subject_pair`` (``(1, 2)``), ``action`` (1-based),
  ``sequence`` (1-based) and ``frame_index`` (tuple of ``T`` ints: the RGB
  frame number of each clip frame, for :func:`frame_path`).

  Raises:
    ValueError: the directory does not follow the dataset layout.
    SbuFormatError: the skeleton file is missing or malformed.
  """
  sequence_dir = Path(sequence_dir)
  seq_id = parse_sequence_dir(sequence_dir)
  data = load_skeleton_file(sequence_dir / SKELETON_FILE,
                            color_camera() if camera is None else camera)
  present = data.present
  # A joint without depth has no pixel: its hand gets no crop.
  hand_xy, hand_valid = clip_lib.hands_from_people(
      data.color_xy_px, present, skeletons.SBU,
      joint_valid=data.xyz[..., 2] > 0)
  if np.any(np.diff(data.frame_index) <= 0):
    logging.warning("%s: frame numbers are not strictly increasing",
                    seq_id.name)
  return clip_lib.Clip(
      name=seq_id.name,
      label=seq_id.label,
      skeleton=skeletons.SBU.name,
      xyz=data.xyz,
      present=present,
      hand_xy_px=hand_xy,
      hand_valid=hand_valid,
      image_size=RGB_SIZE,
      metadata={
          "set_name": seq_id.set_name,
          "subject_pair": seq_id.subject_pair,
          "action": seq_id.action,
          "sequence": seq_id.sequence,
          "frame_index": tuple(int(f) for f in data.frame_index),
      },
  )


def list_sequences(root: str | os.PathLike) -> list[Path]:
  """Sorted sequence directories ``<root>/sXXsYY/AA/SSS`` holding a skeleton.

  Directories that do not follow the layout are ignored.

  Raises:
    FileNotFoundError: ``root`` is not a directory.
  """
  root = Path(root)
  if not root.is_dir():
    raise FileNotFoundError(f"SBU root {root} does not exist")
  found = []
  for skeleton_file in root.glob(f"*/*/*/{SKELETON_FILE}"):
    seq_dir = skeleton_file.parent
    if (_SET_RE.match(seq_dir.parent.parent.name) and
        _ACTION_RE.match(seq_dir.parent.name) and
        _SEQUENCE_RE.match(seq_dir.name)):
      found.append(seq_dir)
  return sorted(found)


def frame_path(sequence_dir: str | os.PathLike, frame_index: int) -> Path:
  """The RGB image of frame ``frame_index`` (the file's frame number)."""
  return Path(sequence_dir) / f"rgb_{int(frame_index):06d}.png"


def clip_frame_paths(sequence_dir: str | os.PathLike, clip: clip_lib.Clip
                     ) -> list[Path]:
  """The RGB image of each frame of ``clip`` (from :func:`load_clip`)."""
  return [frame_path(sequence_dir, f) for f in clip.metadata["frame_index"]]


def fold_split(set_name: str, fold: int) -> str:
  """``"test"`` if ``set_name`` is in fold ``fold`` (1-5), else ``"train"``.

  Raises:
    ValueError: unknown fold or set name.
  """
  if not 1 <= fold <= NUM_FOLDS:
    raise ValueError(f"SBU fold must be 1..{NUM_FOLDS}, got {fold}")
  if set_name not in SBU_SETS:
    raise ValueError(
        f"unknown SBU set {set_name!r}; expected one of {list(SBU_SETS)}")
  return "test" if set_name in SBU_FOLDS[fold - 1] else "train"


def _fold_protocol(fold: int) -> protocols.Protocol:
  return protocols.Protocol(
      f"sbu_fold{fold}", "set_name",
      f"SBU 5-fold cross-validation, fold {fold} sets are the test split",
      lambda set_name: fold_split(str(set_name), fold))


PROTOCOLS = tuple(_fold_protocol(k) for k in range(1, NUM_FOLDS + 1))
