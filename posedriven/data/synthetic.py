"""A synthetic dataset in the NTU RGB+D on-disk layout, for demos and tests.

Nothing can be downloaded here, so the end-to-end demo and the tests run on
data this module draws. It is written exactly like NTU RGB+D::

  <root>/nturgb+d_skeletons/S001C001P001R001A001.skeleton
  <root>/nturgb+d_rgb/S001C001P001R001A001_rgb.avi    (MJPG, 30 fps)
  <root>/synthetic_meta.json                           (ground truth)

so every NTU reader works on it unchanged, except that ``colorX/colorY`` are
pixels of the written videos (``image_size`` in the meta file), not of a
1920x1080 frame; :func:`load_clip` sets ``Clip.image_size`` accordingly.

Why the data needs the paper's mechanism (Baradel et al., BMVC 2018, eq. 3-6):

* A class is a *motion* (what the active hand does) times an *object* (what
  it holds): 4 x 2 = 8 classes. Pose alone sees the motion but never the
  object, so it is capped near 50% accuracy.
* Every clip shows both class objects: the active hand holds the class
  object, another hand holds the other one, and in two-person clips the
  remaining two hands hold a pair that is symmetric in the two objects (a
  green-triangle distractor, both objects, or nothing). Summing, averaging
  or concatenating the hands' glimpse features, or looking at the whole
  frame, therefore tells nothing about which object matters; only knowing
  which hand moves - from the pose - does (spatial attention conditioned on
  pose features).
* Objects are visible only during a window of about 60% of the clip: the
  active hand's window is its motion phase, the other hands' windows are
  drawn from the same distribution, so the timing of a crop's content does
  not reveal the active hand either, and temporal attention has frames to
  prefer.
* Objects are cards a few pixels larger than a hand crop, so a glimpse
  centred on a hand sees the object only, never the arm or the background
  that would tell a moving hand from a still one; where cards overlap they
  occlude each other in a random order. Their patterns differ in colour,
  shape and texture (red disc on white, blue/yellow stripes, green triangle
  on white), so even a randomly initialised CNN separates them; they stay
  small relative to the frame.

  A probe on the default set with 10 subjects (random 2-layer CNN features
  of the decoded hand crops, mean + max over time, ridge classifier,
  cross-subject) predicts the class object at chance from the sum or the
  concatenation of the 4 hands (51% / 48%) and at 100% from the active
  hand's crops alone.

* With ``uniform_appearance=True`` (what the demo uses) everybody wears the
  same clothes and skin tone. Otherwise the empty-handed glimpses (sleeve,
  skin) identify the subject, and with six training subjects the RGB stream
  memorised its training clips from them instead of learning the objects.
  Measured on the demo: spatial attention highest on the active hand in 21%
  of the test clips with varied looks vs 60% with uniform ones (chance 37%;
  ``benchmarks/attention_on_active_hand.py``).

Camera views C001-C003 film the same performance from yaw 0, +45 and -45
degrees (as NTU's three Kinects do), so cross-view evaluation is meaningful.
Every random choice comes from a generator seeded by ``seed`` and the
sample's own keys, so any clip can be regenerated alone and an interrupted
run resumes to byte-identical files.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Sequence

import cv2
import numpy as np

from posedriven.data import clip as clip_lib
from posedriven.data import ntu
from posedriven.data import skeletons

MOTION_NAMES = ("raise", "push", "wave", "circle")
CLASS_OBJECT_NAMES = ("red_disc", "striped_square")
# Object ids index this tuple; the last kind only ever appears as a
# distractor.
OBJECT_NAMES = CLASS_OBJECT_NAMES + ("green_triangle",)
DISTRACTOR_OBJECT = 2
NO_OBJECT = -1
SYNTHETIC_CLASS_NAMES = tuple(
    f"{m}+{o}" for m in MOTION_NAMES for o in CLASS_OBJECT_NAMES)
NUM_CLASSES = len(SYNTHETIC_CLASS_NAMES)

SKELETON_DIR = "nturgb+d_skeletons"
RGB_DIR = "nturgb+d_rgb"
META_FILE = "synthetic_meta.json"
META_FORMAT = "posedriven-synthetic-ntu/1"
FPS = 30.0
# Kinect v2 body IDs are 64-bit tracking ids of this magnitude.
BODY_ID_BASE = 72057594037931648
CAMERA_YAW_DEG = {1: 0.0, 2: 45.0, 3: -45.0}

# NTU colour intrinsics for a 1920x1080 frame (focal length in pixels), and
# the Kinect v2 depth camera (512x424).
_COLOR_FOCAL_1920 = 1050.0
_DEPTH_FOCAL = 365.0
# NTU crops 50x50 px hand glimpses in 1920-wide frames (paper, section 4).
_NTU_CROP_PX = 50
MIN_CROP_SIZE_PX = 24
# Objects are cards a few pixels larger than a hand crop, so a crop centred
# on the hand sees only the object: the glimpse then carries no context
# (arm angle, background) that could tell the moving hand from the others.
_OBJECT_MARGIN = 0.1

# Drawing colours, BGR.
_RED = (40, 30, 225)
_BLUE = (215, 70, 20)
_YELLOW = (20, 215, 240)
_GREEN = (40, 190, 30)
_CARD = (235, 235, 235)
_OUTLINE = (25, 25, 25)
# The colour a decoded frame shows at an object's centre (tests, checks).
OBJECT_CENTER_BGR = {0: _RED, 1: _BLUE, 2: _GREEN}

# Seed-sequence tags keep the generators of different things independent.
_TAG_PERFORMANCE = 1
_TAG_SUBJECT = 2
_TAG_VIEW = 3

_J = {name: i for i, name in enumerate(skeletons.KINECT_V2.joint_names)}
_HEIGHT_REF = 1.75
# Kinect v2 template body in metres: x towards the person's right, y up from
# the floor, z backwards (away from camera 1). Arm joints are placed by IK.
_TEMPLATE = {
    "SpineBase": (0.0, 0.98, 0.0),
    "SpineMid": (0.0, 1.22, 0.01),
    "Neck": (0.0, 1.52, 0.0),
    "Head": (0.0, 1.64, -0.01),
    "ShoulderLeft": (-0.19, 1.43, 0.01),
    "ShoulderRight": (0.19, 1.43, 0.01),
    "HipLeft": (-0.09, 0.95, 0.0),
    "KneeLeft": (-0.10, 0.52, -0.01),
    "AnkleLeft": (-0.10, 0.09, 0.02),
    "FootLeft": (-0.11, 0.03, -0.09),
    "HipRight": (0.09, 0.95, 0.0),
    "KneeRight": (0.10, 0.52, -0.01),
    "AnkleRight": (0.10, 0.09, 0.02),
    "FootRight": (0.11, 0.03, -0.09),
    "SpineShoulder": (0.0, 1.44, 0.01),
}
_UPPER_ARM = 0.29
_FOREARM = 0.25
_HAND = 0.08
_HAND_TIP = 0.07
# Joints whose Kinect orientation is reported as 0 0 0 0 (no child bone).
_LEAF_JOINTS = ("Head", "FootLeft", "FootRight", "HandTipLeft", "ThumbLeft",
                "HandTipRight", "ThumbRight")


def class_index(motion: int, obj: int) -> int:
  """0-based label of ``motion`` x class ``obj`` (A001 is label 0)."""
  return motion * len(CLASS_OBJECT_NAMES) + obj


def class_parts(label: int) -> tuple[int, int]:
  """Inverse of :func:`class_index`: ``(motion, object)``."""
  if not 0 <= label < NUM_CLASSES:
    raise ValueError(
        f"label {label} is not a synthetic class (0..{NUM_CLASSES - 1})")
  return divmod(label, len(CLASS_OBJECT_NAMES))


def crop_size_for_width(width: int) -> int:
  """Hand glimpse size in pixels: NTU's 50 px scaled to ``width``, >= 24."""
  return max(MIN_CROP_SIZE_PX,
             int(round(_NTU_CROP_PX * width / ntu.RGB_SIZE[0])))


