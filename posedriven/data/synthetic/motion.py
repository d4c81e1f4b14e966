"""Performances of the synthetic set: classes, bodies, motion and arm IK.

What the people do, in world coordinates (metres, y up, floor at 0),
independent of any camera; every random choice is seeded by the sample keys.
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

from posedriven.data.formats import ntu
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

FPS = 30.0
# Kinect v2 body IDs are 64-bit tracking ids of this magnitude.
BODY_ID_BASE = 72057594037931648

# Seed-sequence tags keep the generators of different things independent.
_TAG_PERFORMANCE = 1
_TAG_SUBJECT = 2
TAG_VIEW = 3
_TAG_PAIRED_PERFORMANCE = 4

JOINT_INDEX = {
    name: i for i, name in enumerate(skeletons.KINECT_V2.joint_names)}
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
HAND_TIP_M = 0.07

def class_index(motion: int, obj: int) -> int:
  """0-based label of ``motion`` x class ``obj`` (A001 is label 0)."""
  return motion * len(CLASS_OBJECT_NAMES) + obj


def paired_action_groups() -> dict[int, int]:
  """1-based action id -> its motion: the actions that share a performance
  under ``paired_objects`` (for ``bootstrap.performance_ids``)."""
  return {label + 1: class_parts(label)[0] for label in range(NUM_CLASSES)}


def class_parts(label: int) -> tuple[int, int]:
  """Inverse of :func:`class_index`: ``(motion, object)``."""
  if not 0 <= label < NUM_CLASSES:
    raise ValueError(
        f"label {label} is not a synthetic class (0..{NUM_CLASSES - 1})")
  return divmod(label, len(CLASS_OBJECT_NAMES))

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


def muted_bgr(rng: np.random.Generator, value: tuple[int, int],
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
      shirt_bgr=muted_bgr(rng, (60, 200)),
      trousers_bgr=muted_bgr(rng, (40, 140)),
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


def rotate_y(xyz: np.ndarray, degrees: float) -> np.ndarray:
  a = math.radians(degrees)
  c, s = math.cos(a), math.sin(a)
  out = xyz.copy()
  out[..., 0] = c * xyz[..., 0] - s * xyz[..., 2]
  out[..., 2] = s * xyz[..., 0] + c * xyz[..., 2]
  return out


def object_amplitude_scale(class_object: int, strength: float) -> float:
  """How much larger the active hand's motion is with ``class_object``.

  The two class objects of a motion scale its amplitude by ``1 - s/2`` and
  ``1 + s/2``: a relative difference ``s`` between them, so that the
  skeleton carries part of the object, as on NTU (drink and eat, read and
  write differ in how the hand moves). 0 leaves every motion as drawn.
  """
  return 1.0 + strength * (class_object - 0.5)


def _body_motion(rng: np.random.Generator, person: Person, num_frames: int,
                 active_side: float | None, motion: int,
                 window: tuple[int, int], amplitude: float = 1.0
                 ) -> np.ndarray:
  """Body-frame joints ``[T, 25, 3]`` of one person.

  Args:
    active_side: -1 (left) or +1 (right) for the hand that performs
      ``motion`` during ``window``; None if this person only idles.
    amplitude: Scale of the active hand's motion targets about their
      reference point (:func:`object_amplitude_scale`).
  """
  k = person.height_m / _HEIGHT_REF
  t = np.arange(num_frames, dtype=np.float64)
  body = np.zeros((num_frames, ntu.NUM_JOINTS, 3))
  for name, xyz in _TEMPLATE.items():
    body[:, JOINT_INDEX[name]] = np.asarray(xyz) * k
  head = body[:, JOINT_INDEX["Head"]]
  for side, suffix in ((-1.0, "Left"), (1.0, "Right")):
    shoulder = body[:, JOINT_INDEX["Shoulder" + suffix]]
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
                            side, k * amplitude)
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
    body[:, JOINT_INDEX["Elbow" + suffix]] = elbow
    body[:, JOINT_INDEX["Wrist" + suffix]] = wrist
    body[:, JOINT_INDEX["Hand" + suffix]] = hand
    body[:, JOINT_INDEX["HandTip" + suffix]] = hand + forearm * HAND_TIP_M * k
    body[:, JOINT_INDEX["Thumb" + suffix]] = (wrist + forearm * 0.045 * k +
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
                     uniform_appearance: bool = False,
                     counter_object_probability: float = 1.0,
                     paired_objects: bool = False,
                     object_amplitude: float = 0.0) -> Performance:
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
    counter_object_probability: chance that another hand holds the other
      class object. At 1 (the default) every clip shows both class objects,
      so nothing but attention to the active hand tells which one matters;
      but then an RGB stream with uniform attention sees no correlation
      between its input and the label at all, and attention must break
      that symmetry from noise. Below 1, the clips without the counter
      object let a stream learn what the objects mean first; summing the
      hands then knows the object in those clips only, attending to the
      active hand in every clip.
    paired_objects: the two classes of a motion share one performance
      (same people, movement, hands and object windows; only the class
      objects trade hands), so that each performance is recorded once with
      each class object: a minimal pair. A stream that memorises its
      training clips from the skeleton or from anything in the video but
      the objects then learns nothing about the object, because the pair
      carries both labels; without pairs the pose stream ends up confidently
      (and arbitrarily) preferring one object on unseen clips, which
      outweighs the RGB stream's object in the fused logits.
    object_amplitude: relative difference in the active hand's motion
      amplitude between the two class objects of a motion
      (:func:`object_amplitude_scale`; in [0, 1)), so that pose carries part
      of the object. It changes no random draw: at 0 every sample is as
      before, and with ``paired_objects`` the two clips of a pair then
      differ in the skeleton by the amplitude alone.
  """
  motion, class_object = class_parts(action - 1)
  # No draw below depends on which object is the class object, so (at
  # object_amplitude 0) the skeleton of a sample says nothing about its
  # object: swapping the
  # objects changes the video, not the skeleton file (tested). Keying the
  # generator by the motion (paired_objects) halves the distinct
  # performances the pose stream learns motions from: with one performance
  # per subject and class its held-out accuracy fell to chance
  # (tests/training/test_learning.py), so it is an option, and the demo
  # that uses it records three performances per subject and motion.
  key = ([seed, _TAG_PERFORMANCE, setup, subject, replication, action]
         if not paired_objects else
         [seed, _TAG_PAIRED_PERFORMANCE, setup, subject, replication, motion])
  rng = np.random.default_rng(key)
  lo, hi = num_frames_range
  # 8 frames leave room for empty-handed frames before and after the motion.
  if not _MIN_FRAMES <= lo <= hi:
    raise ValueError(f"num_frames_range must be {_MIN_FRAMES} <= lo <= hi,"
                     f" got {num_frames_range}")
  if not 0.0 <= object_amplitude < 1.0:
    raise ValueError(f"object_amplitude must lie in [0, 1), got"
                     f" {object_amplitude}")
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
  if not 0.0 <= counter_object_probability <= 1.0:
    raise ValueError("counter_object_probability must lie in [0, 1], got"
                     f" {counter_object_probability}")
  # With pairs, the hands' objects are drawn for object 0 and the two class
  # objects then trade places in every hand, so the two clips of a pair
  # differ in nothing else.
  drawn_object = 0 if paired_objects else class_object
  others = [1 - drawn_object]
  # Drawn only below 1, so that the default's clips stay as they were; the
  # draw does not depend on the class object (skeletons stay independent).
  if counter_object_probability < 1.0 and (
      rng.random() >= counter_object_probability):
    others = [NO_OBJECT]
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
      hand_objects[hand], windows[hand] = drawn_object, motion_window
    else:
      hand_objects[hand] = others.pop()
      window = _window(rng, num_frames)
      windows[hand] = window if hand_objects[hand] != NO_OBJECT else (0, 0)

  if drawn_object != class_object:
    hand_objects = [1 - o if o in (0, 1) else o for o in hand_objects]

  # Person 1 faces camera 1; person 2 stands beside, turned a little.
  spacing = rng.uniform(0.8, 1.0) * rng.choice([-1.0, 1.0])
  xyz = np.zeros((num_frames, len(people), ntu.NUM_JOINTS, 3))
  for p, person in enumerate(people):
    side = None
    if active_hand // 2 == p:
      side = -1.0 if active_hand % 2 == 0 else 1.0
    body = _body_motion(rng, person, num_frames, side, motion, motion_window,
                        object_amplitude_scale(class_object,
                                               object_amplitude))
    yaw = rng.uniform(-10, 10) - (15.0 * np.sign(spacing) if p == 1 else 0.0)
    offset = np.array([
        (spacing * (p - 0.5) if two_people else 0.0) + rng.uniform(-0.15, 0.15),
        0.0, rng.uniform(-0.3, 0.3)])
    xyz[:, p] = rotate_y(body, yaw) + offset
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
