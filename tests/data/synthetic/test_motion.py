"""Synthetic performances: classes, people, motion, which hand holds what."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from posedriven.data import skeletons
from posedriven.data import synthetic
from posedriven.data.formats import ntu
from posedriven.data.synthetic import motion as synthetic_motion


def test_class_names_and_helpers():
  assert len(synthetic.SYNTHETIC_CLASS_NAMES) == synthetic.NUM_CLASSES == 8
  assert synthetic.SYNTHETIC_CLASS_NAMES[0] == "raise+red_disc"
  assert synthetic.SYNTHETIC_CLASS_NAMES[7] == "circle+striped_square"
  for label in range(8):
    motion, obj = synthetic.class_parts(label)
    assert synthetic.class_index(motion, obj) == label
    assert synthetic.SYNTHETIC_CLASS_NAMES[label] == (
        f"{synthetic_motion.MOTION_NAMES[motion]}+{synthetic_motion.OBJECT_NAMES[obj]}")
  with pytest.raises(ValueError, match="label 8"):
    synthetic.class_parts(8)


def test_every_clip_shows_both_class_objects(dataset):
  """Which object matters is only known through which hand moves."""
  root, names = dataset
  meta = synthetic.load_meta(root)
  active_hands = collections.Counter()
  for name in names:
    clip = meta["clips"][name]
    objects = [h["object"] for h in clip["hands"]]
    assert objects[clip["active_hand"]] == clip["object"]
    # Symmetric in the two class objects: summing or concatenating the
    # hands' features, or looking at the whole frame, cannot tell the class.
    assert objects.count(0) == objects.count(1) >= 1, (name, objects)
    if clip["num_people"] == 1:
      assert objects[2:] == [synthetic_motion.NO_OBJECT] * 2
      assert not clip["hands"][2]["present"]
    windows = [h["frames"] for h in clip["hands"] if h["object"] >= 0]
    lengths = [b - a for a, b in windows]
    assert min(lengths) >= 0.4 * clip["num_frames"]
    assert sorted(clip["draw_order"]) == [0, 1, 2, 3]
  # Any hand can be the active one.
  for subject in range(1, 7):
    for action in range(1, synthetic.NUM_CLASSES + 1, 2):
      active_hands[synthetic_motion.make_performance(
          0, 1, subject, 1, action,
          second_person_probability=1.0).active_hand] += 1
  assert set(active_hands) == {0, 1, 2, 3}


def test_active_hand_moves_most(dataset):
  root, names = dataset
  meta = synthetic.load_meta(root)
  for name in names:
    clip = meta["clips"][name]
    seq = ntu.load_skeleton(synthetic.skeleton_path(root, name))
    xyz = seq.xyz[:, :, [skeletons.KINECT_V2.left_hand,
                         skeletons.KINECT_V2.right_hand]]
    xyz = xyz.reshape(seq.num_frames, -1, 3)
    path = np.linalg.norm(np.diff(xyz, axis=0), axis=-1).sum(0)
    active = clip["active_hand"]
    others = np.delete(path, active)
    assert path[active] > 2 * others.max(), (name, path)


def test_uniform_appearance_dresses_everybody_alike_and_keeps_the_motion():
  looks = set()
  for subject in (1, 2, 3):
    varied = synthetic_motion.make_performance(0, 1, subject, 1, 5,
                                        second_person_probability=1.0)
    uniform = synthetic_motion.make_performance(0, 1, subject, 1, 5,
                                         second_person_probability=1.0,
                                         uniform_appearance=True)
    assert len({(p.shirt_bgr, p.skin_bgr) for p in varied.people}) == 2
    for person, plain in zip(uniform.people, varied.people):
      looks.add((person.shirt_bgr, person.trousers_bgr, person.skin_bgr))
      assert person.height_m == plain.height_m
    np.testing.assert_array_equal(uniform.xyz_world, varied.xyz_world)
  assert len(looks) == 1


def _counter_object_shown(performance) -> bool:
  other = 1 - performance.class_object
  return any(obj == other for h, obj in enumerate(performance.hand_objects)
             if h != performance.active_hand)


def test_counter_object_probability():
  def shown(p):
    return [_counter_object_shown(synthetic_motion.make_performance(
        0, 1, subject, 1, action, second_person_probability=0.0,
        counter_object_probability=p))
            for subject in range(1, 21) for action in range(1, 9)]

  assert all(shown(1.0))
  assert not any(shown(0.0))
  assert 0.35 < np.mean(shown(0.5)) < 0.65
  # The default draws nothing more: its clips are those made before the
  # option existed (the same performance as an explicit 1.0).
  a = synthetic_motion.make_performance(0, 1, 3, 1, 2)
  b = synthetic_motion.make_performance(0, 1, 3, 1, 2,
                                        counter_object_probability=1.0)
  np.testing.assert_array_equal(a.xyz_world, b.xyz_world)
  with pytest.raises(ValueError, match="counter_object_probability"):
    synthetic_motion.make_performance(0, 1, 1, 1, 1,
                                      counter_object_probability=1.5)


def test_paired_actions_share_their_motion():
  # A001/A002 are raise with either class object, ... A007/A008 circle.
  assert synthetic.paired_action_groups() == {
      1: 0, 2: 0, 3: 1, 4: 1, 5: 2, 6: 2, 7: 3, 8: 3}


def test_rotate_y_turns_x_towards_z_and_keeps_height():
  xyz = np.array([[1.0, 0.7, 0.0], [0.0, -0.2, 2.0]])
  turned = synthetic_motion.rotate_y(xyz, 90.0)
  # float64: cos(90 deg) comes out as 6.1e-17, not 0, and each output is a
  # sum of two products of values <= 2 (each rounded by <= eps/2): the error
  # is a few eps x 2. Two rotations (there and back) double it.
  atol = 8 * np.finfo(np.float64).eps * 2.0
  np.testing.assert_allclose(turned, [[0.0, 0.7, 1.0], [-2.0, -0.2, 0.0]],
                             atol=atol)
  np.testing.assert_allclose(synthetic_motion.rotate_y(turned, -90.0), xyz,
                             atol=atol)
  assert xyz[0, 0] == 1.0  # the input is not changed


def test_a_subject_looks_the_same_in_every_clip():
  looks = [synthetic_motion.subject_appearance(0, s) for s in range(1, 7)]
  assert synthetic_motion.subject_appearance(0, 3) == looks[2]
  assert len({(p.shirt_bgr, p.height_m) for p in looks}) == 6
  assert all(1.55 <= p.height_m <= 1.92 for p in looks)
  assert synthetic_motion.subject_appearance(1, 3) != looks[2]


def test_performance_sizes_follow_the_arguments():
  for probability, people in ((0.0, 1), (1.0, 2)):
    for action in (1, 6):
      p = synthetic_motion.make_performance(
          2, 1, 4, 1, action, num_frames_range=(12, 15),
          second_person_probability=probability)
      assert p.num_people == people == len(p.body_ids) == len(p.people)
      assert 12 <= p.num_frames <= 15
      assert p.xyz_world.shape == (p.num_frames, people, ntu.NUM_JOINTS, 3)
      assert (p.motion, p.class_object) == synthetic.class_parts(action - 1)
      assert p.hand_objects[p.active_hand] == p.class_object
  again = synthetic_motion.make_performance(2, 1, 4, 1, 6,
                                            num_frames_range=(12, 15),
                                            second_person_probability=1.0)
  np.testing.assert_array_equal(again.xyz_world, p.xyz_world)


def test_object_amplitude_scale_splits_the_difference():
  assert synthetic_motion.object_amplitude_scale(0, 0.0) == 1.0
  assert synthetic_motion.object_amplitude_scale(1, 0.0) == 1.0
  # 1 -+ 0.2 / 2 in float64: one rounding of 0.1 (~1e-17), far inside
  # pytest.approx's default relative 1e-6.
  assert synthetic_motion.object_amplitude_scale(0, 0.2) == pytest.approx(0.9)
  assert synthetic_motion.object_amplitude_scale(1, 0.2) == pytest.approx(1.1)


@pytest.mark.parametrize("motion_id", range(len(synthetic_motion.MOTION_NAMES)))
def test_object_amplitude_moves_only_the_active_arm_of_a_pair(motion_id):
  """With pairs, the two classes of a motion differ in the skeleton by the
  active arm's amplitude during the motion, and in nothing else."""
  def perf(obj, strength):
    return synthetic_motion.make_performance(
        3, 1, 2, 1, synthetic_motion.class_index(motion_id, obj) + 1,
        second_person_probability=1.0, paired_objects=True,
        object_amplitude=strength)

  small, large = perf(0, 0.3), perf(1, 0.3)
  # Strength 0 is exactly the pair of before: identical skeletons.
  np.testing.assert_array_equal(perf(0, 0.0).xyz_world,
                                perf(1, 0.0).xyz_world)
  assert small.active_hand == large.active_hand
  person, side = divmod(small.active_hand, 2)
  suffix = ("Left", "Right")[side]
  arm = [synthetic_motion.JOINT_INDEX[j + suffix]
         for j in ("Elbow", "Wrist", "Hand", "HandTip", "Thumb")]
  differs = np.any(small.xyz_world != large.xyz_world, axis=-1)  # [T, P, J]
  joints = np.zeros(differs.shape[1:], bool)
  joints[person, arm] = True
  assert not differs[:, ~joints].any()  # nothing but the active arm
  start, stop = small.hand_windows[small.active_hand]
  frames = np.flatnonzero(differs.any(axis=(1, 2)))
  assert frames.size and start <= frames.min() and frames.max() < stop
  # The larger object's hand travels further from where it started.
  hand = synthetic_motion.JOINT_INDEX["Hand" + suffix]

  def reach(p):
    path = p.xyz_world[:, person, hand]
    return np.linalg.norm(path - path[0], axis=-1).max()

  assert reach(large) > reach(small)


def test_object_amplitude_outside_its_range_is_refused():
  for bad in (-0.1, 1.0):
    with pytest.raises(ValueError, match="object_amplitude"):
      synthetic_motion.make_performance(1, 1, 1, 1, 1, object_amplitude=bad)
