"""Synthetic SBU- and MSR-format sets, read back by the real readers."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from posedriven.data import clip as clip_lib
from posedriven.data import glimpse_crops
from posedriven.data import skeletons
from posedriven.data.formats import msr
from posedriven.data.formats import registry
from posedriven.data.formats import sbu
from posedriven.data.synthetic import motion
from posedriven.data.synthetic import render
from posedriven.data.synthetic import sbu_msr
from tests import helpers

# Object colours (RGB) in a decoded crop. The cards' colours are saturated
# (render.OBJECT_CENTER_BGR: red disc; the striped square's blue and
# yellow); everything else the renderer draws is muted (saturation <= 90 of
# 255, so its smallest channel is >= 0.65 of its largest: motion.muted_bgr),
# grey (uniform clothes), skin (smallest channel 0.65 of the largest) or the
# white card: none passes a test that asks for one channel below half of
# another.
_OBJECT_PIXELS = {
    0: lambda r, g, b: (r > 170) & (g < 85) & (b < 85),
    1: lambda r, g, b: (((b > 170) & (r < 85) & (g < 120)) |
                        ((r > 170) & (g > 150) & (b < 75))),
}
# The red disc (radius 0.43 x 120 px) covers 83% of a 100 px crop centred
# on it, the stripes all of it (less the MJPG-blurred stripe edges); the
# card is cut only where another hand's crop box overlaps, which does not
# last the whole window: at its best frame the held object fills over half
# of its hand's crop.
_SEEN = 0.5
# The renderer keeps an object out of the 16 px JPEG blocks every other
# hand's decoded crop depends on (render.object_allowed), and the writer
# codes those blocks at a fixed quality, so no pixel of another hand's crop
# changes when an object is drawn (test_render's decoded-crop test); the 4%
# is slack for this test's colour thresholds on the crop's own pixels.
# Anything above that is an object drawn there.
_ABSENT = 0.04


def test_sbu_tree_reads_back_with_classes_frames_and_pixels(tmp_path):
  dirs = sbu_msr.generate_sbu(tmp_path, sets=("s01s02",), first_frame=30)
  assert [registry.split_of("sbu_fold1", {"set_name": "s01s02"})] == ["test"]
  sources = registry.list_clips(tmp_path, "sbu")
  assert [s.skeleton_path for s in sources] == dirs and len(dirs) == 8
  clips = [sbu.load_clip(d) for d in dirs]
  assert [c.label for c in clips] == list(range(8))
  clip = clips[5]  # person B, motion 1
  assert clip.skeleton == "sbu" and clip.present.all()
  assert clip.metadata["frame_index"][0] == 30
  frames = sbu.clip_frame_paths(dirs[5], clip)
  assert all(p.is_file() for p in frames)
  assert not (dirs[5] / "rgb_000029.png").exists()
  image = cv2.imread(str(frames[0]))
  assert image.shape == (480, 640, 3)
  # Metres, body in front of the camera, ~1.7 m tall (head above feet).
  head = clip.xyz[:, :, skeletons.SBU.joint_names.index("Head")]
  foot = clip.xyz[:, :, skeletons.SBU.joint_names.index("FootLeft")]
  assert (np.abs(head[..., 1] - foot[..., 1]) > 1.2).all()
  assert ((clip.xyz[..., 2] > 1.5) & (clip.xyz[..., 2] < 5)).all()
  # The file's hand pixels are where the renderer put the hands' objects:
  # the active hand's card is drawn around its pixel in its window.
  hand_px = np.round(clip.hand_xy_px).astype(int)
  t = len(frames) // 2
  image = cv2.imread(str(frames[t]))
  x, y = hand_px[t].T
  inside = (x >= 0) & (x < 640) & (y >= 0) & (y < 480)
  cards = [tuple(image[y[h], x[h]]) for h in range(4) if inside[h]]
  background = cv2.imread(str(frames[0]))
  assert any(np.abs(np.int32(c) - np.int32(background[y[h], x[h]])).sum()
             > 30 for h, c in zip(np.flatnonzero(inside), cards))


def test_sbu_files_hold_the_readme_coordinates_of_the_rendered_bodies(
    tmp_path):
  # Round trip of the real convention: the file holds the README's
  # normalised metric coordinates of the bodies the frames show, and the
  # reader's projection lands on the pixels the renderer drew them at.
  dirs = sbu_msr.generate_sbu(tmp_path, sets=("s01s03",), write_frames=False)
  action = 6  # person B, motion 1
  clip = sbu.load_clip(dirs[action - 1])
  perf = sbu_msr._performance(0, sbu_msr.SBU_SETUP, 103, 1, (action - 1) % 4,
                              (action - 1) // 4, None, True)
  seq = sbu_msr._view_sequence(perf, sbu_msr.SBU_VIEW, sbu_msr._project_sbu)
  joints = sbu_msr._joint_indices(skeletons.SBU, sbu_msr._SBU_FROM_V2)
  # float32 normalised values (ulp <= 2^-23 * 2 of values < 2): back in
  # metres that is < 2560 mm * 2.4e-7 = 0.6 um; 1e-5 m leaves room.
  np.testing.assert_allclose(clip.xyz, seq.xyz[:, :, joints], atol=1e-5)
  hands = [skeletons.KINECT_V2.left_hand, skeletons.KINECT_V2.right_hand]
  rendered = seq.color_xy[:, :, hands].reshape(-1, 4, 2)
  # 0.6 um at >= 1.5 m moves a pixel by 525 * 4e-7 = 2e-4 px; float32
  # pixels round by <= 2^-14 px: 1e-3 px covers both.
  np.testing.assert_allclose(clip.hand_xy_px, rendered, atol=1e-3)
  # Same handedness as NTU (sbu module docstring): up x (right - left
  # shoulder) is where a body faces; the synthetic people face the camera
  # (-Z), which a mirrored file would turn into +Z.
  names = skeletons.SBU.joint_names
  xyz = clip.xyz.astype(np.float64)
  up = xyz[:, :, names.index("Neck")] - xyz[:, :, names.index("Torso")]
  across = (xyz[:, :, names.index("ShoulderRight")] -
            xyz[:, :, names.index("ShoulderLeft")])
  facing = np.cross(up, across)
  assert (facing[..., 2] < 0).all()


def test_sbu_classes_are_motions_of_person_a_or_b():
  # Folder k: motion (k-1) % 4 by person (k-1) // 4, whichever hand.
  for action in (1, 6):
    perf = sbu_msr._performance(0, sbu_msr.SBU_SETUP, 102, 1,
                                (action - 1) % 4, (action - 1) // 4, None,
                                True)
    assert perf.num_people == 2
    assert perf.active_hand // 2 == (action - 1) // 4
    assert perf.motion == (action - 1) % 4


def _object_fractions(skeleton_path: Path
                      ) -> tuple[clip_lib.Clip, np.ndarray]:
  """The clip, and ``[T, 2 hands, 2 objects]``: the fraction of each hand's
  crop (as preparation cuts it: the reader's hand pixels, CROP_SIZE_PX, the
  one crop function) in each class object's colours."""
  clip = msr.load_clip(skeleton_path)
  frames = np.stack(helpers.decoded_frames(msr.video_path(skeleton_path)))
  assert len(frames) == clip.num_frames
  crops = glimpse_crops.crop_hands(
      frames, clip.hand_xy_px, clip.hand_valid, sbu_msr.CROP_SIZE_PX,
      sbu_msr.CROP_SIZE_PX, bgr=True).numpy()[:, :2]
  r, g, b = crops[..., 0], crops[..., 1], crops[..., 2]
  return clip, np.stack([_OBJECT_PIXELS[o](r, g, b).mean(axis=(-2, -1))
                         for o in (0, 1)], -1)


