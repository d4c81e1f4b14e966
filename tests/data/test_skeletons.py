"""Skeleton definitions: trees rooted once, hands and spine where named."""

from __future__ import annotations

import pytest

from posedriven.data import skeletons


@pytest.mark.parametrize("skeleton,num_joints,root", [
    (skeletons.KINECT_V2, 25, "SpineBase"),
    (skeletons.SBU, 15, "Torso"),
    (skeletons.KINECT_V1, 20, "HipCenter"),
])
def test_each_skeleton_is_one_tree(skeleton, num_joints, root):
  assert skeleton.num_joints == num_joints
  assert len(set(skeleton.joint_names)) == num_joints
  assert skeleton.joint_names[skeleton.root] == root
  assert skeleton.parents.count(-1) == 1
  # Every joint reaches the root without a cycle: J - 1 bones, connected.
  for joint in range(num_joints):
    seen = {joint}
    while skeleton.parents[joint] >= 0:
      joint = skeleton.parents[joint]
      assert joint not in seen, f"cycle through {skeleton.joint_names[joint]}"
      seen.add(joint)
    assert joint == skeleton.root
  assert len(skeleton.edges) == num_joints - 1
  for parent, child in skeleton.edges:
    assert child in skeleton.children(parent)
    assert skeleton.parents[child] == parent
  assert sum(len(skeleton.children(j)) for j in range(num_joints)) == (
      num_joints - 1)


@pytest.mark.parametrize("skeleton,spine_mid", [
    (skeletons.KINECT_V2, "SpineMid"),
    (skeletons.SBU, "Torso"),
    (skeletons.KINECT_V1, "Spine"),
])
def test_attention_points_and_body_origin(skeleton, spine_mid):
  names = skeleton.joint_names
  assert names[skeleton.left_hand] == "HandLeft"
  assert names[skeleton.right_hand] == "HandRight"
  assert names[skeleton.spine_mid] == spine_mid


def test_kinect_v2_follows_the_ntu_file_order():
  # 1-based in NTU's documentation: 1 base of spine, 8 left hand,
  # 12 right hand, 21 spine shoulder, 25 right thumb.
  names = skeletons.KINECT_V2.joint_names
  assert (names[0], names[7], names[11], names[20], names[24]) == (
      "SpineBase", "HandLeft", "HandRight", "SpineShoulder", "ThumbRight")
  assert names[skeletons.KINECT_V2.parents[2]] == "SpineShoulder"  # neck


def test_registry_and_hands():
  assert skeletons.get_skeleton("sbu") is skeletons.SBU
  assert set(skeletons.SKELETONS) == {"kinect_v2", "sbu", "kinect_v1"}
  with pytest.raises(ValueError, match=r"'kinect'.*\['kinect_v1', "
                     r"'kinect_v2', 'sbu'\]"):
    skeletons.get_skeleton("kinect")
  assert skeletons.NUM_HANDS == 2 * skeletons.MAX_PEOPLE == 4