def color_intrinsics(image_size: tuple[int, int]
                     ) -> tuple[float, float, float, float]:
  """``(fx, fy, cx, cy)`` of NTU's colour camera scaled to ``image_size``."""
  width, height = image_size
  return (_COLOR_FOCAL_1920 * width / ntu.RGB_SIZE[0],
          _COLOR_FOCAL_1920 * height / ntu.RGB_SIZE[1], width / 2.0,
          height / 2.0)


def project_color(xyz: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
  """Camera space ``[..., 3]`` (metres) to colour pixels ``[..., 2]``.

  Kinect camera space has y up and x towards the right of the image, so
  colorY grows as y falls.
  """
  fx, fy, cx, cy = color_intrinsics(image_size)
  z = xyz[..., 2]
  return np.stack([cx + fx * xyz[..., 0] / z, cy - fy * xyz[..., 1] / z], -1)


def project_depth(xyz: np.ndarray) -> np.ndarray:
  """Camera space ``[..., 3]`` to 512x424 depth-frame pixels ``[..., 2]``."""
  z = xyz[..., 2]
  return np.stack([ntu.DEPTH_SIZE[0] / 2 + _DEPTH_FOCAL * xyz[..., 0] / z,
                   ntu.DEPTH_SIZE[1] / 2 - _DEPTH_FOCAL * xyz[..., 1] / z], -1)


# ----------------------------------------------------------------------------
# Performances: what the people do, in world coordinates, independent of view.


@dataclasses.dataclass
class Person:
  """Appearance of one person: body height and clothes colours (BGR)."""

  height_m: float
  shirt_bgr: tuple[int, int, int]
  trousers_bgr: tuple[int, int, int]
  skin_bgr: tuple[int, int, int]


@dataclasses.dataclass
class Performance:
  """One acted sample, shared by all camera views.

  Attributes:
    xyz_world: float64 ``[T, P, 25, 3]`` joints in world metres (y up).
    people: appearance of each of the ``P`` (1 or 2) people.
    body_ids: ``P`` Kinect body IDs.
    motion: index into :data:`MOTION_NAMES`.
    class_object: index into :data:`CLASS_OBJECT_NAMES`.
    active_hand: index into :data:`skeletons.HAND_NAMES`.
    hand_objects: ``[4]`` object id held by each hand (-1 none).
    hand_windows: ``[4, 2]`` frames ``[start, stop)`` an object is visible.
    draw_order: hands in the order their objects are drawn (later ones cover
      earlier ones where they overlap).
  """

  xyz_world: np.ndarray
  people: list[Person]
  body_ids: list[int]
  motion: int
  class_object: int
  active_hand: int
  hand_objects: list[int]
  hand_windows: list[tuple[int, int]]
  draw_order: list[int]

  @property
  def num_frames(self) -> int:
    return int(self.xyz_world.shape[0])

  @property
  def num_people(self) -> int:
    return int(self.xyz_world.shape[1])


def _muted_bgr(rng: np.random.Generator, value: tuple[int, int],
               saturation: tuple[int, int] = (20, 90)) -> tuple[int, int, int]:
  """A low-saturation colour, far from the saturated object colours."""
  hsv = np.array([[[rng.integers(0, 180), rng.integers(*saturation),
                    rng.integers(*value)]]], np.uint8)
  return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


_SKIN_TONES_BGR = ((170, 195, 235), (140, 170, 215), (100, 135, 190),
                   (70, 100, 150), (50, 70, 110))


def _random_person(rng: np.random.Generator) -> Person:
  skin = _SKIN_TONES_BGR[int(rng.integers(len(_SKIN_TONES_BGR)))]
  return Person(
      height_m=float(rng.uniform(1.55, 1.92)),
      shirt_bgr=_muted_bgr(rng, (60, 200)),
      trousers_bgr=_muted_bgr(rng, (40, 140)),
      skin_bgr=tuple(int(c) for c in skin))


def subject_appearance(seed: int, subject: int) -> Person:
  """The fixed look of subject ``subject`` (same in all of their clips)."""
  return _random_person(np.random.default_rng([seed, _TAG_SUBJECT, subject]))


def _smoothstep(x: np.ndarray) -> np.ndarray:
  x = np.clip(x, 0.0, 1.0)
  return x * x * (3.0 - 2.0 * x)


def _envelope(phase: np.ndarray, ramp: float) -> np.ndarray:
  """0 outside the motion, rising over ``ramp`` and falling symmetrically."""
  return _smoothstep(phase / ramp) * _smoothstep((1.0 - phase) / ramp)


def _motion_target(motion: int, phase: np.ndarray, shoulder: np.ndarray,
                   head: np.ndarray, side: float, k: float) -> np.ndarray:
  """Wrist targets ``[T, 3]`` (body frame) of a motion at ``phase`` [T]."""
  one = np.ones_like(phase)
  if motion == 0:  # raise the hand to the side of the head and hold it.
    rel = np.stack([side * 0.22 * one, -0.02 * one, -0.06 * one], -1) * k
    return head + rel
  if motion == 1:  # push forward twice.
    depth = 0.22 + 0.28 * (0.5 - 0.5 * np.cos(4 * np.pi * phase))
    rel = np.stack([-side * 0.03 * one, -0.06 * one, -depth], -1)
  elif motion == 2:  # wave sideways above the shoulder, three times.
    rel = np.stack([side * (0.22 + 0.14 * np.sin(6 * np.pi * phase)),
                    0.28 * one, -0.10 * one], -1)
  elif motion == 3:  # draw two circles in the frontal plane.
    angle = 4 * np.pi * phase
    rel = np.stack([side * (0.06 + 0.15 * np.cos(angle)),
                    -0.10 + 0.15 * np.sin(angle), -0.40 * one], -1)
  else:
    raise ValueError(f"unknown motion {motion}")
  return shoulder + rel * k


def _two_link_ik(shoulder: np.ndarray, target: np.ndarray, upper: float,
                 fore: float, pole: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
  """Elbow and wrist ``[T, 3]`` reaching for ``target``, bending to ``pole``."""
  delta = target - shoulder
  dist = np.linalg.norm(delta, axis=-1, keepdims=True)
  u = delta / np.maximum(dist, 1e-9)
  d = np.clip(dist, abs(upper - fore) + 1e-3, (upper + fore) * 0.995)
  along = (upper**2 - fore**2 + d**2) / (2 * d)
  across = np.sqrt(np.maximum(upper**2 - along**2, 0.0))
  v = pole - np.sum(pole * u, axis=-1, keepdims=True) * u
  v = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)
  return shoulder + u * along + v * across, shoulder + u * d


def _rotate_y(xyz: np.ndarray, degrees: float) -> np.ndarray:
  a = math.radians(degrees)
  c, s = math.cos(a), math.sin(a)
  out = xyz.copy()
  out[..., 0] = c * xyz[..., 0] - s * xyz[..., 2]
  out[..., 2] = s * xyz[..., 0] + c * xyz[..., 2]
  return out


def _body_motion(rng: np.random.Generator, person: Person, num_frames: int,
                 active_side: float | None, motion: int,
                 window: tuple[int, int]) -> np.ndarray:
  """Body-frame joints ``[T, 25, 3]`` of one person.

  Args:
    active_side: -1 (left) or +1 (right) for the hand that performs
      ``motion`` during ``window``; None if this person only idles.
  """
  k = person.height_m / _HEIGHT_REF
  t = np.arange(num_frames, dtype=np.float64)
  body = np.zeros((num_frames, ntu.NUM_JOINTS, 3))
  for name, xyz in _TEMPLATE.items():
    body[:, _J[name]] = np.asarray(xyz) * k
  head = body[:, _J["Head"]]
  for side, suffix in ((-1.0, "Left"), (1.0, "Right")):
    shoulder = body[:, _J["Shoulder" + suffix]]
    rest = shoulder + np.array([side * 0.06, -0.51, -0.04]) * k
    # Idle hands drift a little so that the pose is never perfectly still.
    drift = np.stack([
        0.03 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t / FPS
                       + rng.uniform(0, 2 * np.pi)) for _ in range(3)], -1)
    target = rest + drift * k
    if active_side == side:
      start, stop = window
      phase = (t - start + 0.5) / (stop - start)
      inside = (t >= start) & (t < stop)
      env = np.where(inside, _envelope(phase, 0.3 if motion == 0 else 0.2), 0.0)
      goal = _motion_target(motion, np.clip(phase, 0, 1), shoulder, head,
                            side, k)
      target = target + env[:, None] * (goal - target)
    pole = np.array([side * 0.6, -0.5, 0.5])
    elbow, wrist = _two_link_ik(shoulder, target, _UPPER_ARM * k,
                                _FOREARM * k, pole)
    forearm = (wrist - elbow) / np.linalg.norm(wrist - elbow, axis=-1,
                                               keepdims=True)
    hand = wrist + forearm * _HAND * k
    # The thumb sticks out of the wrist towards the front and the midline.
    out = np.array([-side, 0.0, -1.0])
    thumb_dir = out - np.sum(out * forearm, axis=-1, keepdims=True) * forearm
    thumb_dir /= np.linalg.norm(thumb_dir, axis=-1, keepdims=True)
    body[:, _J["Elbow" + suffix]] = elbow
    body[:, _J["Wrist" + suffix]] = wrist
    body[:, _J["Hand" + suffix]] = hand
    body[:, _J["HandTip" + suffix]] = hand + forearm * _HAND_TIP * k
    body[:, _J["Thumb" + suffix]] = (wrist + forearm * 0.045 * k +
                                     thumb_dir * 0.035 * k)
  # Sway of the whole body and breathing of the upper body.
  sway = rng.uniform(0.005, 0.02) * np.sin(
      2 * np.pi * rng.uniform(0.15, 0.5) * t / FPS + rng.uniform(0, 2 * np.pi))
  body[:, :, 0] += sway[:, None]
  breath = 0.005 * np.sin(2 * np.pi * rng.uniform(0.2, 0.35) * t / FPS +
                          rng.uniform(0, 2 * np.pi))
  upper = body[0, :, 1] > 1.0 * k
  body[:, upper, 1] += breath[:, None]
  # Kinect joint jitter.
  body += rng.normal(0.0, 0.003, body.shape)
  return body