def _moving_hand(clip) -> int:
  """The hand (0 left, 1 right) whose joint travels furthest: the one doing
  the motion (the idle one drifts by centimetres)."""
  hands = clip.xyz[:, 0, [skeletons.KINECT_V1.left_hand,
                          skeletons.KINECT_V1.right_hand]]
  travel = np.linalg.norm(np.diff(hands, axis=0), axis=-1).sum(axis=0)
  return int(np.argmax(travel))


@pytest.fixture(scope="module")
def msr_set(tmp_path_factory) -> list[Path]:
  """Subject 1, both environments, with videos: 16 samples."""
  root = tmp_path_factory.mktemp("msr")
  return sbu_msr.generate_msr(root, num_subjects=1, environments=(1, 2))


def test_msr_class_parts_are_motion_then_object():
  assert [sbu_msr.msr_class_parts(label) for label in range(8)] == [
      (0, 0), (1, 0), (2, 0), (3, 0), (0, 1), (1, 1), (2, 1), (3, 1)]
  for label in (-1, 8):
    with pytest.raises(ValueError, match="not a synthetic MSR class"):
      sbu_msr.msr_class_parts(label)


def test_msr_label_round_trips_to_the_performance_written(msr_set):
  # aXX -> the reader's label -> (motion, object) -> the performance of
  # that motion with that object, whose skeleton is the one in the file.
  joints = sbu_msr._joint_indices(skeletons.KINECT_V1, sbu_msr._V1_FROM_V2)
  hands = {0: set(), 1: set()}
  for path in msr_set:
    clip = msr.load_clip(path)
    assert clip.label == int(path.name[1:3]) - 1
    motion_id, obj = sbu_msr.msr_class_parts(clip.label)
    perf = sbu_msr._performance(0, sbu_msr.MSR_SETUP, 1, 1, motion_id, None,
                                obj, False, 0.0)
    assert (perf.motion, perf.class_object) == (motion_id, obj)
    assert perf.hand_objects[perf.active_hand] == obj
    seq = sbu_msr._view_sequence(
        perf, sbu_msr.MSR_VIEWS[clip.metadata["environment"]])
    # The file holds float32 at 9 significant digits: exact.
    np.testing.assert_array_equal(clip.xyz[:, 0],
                                  seq.xyz[:, 0][:, joints].astype(np.float32))
    assert _moving_hand(clip) == perf.active_hand
    hands[obj].add(perf.active_hand)
  # The hand is whatever the performance drew, not part of the class.
  assert hands == {0: {0, 1}, 1: {0, 1}}


