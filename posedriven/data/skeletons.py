"""Skeleton definitions: joints, kinematic trees, hand and spine joints.

Three definitions cover the paper's datasets:

* ``kinect_v2`` (25 joints): NTU RGB+D 60/120.
* ``sbu`` (15 joints): SBU Kinect Interaction.
* ``kinect_v1`` (20 joints): MSR Daily Activity 3D.

Joint indices are 0-based everywhere in the code; the datasets' own docs are
1-based.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence


@dataclasses.dataclass(frozen=True)
class SkeletonDef:
  """A kinematic tree.

  Attributes:
    name: Registry key.
    joint_names: One name per joint, in the dataset's storage order.
    parents: ``parents[j]`` is the parent joint of ``j``; -1 for the root.
    spine_mid: The "middle of the spine" joint, the origin of body-centred
      coordinates (paper, section 4).
    left_hand: Joint used as the left-hand attention point.
    right_hand: Joint used as the right-hand attention point.
  """

  name: str
  joint_names: tuple[str, ...]
  parents: tuple[int, ...]
  spine_mid: int
  left_hand: int
  right_hand: int

  @property
  def num_joints(self) -> int:
    return len(self.joint_names)

  @property
  def root(self) -> int:
    return self.parents.index(-1)

  @property
  def edges(self) -> tuple[tuple[int, int], ...]:
    """Undirected (parent, child) bones."""
    return tuple((p, c) for c, p in enumerate(self.parents) if p >= 0)

  def children(self, joint: int) -> list[int]:
    return [c for c, p in enumerate(self.parents) if p == joint]


def _make(name: str, joints: Sequence[tuple[str, str | None]], spine_mid: str,
          left_hand: str, right_hand: str) -> SkeletonDef:
  names = tuple(j for j, _ in joints)
  parents = tuple(-1 if p is None else names.index(p) for _, p in joints)
  return SkeletonDef(name, names, parents, names.index(spine_mid),
                     names.index(left_hand), names.index(right_hand))


# Kinect v2 joint order as stored in NTU .skeleton files. Bones follow the
# Kinect SDK v2 BodyBasics sample (thumbs hang off the wrists, tips off hands).
KINECT_V2 = _make("kinect_v2", [
    ("SpineBase", None),
    ("SpineMid", "SpineBase"),
    ("Neck", "SpineShoulder"),
    ("Head", "Neck"),
    ("ShoulderLeft", "SpineShoulder"),
    ("ElbowLeft", "ShoulderLeft"),
    ("WristLeft", "ElbowLeft"),
    ("HandLeft", "WristLeft"),
    ("ShoulderRight", "SpineShoulder"),
    ("ElbowRight", "ShoulderRight"),
    ("WristRight", "ElbowRight"),
    ("HandRight", "WristRight"),
    ("HipLeft", "SpineBase"),
    ("KneeLeft", "HipLeft"),
    ("AnkleLeft", "KneeLeft"),
    ("FootLeft", "AnkleLeft"),
    ("HipRight", "SpineBase"),
    ("KneeRight", "HipRight"),
    ("AnkleRight", "KneeRight"),
    ("FootRight", "AnkleRight"),
    ("SpineShoulder", "SpineMid"),
    ("HandTipLeft", "HandLeft"),
    ("ThumbLeft", "WristLeft"),
    ("HandTipRight", "HandRight"),
    ("ThumbRight", "WristRight"),
], spine_mid="SpineMid", left_hand="HandLeft", right_hand="HandRight")

# SBU Kinect Interaction: 15 OpenNI joints per person, in file order.
SBU = _make("sbu", [
    ("Head", "Neck"),
    ("Neck", "Torso"),
    ("Torso", None),
    ("ShoulderLeft", "Neck"),
    ("ElbowLeft", "ShoulderLeft"),
    ("HandLeft", "ElbowLeft"),
    ("ShoulderRight", "Neck"),
    ("ElbowRight", "ShoulderRight"),
    ("HandRight", "ElbowRight"),
    ("HipLeft", "Torso"),
    ("KneeLeft", "HipLeft"),
    ("FootLeft", "KneeLeft"),
    ("HipRight", "Torso"),
    ("KneeRight", "HipRight"),
    ("FootRight", "KneeRight"),
], spine_mid="Torso", left_hand="HandLeft", right_hand="HandRight")

# Kinect v1 (MSR Daily Activity 3D): 20 joints, NUI_SKELETON_POSITION order.
KINECT_V1 = _make("kinect_v1", [
    ("HipCenter", None),
    ("Spine", "HipCenter"),
    ("ShoulderCenter", "Spine"),
    ("Head", "ShoulderCenter"),
    ("ShoulderLeft", "ShoulderCenter"),
    ("ElbowLeft", "ShoulderLeft"),
    ("WristLeft", "ElbowLeft"),
    ("HandLeft", "WristLeft"),
    ("ShoulderRight", "ShoulderCenter"),
    ("ElbowRight", "ShoulderRight"),
    ("WristRight", "ElbowRight"),
    ("HandRight", "WristRight"),
    ("HipLeft", "HipCenter"),
    ("KneeLeft", "HipLeft"),
    ("AnkleLeft", "KneeLeft"),
    ("FootLeft", "AnkleLeft"),
    ("HipRight", "HipCenter"),
    ("KneeRight", "HipRight"),
    ("AnkleRight", "KneeRight"),
    ("FootRight", "AnkleRight"),
], spine_mid="Spine", left_hand="HandLeft", right_hand="HandRight")

SKELETONS: dict[str, SkeletonDef] = {
    s.name: s for s in (KINECT_V2, SBU, KINECT_V1)
}

# Attention points (paper, section 3.1): the 4 hands of the two people, in
# this order everywhere (features [T, 4, D], crops, attention maps).
HAND_NAMES = ("person1_left", "person1_right", "person2_left", "person2_right")
NUM_HANDS = len(HAND_NAMES)
MAX_PEOPLE = 2


def get_skeleton(name: str) -> SkeletonDef:
  try:
    return SKELETONS[name]
  except KeyError:
    raise ValueError(
        f"Unknown skeleton {name!r}; expected one of {sorted(SKELETONS)}"
    ) from None