_MIN_FRAMES = 8


def _window(rng: np.random.Generator, num_frames: int) -> tuple[int, int]:
  """About the middle 60% of a clip, with random start and length."""
  start = int(round(num_frames * rng.uniform(0.12, 0.25)))
  length = int(round(num_frames * rng.uniform(0.55, 0.65)))
  return start, min(num_frames, start + max(length, 4))


# Clothes and skin everybody wears with ``uniform_appearance``.
UNIFORM_LOOK = dict(shirt_bgr=(120, 120, 120), trousers_bgr=(80, 80, 80),
                    skin_bgr=_SKIN_TONES_BGR[1])


def make_performance(seed: int, setup: int, subject: int, replication: int,
                     action: int, *,
                     num_frames_range: tuple[int, int] = (28, 40),
                     second_person_probability: float = 0.5,
                     uniform_appearance: bool = False) -> Performance:
  """Draws the performance of one sample (all camera views share it).

  Args:
    seed: dataset seed.
    setup, subject, replication: NTU sample keys (1-based).
    action: 1-based synthetic action id, ``A001``..``A008``.
    num_frames_range: inclusive range of the clip length (lo >= 8).
    second_person_probability: chance that a second person stands beside.
    uniform_appearance: everybody wears the same clothes and skin tone
      (heights still differ), so that empty-handed glimpses (arm, sleeve)
      do not tell who the subject is: with few training subjects an RGB
      stream otherwise memorises its subjects' looks instead of learning the
      objects.
  """
  motion, class_object = class_parts(action - 1)
  rng = np.random.default_rng(
      [seed, _TAG_PERFORMANCE, setup, subject, replication, action])
  lo, hi = num_frames_range
  # 8 frames leave room for empty-handed frames before and after the motion.
  if not _MIN_FRAMES <= lo <= hi:
    raise ValueError(f"num_frames_range must be {_MIN_FRAMES} <= lo <= hi,"
                     f" got {num_frames_range}")
  if not 0.0 <= second_person_probability <= 1.0:
    raise ValueError("second_person_probability must lie in [0, 1], got"
                     f" {second_person_probability}")
  num_frames = int(rng.integers(lo, hi + 1))
  two_people = bool(rng.random() < second_person_probability)
  people = [subject_appearance(seed, subject)]
  if two_people:
    people.append(_random_person(rng))
  if uniform_appearance:
    people = [dataclasses.replace(p, **UNIFORM_LOOK) for p in people]
  num_hands = 2 * len(people)
  active_hand = int(rng.integers(num_hands))

  # Hands' objects: the class object, the other class object, and (two
  # people) a pair symmetric in the class objects, so the multiset of visible
  # objects never depends on the class.
  others = [1 - class_object]
  if two_people:
    pairs = [(DISTRACTOR_OBJECT, DISTRACTOR_OBJECT), (0, 1),
             (DISTRACTOR_OBJECT, NO_OBJECT), (NO_OBJECT, NO_OBJECT)]
    others += list(pairs[int(rng.integers(len(pairs)))])
  others = [others[i] for i in rng.permutation(len(others))]
  hand_objects = [NO_OBJECT] * skeletons.NUM_HANDS
  windows = [(0, 0)] * skeletons.NUM_HANDS
  motion_window = _window(rng, num_frames)
  for hand in range(num_hands):
    if hand == active_hand:
      hand_objects[hand], windows[hand] = class_object, motion_window
    else:
      hand_objects[hand] = others.pop()
      window = _window(rng, num_frames)
      windows[hand] = window if hand_objects[hand] != NO_OBJECT else (0, 0)

  # Person 1 faces camera 1; person 2 stands beside, turned a little.
  spacing = rng.uniform(0.8, 1.0) * rng.choice([-1.0, 1.0])
  xyz = np.zeros((num_frames, len(people), ntu.NUM_JOINTS, 3))
  for p, person in enumerate(people):
    side = None
    if active_hand // 2 == p:
      side = -1.0 if active_hand % 2 == 0 else 1.0
    body = _body_motion(rng, person, num_frames, side, motion, motion_window)
    yaw = rng.uniform(-10, 10) - (15.0 * np.sign(spacing) if p == 1 else 0.0)
    offset = np.array([
        (spacing * (p - 0.5) if two_people else 0.0) + rng.uniform(-0.15, 0.15),
        0.0, rng.uniform(-0.3, 0.3)])
    xyz[:, p] = _rotate_y(body, yaw) + offset
  body_id = BODY_ID_BASE + int(rng.integers(0, 5000))
  body_ids = [body_id + p * int(rng.integers(1, 50))
              for p in range(len(people))]
  # Overlapping objects occlude each other in a random order: if the class
  # object were always on top, a sum of the hands' glimpses would see more of
  # it than of the other object.
  draw_order = [int(h) for h in rng.permutation(skeletons.NUM_HANDS)]
  return Performance(
      xyz_world=xyz, people=people, body_ids=body_ids, motion=motion,
      class_object=class_object, active_hand=active_hand,
      hand_objects=hand_objects, hand_windows=windows, draw_order=draw_order)