def test_msr_class_object_shows_in_the_moving_hands_crop_only(msr_set):
  """The two classes of a motion differ in the object in the active hand's
  crop; the other hand's crop shows no object (one object per clip)."""
  seen = {}
  for path in msr_set:
    clip, fractions = _object_fractions(path)
    _, obj = sbu_msr.msr_class_parts(clip.label)
    active = _moving_hand(clip)
    assert fractions[:, active, obj].max() > _SEEN, clip.name
    assert fractions[:, active, 1 - obj].max() < _ABSENT, clip.name
    assert fractions[:, 1 - active].max() < _ABSENT, clip.name
    seen[clip.name] = obj
  # Both objects, each with every motion, in both environments.
  assert sorted(seen.values()) == [0] * 8 + [1] * 8


def test_msr_counter_object_goes_to_the_other_hand(tmp_path):
  paths = sbu_msr.generate_msr(tmp_path, num_subjects=1, environments=(1,),
                               counter_object_probability=1.0)
  for path in paths:
    clip, fractions = _object_fractions(path)
    _, obj = sbu_msr.msr_class_parts(clip.label)
    active = _moving_hand(clip)
    assert fractions[:, active, obj].max() > _SEEN, clip.name
    assert fractions[:, 1 - active, 1 - obj].max() > _SEEN, clip.name


def test_msr_objects_swapped_change_only_the_held_objects_pixels(
    msr_set, tmp_path, monkeypatch):
  """Each class drawn with the other object: byte-identical skeleton files
  (pose says nothing about the object) and video frames that differ only
  around the active hand's card, while it is drawn."""
  real = motion.class_parts
  monkeypatch.setattr(motion, "class_parts",
                      lambda label: (real(label)[0], 1 - real(label)[1]))
  paths = sbu_msr.generate_msr(tmp_path, num_subjects=1, environments=(1,))
  monkeypatch.undo()
  half = render.object_size_px(sbu_msr.CROP_SIZE_PX) // 2
  # The writer's BGR -> YUV 4:2:0 conversion and the reader's way back each
  # filter chroma over neighbouring samples (<= 2 samples, 4 px, each
  # way), and MJPG codes 16x16 macroblocks independently at a fixed
  # quality: a pixel may change only within 4 px of a macroblock that comes
  # within 4 px of the card.
  block, reach = 16, 4
  for swapped in paths:
    original = msr_set[0].parent / swapped.name
    assert original.read_bytes() == swapped.read_bytes(), swapped.name
    clip = msr.load_clip(original)
    motion_id, obj = sbu_msr.msr_class_parts(clip.label)
    perf = sbu_msr._performance(0, sbu_msr.MSR_SETUP, 1, 1, motion_id, None,
                                obj, False, 0.0)
    start, stop = perf.hand_windows[perf.active_hand]
    a = np.stack(helpers.decoded_frames(msr.video_path(original)))
    b = np.stack(helpers.decoded_frames(msr.video_path(swapped)))
    changed = np.any(a != b, axis=-1)
    assert changed[start:stop].any(axis=(1, 2)).all(), swapped.name
    assert not changed[:start].any() and not changed[stop:].any()
    hand = np.round(clip.hand_xy_px[:, perf.active_hand]).astype(int)
    for t in range(start, stop):
      allowed = np.zeros_like(changed[t])
      (x0, y0), (x1, y1) = hand[t] - half, hand[t] + half
      allowed[max((y0 - reach) // block * block - reach, 0):
              ((y1 + reach) // block + 1) * block + reach,
              max((x0 - reach) // block * block - reach, 0):
              ((x1 + reach) // block + 1) * block + reach] = True
      assert not (changed[t] & ~allowed).any(), (swapped.name, t)


def test_msr_folder_reads_back(tmp_path):
  paths = sbu_msr.generate_msr(tmp_path, num_subjects=2, environments=(1, 2),
                               write_videos=False)
  assert len(paths) == 2 * 8 * 2
  sources = registry.list_clips(tmp_path, "msr")
  assert {s.skeleton_path for s in sources} == set(paths)
  clip = msr.load_clip(tmp_path / "a06_s02_e01_skeleton.txt")
  assert clip.label == 5 and clip.skeleton == "kinect_v1"
  assert clip.present[:, 0].all() and not clip.present[:, 1].any()
  assert registry.split_of("msr_cs", clip.metadata) == "test"
  other = msr.load_clip(tmp_path / "a06_s02_e02_skeleton.txt")
  # Same performance, another camera: same length, other coordinates.
  assert other.num_frames == clip.num_frames
  assert not np.allclose(other.xyz, clip.xyz, atol=0.05)
  # Hands inside the 640x480 frame.
  assert ((clip.hand_xy_px[:, :2] > 0).all() and
          (clip.hand_xy_px[:, :2, 0] < 640).all())


def test_msr_video_has_one_frame_per_skeleton_frame(tmp_path):
  sbu_msr.generate_msr(tmp_path, num_subjects=1, environments=(1,))
  path = tmp_path / "a01_s01_e01_skeleton.txt"
  clip = msr.load_clip(path)
  capture = cv2.VideoCapture(str(msr.video_path(path)))
  shapes = []
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    shapes.append(frame.shape)
  capture.release()
  assert shapes == [(480, 640, 3)] * clip.num_frames


def test_overwrite_replaces_what_other_settings_wrote(tmp_path):
  sbu_root, msr_root = tmp_path / "sbu", tmp_path / "msr"
  sbu_msr.generate_sbu(sbu_root, sets=("s01s02", "s01s03"), seed=0,
                       write_frames=False)
  sbu_file = sbu_root / "s01s02" / "01" / "001" / sbu.SKELETON_FILE
  first = sbu_file.read_bytes()
  # Without overwrite a finished sequence is kept (resumption), whatever
  # the settings: the old seed's file stays.
  sbu_msr.generate_sbu(sbu_root, sets=("s01s02",), seed=1,
                       write_frames=False)
  assert sbu_file.read_bytes() == first
  sbu_msr.generate_sbu(sbu_root, sets=("s01s02",), seed=1,
                       write_frames=False, overwrite=True)
  assert sbu_file.read_bytes() != first
  assert not (sbu_root / "s01s03").exists()  # a set of the old settings
  sbu_msr.generate_msr(msr_root, num_subjects=2, seed=0, write_videos=False)
  msr_file = msr_root / f"a01_s01_e01{msr.SKELETON_SUFFIX}"
  first = msr_file.read_bytes()
  sbu_msr.generate_msr(msr_root, num_subjects=1, seed=1, write_videos=False,
                       overwrite=True)
  assert msr_file.read_bytes() != first
  assert not (msr_root / f"a01_s02_e01{msr.SKELETON_SUFFIX}").exists()