# ----------------------------------------------------------------------------
# Camera views: skeleton files.


@dataclasses.dataclass(frozen=True)
class View:
  """A camera of one setup: yaw around the scene, distance, height (m)."""

  yaw_deg: float
  distance_m: float
  height_m: float


def camera_view(seed: int, setup: int, camera: int) -> View:
  """The fixed placement of ``camera`` in ``setup``."""
  if camera not in CAMERA_YAW_DEG:
    raise ValueError(
        f"camera {camera} is not a synthetic view; expected one of"
        f" {sorted(CAMERA_YAW_DEG)}")
  rng = np.random.default_rng([seed, _TAG_VIEW, setup, camera])
  return View(CAMERA_YAW_DEG[camera], float(rng.uniform(2.9, 3.3)),
              float(rng.uniform(0.9, 1.1)))


def world_to_camera(xyz_world: np.ndarray, view: View) -> np.ndarray:
  """World ``[..., 3]`` (y up, floor 0) to Kinect camera space (metres)."""
  xyz = _rotate_y(xyz_world, view.yaw_deg)
  xyz[..., 1] -= view.height_m
  xyz[..., 2] += view.distance_m
  return xyz


def _bone_quaternions(xyz: np.ndarray) -> np.ndarray:
  """Kinect-like joint orientations ``[..., 25, 4]`` (W, X, Y, Z).

  Kinect reports each joint's rotation taking +y onto the bone towards its
  child; leaves are reported as zeros. We use the shortest such rotation.
  """
  out = np.zeros(xyz.shape[:-1] + (4,))
  for j in range(ntu.NUM_JOINTS):
    if skeletons.KINECT_V2.joint_names[j] in _LEAF_JOINTS:
      continue
    child = skeletons.KINECT_V2.children(j)[0]
    bone = xyz[..., child, :] - xyz[..., j, :]
    bone /= np.maximum(np.linalg.norm(bone, axis=-1, keepdims=True), 1e-9)
    # q = normalise(1 + y.b, y x b) with y = (0, 1, 0).
    q = np.stack([1.0 + bone[..., 1], bone[..., 2], np.zeros_like(bone[..., 0]),
                  -bone[..., 0]], -1)
    out[..., j, :] = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True),
                                    1e-9)
  return out


def skeleton_sequence(name: str, performance: Performance, view: View,
                      image_size: tuple[int, int]) -> ntu.SkeletonSequence:
  """The ``.skeleton`` content of ``performance`` seen from ``view``."""
  xyz = world_to_camera(performance.xyz_world, view)
  t, p = xyz.shape[:2]
  hand_state = np.full((t, p, 2), 2, np.int8)  # Kinect HandState: 2 open.
  for hand in range(2 * p):
    start, stop = performance.hand_windows[hand]
    if performance.hand_objects[hand] != NO_OBJECT:
      hand_state[start:stop, hand // 2, hand % 2] = 3  # closed on an object.
  spine = xyz[:, :, _J["SpineMid"]]
  lean = np.stack([(spine[..., 0] - spine[:1, :, 0]) * 3.0,
                   np.full((t, p), 0.05)], -1)
  xyz32 = xyz.astype(np.float32)
  return ntu.SkeletonSequence(
      name=name,
      body_ids=np.array(performance.body_ids, np.uint64),
      present=np.ones((t, p), bool),
      xyz=xyz32,
      depth_xy=project_depth(xyz32.astype(np.float64)).astype(np.float32),
      color_xy=project_color(xyz32.astype(np.float64),
                             image_size).astype(np.float32),
      orientation=_bone_quaternions(xyz).astype(np.float32),
      tracking_state=np.full((t, p, ntu.NUM_JOINTS), 2, np.int8),
      clipped_edges=np.zeros((t, p), np.int32),
      hand_confidence=np.ones((t, p, 2), np.int8),
      hand_state=hand_state,
      is_restricted=np.zeros((t, p), np.int8),
      lean_xy=np.clip(lean, -1, 1).astype(np.float32),
      body_tracking_state=np.full((t, p), 2, np.int8),
  )


def hand_pixels(seq: ntu.SkeletonSequence) -> np.ndarray:
  """Hand colour pixels ``[T, 4, 2]`` in HAND_NAMES order (0 if absent)."""
  t = seq.num_frames
  out = np.zeros((t, skeletons.NUM_HANDS, 2), np.float32)
  hands = [skeletons.KINECT_V2.left_hand, skeletons.KINECT_V2.right_hand]
  for p in range(min(seq.num_bodies, skeletons.MAX_PEOPLE)):
    out[:, 2 * p:2 * p + 2] = seq.color_xy[:, p, hands]
  return out


# ----------------------------------------------------------------------------
# Video frames.


def object_size_px(crop_size_px: int) -> int:
  """Side of a drawn object card: a hand crop plus a margin on each side."""
  return crop_size_px + 2 * max(3, int(round(_OBJECT_MARGIN * crop_size_px)))


def draw_object(image: np.ndarray, object_id: int, center: tuple[int, int],
                size: int) -> None:
  """Draws object ``object_id``, a ``size`` px card, on ``center`` (in place).

  The card patterns differ in colour, shape and texture: a red disc on white,
  blue/yellow stripes, a green triangle on white.
  """
  x, y = center
  half = size // 2
  x0, y0, x1, y1 = x - half, y - half, x + half, y + half
  if object_id == 0:
    cv2.rectangle(image, (x0, y0), (x1, y1), _CARD, -1)
    cv2.circle(image, (x, y), int(round(0.43 * size)), _RED, -1, cv2.LINE_AA)
  elif object_id == 1:
    # An odd number of horizontal stripes, >= 5 px each so that JPEG chroma
    # subsampling keeps them; the middle one (at the hand) is blue.
    stripes = max(3, (size // 6) | 1)
    edges = np.linspace(y0, y1 + 1, stripes + 1).round().astype(int)
    for i in range(stripes):
      cv2.rectangle(image, (x0, int(edges[i])), (x1, int(edges[i + 1]) - 1),
                    _BLUE if (i - stripes // 2) % 2 == 0 else _YELLOW, -1)
  elif object_id == DISTRACTOR_OBJECT:
    cv2.rectangle(image, (x0, y0), (x1, y1), _CARD, -1)
    # Upward triangle whose centroid is the hand.
    third = half * 2 // 3
    pts = np.array([[x, y - 2 * third], [x - half + 1, y + third],
                    [x + half - 1, y + third]], np.int32)
    cv2.fillPoly(image, [pts], _GREEN, cv2.LINE_AA)
  else:
    raise ValueError(f"unknown object id {object_id}")
  cv2.rectangle(image, (x0, y0), (x1, y1), _OUTLINE, 1)


def make_background(seed: int, setup: int, camera: int,
                    image_size: tuple[int, int]) -> np.ndarray:
  """A muted, textured room (uint8 BGR ``[H, W, 3]``), fixed per view."""
  width, height = image_size
  rng = np.random.default_rng([seed, _TAG_VIEW, setup, camera, 1])
  wall = np.array(_muted_bgr(rng, (120, 200)), np.float32)
  floor = np.array(_muted_bgr(rng, (60, 120)), np.float32)
  horizon = int(height * rng.uniform(0.55, 0.7))
  ys = np.arange(height, dtype=np.float32)[:, None, None]
  gradient = 1.0 + 0.15 * (ys / height - 0.5)
  image = np.where(ys < horizon, wall, floor) * gradient
  image = np.broadcast_to(image, (height, width, 3)).copy()
  # A few pieces of furniture (doors, cabinets) on the wall.
  for _ in range(int(rng.integers(2, 5))):
    w = int(width * rng.uniform(0.08, 0.25))
    h = int(height * rng.uniform(0.2, 0.5))
    x0 = int(rng.integers(0, max(1, width - w)))
    y0 = max(0, horizon - h + int(height * rng.uniform(0.0, 0.1)))
    image[y0:y0 + h, x0:x0 + w] = np.array(_muted_bgr(rng, (50, 170)),
                                           np.float32)
  # Blotches and grain mostly in brightness: colour noise would make
  # object-like colours appear in the background.
  coarse = (rng.normal(0.0, 16.0, (9, 16, 1)) +
            rng.normal(0.0, 4.0, (9, 16, 3))).astype(np.float32)
  image += cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
  image += rng.normal(0.0, 3.0, (height, width, 1)).astype(np.float32)
  return np.clip(image, 0, 255).astype(np.uint8)


_BONES = tuple(skeletons.KINECT_V2.edges)
_ARM_JOINTS = {_J[n] for n in ("ShoulderLeft", "ElbowLeft", "WristLeft",
                               "HandLeft", "ShoulderRight", "ElbowRight",
                               "WristRight", "HandRight", "HandTipLeft",
                               "ThumbLeft", "HandTipRight", "ThumbRight")}
_LEG_JOINTS = {_J[n] for n in ("HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
                               "HipRight", "KneeRight", "AnkleRight",
                               "FootRight")}


def _draw_person(image: np.ndarray, xy: np.ndarray, z: np.ndarray,
                 person: Person, focal: float) -> None:
  """A thick stick figure from joint pixels ``xy`` [25, 2], depths ``z``."""
  pts = np.round(xy).astype(np.int32)

  def width(metres: float, joint: int) -> int:
    return max(1, int(round(metres * focal / z[joint])))

  torso = pts[[_J["ShoulderLeft"], _J["ShoulderRight"], _J["HipRight"],
               _J["HipLeft"]]]
  cv2.fillConvexPoly(image, torso, person.shirt_bgr, cv2.LINE_AA)
  for parent, child in _BONES:
    if child in _LEG_JOINTS:
      color, metres = person.trousers_bgr, 0.12
    elif child in _ARM_JOINTS:
      color, metres = person.shirt_bgr, 0.08
      if child in (_J["HandTipLeft"], _J["HandTipRight"], _J["ThumbLeft"],
                   _J["ThumbRight"], _J["HandLeft"], _J["HandRight"]):
        color, metres = person.skin_bgr, 0.04
    elif child in (_J["Head"], _J["Neck"]):
      color, metres = person.skin_bgr, 0.08
    else:
      color, metres = person.shirt_bgr, 0.14
    cv2.line(image, tuple(pts[parent]), tuple(pts[child]), color,
             width(metres, child), cv2.LINE_AA)
  head = _J["Head"]
  cv2.circle(image, tuple(pts[head]), width(0.11, head), person.skin_bgr, -1,
             cv2.LINE_AA)


def render_frames(performance: Performance, seq: ntu.SkeletonSequence,
                  background: np.ndarray, object_size: int
                  ) -> Iterable[np.ndarray]:
  """Yields the BGR frames of a view: people, then objects on the hands."""
  height, width = background.shape[:2]
  fx = color_intrinsics((width, height))[0]
  hands = np.round(hand_pixels(seq)).astype(int)
  for t in range(seq.num_frames):
    image = background.copy()
    depth = seq.xyz[t, :, _J["SpineMid"], 2]
    for p in np.argsort(-depth, kind="stable"):
      _draw_person(image, seq.color_xy[t, p], seq.xyz[t, p, :, 2],
                   performance.people[p], fx)
    for hand in performance.draw_order:
      start, stop = performance.hand_windows[hand]
      obj = performance.hand_objects[hand]
      if obj != NO_OBJECT and start <= t < stop:
        draw_object(image, obj, (int(hands[t, hand, 0]),
                                 int(hands[t, hand, 1])), object_size)
    yield image


def _open_writer(tmp: Path, image_size: tuple[int, int]) -> cv2.VideoWriter:
  fourcc = cv2.VideoWriter_fourcc(*"MJPG")
  # FFmpeg's MJPEG encoder makes files ~4x smaller than OpenCV's built-in
  # one; the built-in one is the fallback for builds without FFmpeg.
  for api in (cv2.CAP_FFMPEG, cv2.CAP_OPENCV_MJPEG):
    writer = cv2.VideoWriter(str(tmp), api, fourcc, FPS, image_size)
    if writer.isOpened():
      if api != cv2.CAP_FFMPEG:
        logging.warning("%s: OpenCV has no FFmpeg writer; using its built-in"
                        " MJPEG encoder (larger files)", tmp.name)
      return writer
  raise OSError(f"{tmp.name}: OpenCV cannot open an MJPG AVI writer")


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray],
                image_size: tuple[int, int]) -> int:
  """Writes an MJPG AVI at :data:`FPS` atomically; returns the frame count."""
  path = Path(path)
  # OpenCV picks the container from the extension, so the temporary name
  # keeps ".avi".
  tmp = path.with_name(path.stem + ".tmp.avi")
  writer = _open_writer(tmp, image_size)
  count = 0
  try:
    for frame in frames:
      writer.write(frame)
      count += 1
  finally:
    writer.release()
  os.replace(tmp, path)
  return count


# ----------------------------------------------------------------------------
# Dataset.


def sample_name(setup: int, camera: int, subject: int, replication: int,
                action: int) -> str:
  return str(ntu.SampleName(setup, camera, subject, replication, action))


def skeleton_path(root: str | os.PathLike, name: str) -> Path:
  return Path(root) / SKELETON_DIR / f"{name}.skeleton"


def video_path(root: str | os.PathLike, name: str) -> Path:
  return Path(root) / RGB_DIR / f"{name}_rgb.avi"


def _temp_paths(root: Path, name: str) -> list[Path]:
  skel, video = skeleton_path(root, name), video_path(root, name)
  return [skel.with_name(skel.name + ".tmp"),
          video.with_name(video.stem + ".tmp.avi")]


def _clip_meta(performance: Performance, seq: ntu.SkeletonSequence,
               name: str) -> dict[str, Any]:
  label = class_index(performance.motion, performance.class_object)
  hands = []
  for h in range(skeletons.NUM_HANDS):
    obj = performance.hand_objects[h]
    hands.append({
        "object": obj,
        "object_name": OBJECT_NAMES[obj] if obj != NO_OBJECT else None,
        "frames": list(performance.hand_windows[h]),
        "present": h // 2 < performance.num_people,
    })
  return {
      "name": name,
      "label": label,
      "class_name": SYNTHETIC_CLASS_NAMES[label],
      "motion": performance.motion,
      "motion_name": MOTION_NAMES[performance.motion],
      "object": performance.class_object,
      "object_name": OBJECT_NAMES[performance.class_object],
      "active_hand": performance.active_hand,
      "active_hand_name": skeletons.HAND_NAMES[performance.active_hand],
      "motion_frames": list(performance.hand_windows[performance.active_hand]),
      "num_frames": performance.num_frames,
      "num_people": performance.num_people,
      "hands": hands,
      "draw_order": list(performance.draw_order),
      # Where objects are drawn, rounded as drawn, [T][4][2] (0 if absent).
      "hand_xy_px": np.round(hand_pixels(seq)).astype(int).tolist(),
  }


def load_meta(root: str | os.PathLike) -> dict[str, Any]:
  """Reads ``<root>/synthetic_meta.json``."""
  path = Path(root) / META_FILE
  try:
    return json.loads(path.read_text())
  except FileNotFoundError:
    raise FileNotFoundError(
        f"{path} not found: {root} is not a synthetic dataset"
        " (make one with tools/make_synthetic.py)") from None


class ObjectBox(NamedTuple):
  """A drawn object: hand index, object id, box ``(x0, y0, x1, y1)`` px."""

  hand: int
  object_id: int
  box: tuple[int, int, int, int]


def object_boxes(clip_meta: dict[str, Any], frame: int,
                 object_size: int) -> list[ObjectBox]:
  """Ground truth: the objects visible in ``frame`` and their pixel boxes.

  Args:
    clip_meta: ``load_meta(root)["clips"][name]``.
    frame: 0-based frame index.
    object_size: ``load_meta(root)["object_size_px"]``.

  Returns:
    One :class:`ObjectBox` per hand holding a visible object, in drawing
    order: a later box covers an earlier one where they overlap. Boxes are
    inclusive pixel bounds (they may extend past the image edge).
  """
  if not 0 <= frame < clip_meta["num_frames"]:
    raise IndexError(
        f"{clip_meta['name']}: frame {frame} out of range"
        f" 0..{clip_meta['num_frames'] - 1}")
  half = object_size // 2
  boxes = []
  for hand in clip_meta["draw_order"]:
    info = clip_meta["hands"][hand]
    start, stop = info["frames"]
    if info["object"] == NO_OBJECT or not start <= frame < stop:
      continue
    x, y = clip_meta["hand_xy_px"][frame][hand]
    boxes.append(ObjectBox(hand, info["object"],
                           (x - half, y - half, x + half, y + half)))
  return boxes


def load_clip(root: str | os.PathLike, name: str) -> clip_lib.Clip:
  """An NTU clip of the synthetic set, with its image size and ground truth.

  ``Clip.metadata`` holds the NTU keys plus ``synthetic`` (the clip's entry
  in the meta file) and ``crop_size_px``.
  """
  meta = load_meta(root)
  if name not in meta["clips"]:
    raise KeyError(f"{name} is not a clip of the synthetic dataset at {root}")
  clip = ntu.load_clip(skeleton_path(root, name))
  metadata = dict(clip.metadata, synthetic=meta["clips"][name],
                  crop_size_px=meta["crop_size_px"])
  return dataclasses.replace(clip, image_size=tuple(meta["image_size"]),
                             metadata=metadata)


def _write_meta(root: Path, meta: dict[str, Any]) -> None:
  # One line per clip keeps the file readable and small ([T][4][2] pixels).
  head = {k: v for k, v in meta.items() if k != "clips"}
  clips = ",\n".join(
      f"  {json.dumps(name)}: "
      + json.dumps(c, sort_keys=True, separators=(",", ":"))
      for name, c in sorted(meta["clips"].items()))
  text = json.dumps(head, indent=1, sort_keys=True)
  text = text[:-2] + ',\n "clips": {\n' + clips + "\n }\n}\n"
  path = root / META_FILE
  tmp = path.with_name(path.name + ".tmp")
  tmp.write_text(text)
  os.replace(tmp, path)


def generate_dataset(root: str | os.PathLike, *, num_subjects: int = 6,
                     cameras: Sequence[int] = (1, 2, 3), replications: int = 1,
                     image_size: tuple[int, int] = (480, 270),
                     num_frames_range: tuple[int, int] = (28, 40),
                     seed: int = 0, setup: int = 1,
                     actions: Sequence[int] | None = None,
                     second_person_probability: float = 0.5,
                     uniform_appearance: bool = False,
                     crop_size_px: int | None = None,
                     log_every: int = 20) -> list[str]:
  """Writes (or completes) the synthetic dataset under ``root``.

  Clips already on disk are skipped, so an interrupted run can be started
  again with the same arguments; the result is byte-identical to an
  uninterrupted one. A clip is complete once its ``.skeleton`` and video
  exist (the video is written first, both atomically, so a listed skeleton
  always has its video).

  Args:
    root: dataset directory (created).
    num_subjects: subjects ``P001``..; each performs every action.
    cameras: views among 1 (yaw 0), 2 (+45 deg), 3 (-45 deg).
    replications: performances per subject and action (``R001``..).
    image_size: ``(width, height)`` of the videos.
    num_frames_range: inclusive range of clip lengths (frames, >= 8).
    seed: dataset seed; every clip derives its own generator from it.
    setup: the ``Sxxx`` setup number.
    actions: 1-based action ids to write (default all of ``A001..A008``).
    second_person_probability: fraction of clips with a second person.
    uniform_appearance: same clothes and skin for everybody (see
      :func:`make_performance`).
    crop_size_px: hand glimpse size recorded in the meta file; default
      :func:`crop_size_for_width`. Objects are drawn to fill most of it.
    log_every: log progress every this many written clips.

  Returns:
    The sample names of the dataset, sorted (written now or before).

  Raises:
    ValueError: bad arguments, or ``root`` holds a synthetic dataset made
      with other arguments (resuming it would mix two datasets).
  """
  root = Path(root)
  width, height = (int(v) for v in image_size)
  if width < 32 or height < 32:
    raise ValueError(f"image_size {image_size} is too small (min 32x32)")
  actions = (list(range(1, NUM_CLASSES + 1)) if actions is None
             else list(actions))
  if any(not 1 <= a <= NUM_CLASSES for a in actions):
    raise ValueError(f"actions must lie in 1..{NUM_CLASSES}, got {actions}")
  for camera in cameras:
    camera_view(seed, setup, camera)  # validates the camera ids.
  if num_subjects < 1 or replications < 1:
    raise ValueError("num_subjects and replications must be >= 1")
  crop = int(crop_size_px) if crop_size_px else crop_size_for_width(width)
  obj_size = object_size_px(crop)
  generation = {
      "num_subjects": num_subjects, "cameras": list(cameras),
      "replications": replications, "image_size": [width, height],
      "num_frames_range": list(num_frames_range), "seed": seed,
      "setup": setup, "actions": actions,
      "second_person_probability": second_person_probability,
      "crop_size_px": crop,
      **({"uniform_appearance": True} if uniform_appearance else {}),
  }
  old = root / META_FILE
  if old.exists():
    previous = json.loads(old.read_text()).get("generation")
    if previous != generation:
      diff = sorted(k for k in set(generation) | set(previous or {})
                    if (previous or {}).get(k) != generation.get(k))
      raise ValueError(
          f"{root} already holds a synthetic dataset made with different"
          f" arguments ({', '.join(diff)}); use another directory")
  (root / SKELETON_DIR).mkdir(parents=True, exist_ok=True)
  (root / RGB_DIR).mkdir(parents=True, exist_ok=True)

  # Plan every clip first (cheap: poses only) so the meta file is complete
  # before any video is written.
  clips: dict[str, dict[str, Any]] = {}
  work = []
  for subject in range(1, num_subjects + 1):
    for replication in range(1, replications + 1):
      for action in actions:
        performance = make_performance(
            seed, setup, subject, replication, action,
            num_frames_range=tuple(num_frames_range),
            second_person_probability=second_person_probability,
            uniform_appearance=uniform_appearance)
        for camera in cameras:
          name = sample_name(setup, camera, subject, replication, action)
          seq = skeleton_sequence(name, performance,
                                  camera_view(seed, setup, camera),
                                  (width, height))
          clips[name] = _clip_meta(performance, seq, name)
          work.append((name, camera, performance, seq))
  meta = {
      "format": META_FORMAT,
      "class_names": list(SYNTHETIC_CLASS_NAMES),
      "motion_names": list(MOTION_NAMES),
      "object_names": list(OBJECT_NAMES),
      "hand_names": list(skeletons.HAND_NAMES),
      "image_size": [width, height],
      "fps": FPS,
      "crop_size_px": crop,
      "object_size_px": obj_size,
      "object_center_bgr": {
          str(k): list(v) for k, v in OBJECT_CENTER_BGR.items()},
      "seed": seed,
      "generation": generation,
      "clips": clips,
  }
  _write_meta(root, meta)

  backgrounds: dict[int, np.ndarray] = {}
  written, skipped, started = 0, 0, time.monotonic()
  for name, camera, performance, seq in sorted(work, key=lambda w: w[0]):
    for tmp in _temp_paths(root, name):
      if tmp.exists():
        logging.info("%s: removing stale temporary file %s", name, tmp.name)
        tmp.unlink()
    if skeleton_path(root, name).exists() and video_path(root, name).exists():
      skipped += 1
      continue
    if camera not in backgrounds:
      backgrounds[camera] = make_background(seed, setup, camera,
                                            (width, height))
    frames = render_frames(performance, seq, backgrounds[camera], obj_size)
    count = write_video(video_path(root, name), frames, (width, height))
    if count != seq.num_frames:
      raise RuntimeError(f"{name}: wrote {count} frames for {seq.num_frames}"
                         " skeleton frames")
    ntu.write_skeleton(skeleton_path(root, name), seq)
    written += 1
    if written % log_every == 0:
      elapsed = time.monotonic() - started
      logging.info("synthetic: %d/%d clips written (%.1f clips/s)", written,
                   len(work) - skipped, written / max(elapsed, 1e-9))
  elapsed = time.monotonic() - started
  logging.info("synthetic: %s: wrote %d clips, %d already complete, in %.1f s"
               " (%.1f clips/s)", root, written, skipped, elapsed,
               written / max(elapsed, 1e-9))
  return sorted(clips)
