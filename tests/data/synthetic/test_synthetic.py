"""Tests of the synthetic NTU-format dataset and its generator binary."""

from __future__ import annotations

import collections
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from posedriven import atomic
from posedriven.data.formats import ntu
from posedriven.data import glimpse_crops
from posedriven.data import skeletons
from posedriven.data import synthetic
from posedriven.data.synthetic import motion as synthetic_motion
from posedriven.data.synthetic import render as synthetic_render
from posedriven.data.synthetic import views as synthetic_views
from tests import helpers

REPO_ROOT = Path(__file__).resolve().parents[3]
# A small set: 2 subjects x 2 views x 8 classes = 32 clips of 10-14 frames.
SMALL = dict(num_subjects=2, cameras=(1, 2), image_size=(320, 180),
             num_frames_range=(10, 14), seed=3)
# An even smaller one for the tests that write several datasets.
TINY = dict(num_subjects=1, cameras=(1, 3), image_size=(160, 96),
            num_frames_range=(8, 9), actions=(2, 7), seed=5)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, list[str]]:
  root = tmp_path_factory.mktemp("synthetic")
  return root, synthetic.generate_dataset(root, **SMALL)


def _frames(path: Path) -> list[np.ndarray]:
  capture = cv2.VideoCapture(str(path))
  assert capture.isOpened(), path
  frames = []
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    frames.append(frame)
  capture.release()
  return frames


def _center_bgr(frame: np.ndarray, xy) -> np.ndarray:
  x, y = int(xy[0]), int(xy[1])
  return frame[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).astype(float).mean(0)


def _object_offset(frame: np.ndarray, xy, target_bgr: np.ndarray,
                   half: int) -> float:
  """Distance from ``xy`` to the centroid of the object-coloured pixels."""
  x, y = int(xy[0]), int(xy[1])
  window = frame[y - half:y + half + 1, x - half:x + half + 1].astype(float)
  mask = np.abs(window - target_bgr).max(-1) < 60
  rows, cols = np.nonzero(mask)
  return float(np.hypot(rows.mean() - half, cols.mean() - half))


def _on_top(clip: dict, frame: int, size: int, hand: int,
            crop: int | None = None) -> bool:
  """No object drawn later covers the 3x3 pixels around ``hand``, and (with
  ``crop``) they lie outside the other present hands' crop boxes, where no
  object of ``hand`` is drawn."""
  boxes = helpers.object_boxes(clip, frame, size)
  hands = [b.hand for b in boxes]
  x, y = clip["hand_xy_px"][frame][hand]
  for box in boxes[hands.index(hand) + 1:]:
    x0, y0, x1, y1 = box.box
    if x0 <= x + 1 and x - 1 <= x1 and y0 <= y + 1 and y - 1 <= y1:
      return False
  if crop is not None:
    reach = crop / 2 + synthetic_render.CROP_MARGIN_PX + 2
    for other, info in enumerate(clip["hands"]):
      ox, oy = clip["hand_xy_px"][frame][other]
      if (other != hand and info["present"] and abs(ox - x) <= reach and
          abs(oy - y) <= reach):
        return False
  return True


def _tree_bytes(root: Path) -> dict[str, bytes]:
  return {str(p.relative_to(root)): p.read_bytes()
          for p in sorted(root.rglob("*")) if p.is_file()}


def test_class_names_and_helpers():
  assert len(synthetic.SYNTHETIC_CLASS_NAMES) == synthetic.NUM_CLASSES == 8
  assert synthetic.SYNTHETIC_CLASS_NAMES[0] == "raise+red_disc"
  assert synthetic.SYNTHETIC_CLASS_NAMES[7] == "circle+striped_square"
  for label in range(8):
    motion, obj = synthetic.class_parts(label)
    assert synthetic.class_index(motion, obj) == label
    assert synthetic.SYNTHETIC_CLASS_NAMES[label] == (
        f"{synthetic_motion.MOTION_NAMES[motion]}+{synthetic_motion.OBJECT_NAMES[obj]}")
  assert synthetic_render.crop_size_for_width(1920) == 50
  assert synthetic_render.crop_size_for_width(3840) == 100
  assert synthetic_render.crop_size_for_width(480) == synthetic_render.MIN_CROP_SIZE_PX
  with pytest.raises(ValueError, match="label 8"):
    synthetic.class_parts(8)


def test_bad_arguments_are_refused(tmp_path):
  with pytest.raises(ValueError, match="camera 4"):
    synthetic.generate_dataset(tmp_path, cameras=(4,))
  with pytest.raises(ValueError, match="actions"):
    synthetic.generate_dataset(tmp_path, actions=(9,))
  with pytest.raises(ValueError, match="num_frames_range"):
    synthetic.generate_dataset(tmp_path, num_frames_range=(12, 10))
  with pytest.raises(ValueError, match="num_frames_range"):
    synthetic.generate_dataset(tmp_path, num_frames_range=(4, 10))


def test_layout_names_and_meta(dataset):
  root, names = dataset
  assert names == sorted(names) and len(names) == 2 * 2 * 8
  meta = synthetic.load_meta(root)
  assert meta["class_names"] == list(synthetic.SYNTHETIC_CLASS_NAMES)
  assert meta["image_size"] == [320, 180]
  assert meta["crop_size_px"] == 24 and meta["seed"] == 3
  assert sorted(meta["clips"]) == names
  assert sorted(p.name for p in (root / synthetic.SKELETON_DIR).iterdir()) == [
      f"{n}.skeleton" for n in names]
  assert sorted(p.name for p in (root / synthetic.RGB_DIR).iterdir()) == [
      f"{n}_rgb.avi" for n in names]
  # NTU's own file lister accepts the directory.
  listed = ntu.list_skeleton_files(root / synthetic.SKELETON_DIR)
  assert [p.stem for p in listed] == names
  seen = collections.Counter()
  for name in names:
    clip = meta["clips"][name]
    sample = ntu.parse_sample_name(name)
    assert sample.label == clip["label"]
    assert sample.setup == 1 and sample.replication == 1
    assert meta["class_names"][clip["label"]] == clip["class_name"]
    assert (clip["motion"], clip["object"]) == synthetic.class_parts(
        clip["label"])
    seen[sample.subject, sample.camera] += 1
  assert seen == {(s, c): 8 for s in (1, 2) for c in (1, 2)}


def test_skeletons_round_trip_exactly(dataset):
  root, names = dataset
  meta = synthetic.load_meta(root)
  for name in names:
    sample = ntu.parse_sample_name(name)
    performance = synthetic_motion.make_performance(
        3, sample.setup, sample.subject, sample.replication, sample.action,
        num_frames_range=(10, 14))
    expected = synthetic_views.skeleton_sequence(
        name, performance, synthetic_views.camera_view(3, 1, sample.camera),
        (320, 180))
    loaded = ntu.load_skeleton(synthetic.skeleton_path(root, name))
    for field in dataclasses.fields(ntu.SkeletonSequence):
      want, got = getattr(expected, field.name), getattr(loaded, field.name)
      if field.name == "name":
        assert got == want == name
      else:
        assert got.dtype == want.dtype, field.name
        np.testing.assert_array_equal(got, want, err_msg=f"{name} {field.name}")
    clip = meta["clips"][name]
    assert loaded.num_frames == clip["num_frames"]
    assert loaded.num_bodies == clip["num_people"]


def test_skeleton_values_are_kinect_like(dataset):
  root, names = dataset
  people = collections.Counter()
  for name in names:
    seq = ntu.load_skeleton(synthetic.skeleton_path(root, name))
    people[seq.num_bodies] += 1
    assert np.all(seq.body_ids >= synthetic_motion.BODY_ID_BASE)
    assert len(set(seq.body_ids.tolist())) == seq.num_bodies
    assert np.all(seq.tracking_state == 2) and np.all(seq.present)
    # Standing 2.5-4 m in front of the camera, 1.5-1.95 m tall.
    assert np.all((seq.xyz[..., 2] > 2.2) & (seq.xyz[..., 2] < 4.2))
    height = seq.xyz[:, :, 3, 1] - seq.xyz[:, :, 15, 1]  # Head - FootLeft.
    assert np.all((height > 1.3) & (height < 1.95)), name
    norms = np.linalg.norm(seq.orientation, axis=-1)
    leaves = [skeletons.KINECT_V2.joint_names.index(j) for j in (
        "Head", "FootLeft", "FootRight", "HandTipLeft", "ThumbLeft",
        "HandTipRight", "ThumbRight")]
    inner = [j for j in range(25) if j not in leaves]
    np.testing.assert_allclose(norms[..., inner], 1.0, atol=1e-5)
    assert np.all(norms[..., leaves] == 0)
    depth = seq.depth_xy
    assert np.all((depth >= 0) & (depth < np.array(ntu.DEPTH_SIZE)))
    # NTU's colour focal length (1050 px at 1920 wide) scaled to 320 wide.
    x, y, z = (seq.xyz[..., i].astype(float) for i in range(3))
    np.testing.assert_allclose(seq.color_xy[..., 0], 160 + 175 * x / z,
                               atol=1e-3)
    np.testing.assert_allclose(seq.color_xy[..., 1], 90 - 175 * y / z,
                               atol=1e-3)
  assert people[1] > 0 and people[2] > 0


def test_videos_match_skeletons(dataset):
  root, names = dataset
  for name in names[::3]:
    seq = ntu.load_skeleton(synthetic.skeleton_path(root, name))
    capture = cv2.VideoCapture(str(synthetic.video_path(root, name)))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(30.0)
    assert int(capture.get(cv2.CAP_PROP_FOURCC)) == cv2.VideoWriter_fourcc(
        *"MJPG")
    capture.release()
    frames = _frames(synthetic.video_path(root, name))
    assert len(frames) == seq.num_frames
    assert all(f.shape == (180, 320, 3) for f in frames)


def test_objects_are_drawn_at_the_hand_pixels(dataset):
  root, names = dataset
  meta = synthetic.load_meta(root)
  outside_far, offsets, covered = [], [], 0
  for name in names:
    clip = meta["clips"][name]
    seq = ntu.load_skeleton(synthetic.skeleton_path(root, name))
    hands = synthetic_views.hand_pixels(seq)
    present = np.zeros((seq.num_frames, 4), bool)
    present[:, :2 * seq.num_bodies] = True
    inside = ((hands >= 12) & (hands < np.array([320, 180]) - 12)).all(-1)
    assert np.all(inside | ~present), name
    assert np.all(hands[~present] == 0)
    np.testing.assert_array_equal(np.round(hands), clip["hand_xy_px"])
    active, (start, stop) = clip["active_hand"], clip["motion_frames"]
    assert 0 < start < stop < clip["num_frames"]
    target = np.array(synthetic_render.OBJECT_CENTER_BGR[clip["object"]], float)
    for t, frame in enumerate(_frames(synthetic.video_path(root, name))):
      center = _center_bgr(frame, hands[t, active].round())
      error = np.abs(center - target).max()
      if start <= t < stop:
        if not _on_top(clip, t, meta["object_size_px"], active,
                       meta["crop_size_px"]):
          covered += 1
          continue
        assert error < 40, (name, t, error)
        offsets.append(_object_offset(frame, hands[t, active].round(), target,
                                      meta["object_size_px"] // 2 + 2))
      else:
        outside_far.append(error > 40)
  # Most motion frames show the object (others: occluded, or next to
  # another hand whose crop box it may not enter).
  assert len(offsets) > 4 * covered
  # Outside the motion phase the active hand is empty.
  assert np.mean(outside_far) > 0.95
  # The object is centred on the hand, not merely overlapping it.
  assert np.median(offsets) < 1.0, np.median(offsets)


def test_object_boxes_ground_truth(dataset):
  root, names = dataset
  meta = synthetic.load_meta(root)
  size = meta["object_size_px"]
  assert size == synthetic_render.object_size_px(meta["crop_size_px"])
  # Cards overhang the crop so that a hand glimpse sees only the object.
  assert meta["crop_size_px"] + 6 <= size <= 1.3 * meta["crop_size_px"]
  for name in names[:8]:
    clip = meta["clips"][name]
    seq = ntu.load_skeleton(synthetic.skeleton_path(root, name))
    hands = np.round(synthetic_views.hand_pixels(seq))
    start, stop = clip["motion_frames"]
    for t in range(clip["num_frames"]):
      boxes = helpers.object_boxes(clip, t, size)
      by_hand = {b.hand: b for b in boxes}
      assert (clip["active_hand"] in by_hand) == (start <= t < stop)
      for box in boxes:
        info = clip["hands"][box.hand]
        assert box.object_id == info["object"] != synthetic_motion.NO_OBJECT
        assert info["frames"][0] <= t < info["frames"][1]
        x0, y0, x1, y1 = box.box
        assert x1 - x0 == y1 - y0 == 2 * (size // 2)
        np.testing.assert_array_equal([(x0 + x1) / 2, (y0 + y1) / 2],
                                      hands[t, box.hand])
  with pytest.raises(IndexError, match=names[0]):
    helpers.object_boxes(meta["clips"][names[0]], 99, size)


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


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
  first = synthetic.generate_dataset(tmp_path / "a", **TINY)
  second = synthetic.generate_dataset(tmp_path / "b", **TINY)
  assert first == second
  a, b = _tree_bytes(tmp_path / "a"), _tree_bytes(tmp_path / "b")
  # Skeleton and video per clip, the meta file and the operative config.
  assert len(a) == 2 * len(first) + 2 and a == b
  synthetic.generate_dataset(tmp_path / "c", **dict(TINY, seed=6))
  c = _tree_bytes(tmp_path / "c")
  assert set(c) == set(a)
  for key in a:
    if key not in (synthetic.META_FILE, "operative_config.gin"):
      assert a[key] != c[key], key


def test_resume_completes_to_identical_files(tmp_path):
  root = tmp_path / "set"
  names = synthetic.generate_dataset(root, **TINY)
  reference = _tree_bytes(root)
  # Interrupt in several ways: a clip lost entirely, a clip without video,
  # half-written temporary files of complete and incomplete clips.
  synthetic.skeleton_path(root, names[0]).unlink()
  synthetic.video_path(root, names[0]).unlink()
  synthetic.video_path(root, names[1]).unlink()
  skel = synthetic.skeleton_path(root, names[2])
  skel.with_name(skel.name + ".tmp").write_text("3\n1\n")
  video = synthetic.video_path(root, names[1])
  video.with_name(video.stem + ".tmp.avi").write_bytes(b"RIFF")
  unchanged = synthetic.video_path(root, names[3])
  mtime = unchanged.stat().st_mtime_ns
  assert synthetic.generate_dataset(root, **TINY) == names
  assert _tree_bytes(root) == reference
  assert unchanged.stat().st_mtime_ns == mtime  # complete clips are skipped.
  assert not list(root.rglob("*.tmp*"))
  with pytest.raises(atomic.OutputExistsError, match="seed.*--overwrite"):
    synthetic.generate_dataset(root, **dict(TINY, seed=9))
  assert _tree_bytes(root) == reference  # refused before writing anything
  synthetic.generate_dataset(root, **dict(TINY, seed=9), overwrite=True)
  assert synthetic.load_meta(root)["generation"]["seed"] == 9
  assert _tree_bytes(root) != reference


def test_load_clip_uses_meta_image_size(dataset):
  root, names = dataset
  name = names[5]
  clip = synthetic.load_clip(root, name)
  meta = synthetic.load_meta(root)["clips"][name]
  assert clip.image_size == (320, 180)
  assert clip.label == meta["label"]
  assert clip.metadata["crop_size_px"] == 24
  assert clip.metadata["synthetic"]["active_hand"] == meta["active_hand"]
  present = clip.hand_valid
  assert present[:, :2].all()
  assert present[:, 2:].all() == (meta["num_people"] == 2)
  np.testing.assert_array_equal(
      np.round(clip.hand_xy_px)[present], np.array(meta["hand_xy_px"])[present])
  with pytest.raises(KeyError, match="S009"):
    synthetic.load_clip(root, "S009C001P001R001A001")


def test_full_hd_clip(tmp_path):
  names = synthetic.generate_dataset(
      tmp_path, num_subjects=1, cameras=(2,), actions=(4,),
      image_size=(1920, 1080), num_frames_range=(8, 8), seed=1)
  assert names == ["S001C002P001R001A004"]
  meta = synthetic.load_meta(tmp_path)
  assert meta["crop_size_px"] == 50
  clip = meta["clips"][names[0]]
  frames = _frames(synthetic.video_path(tmp_path, names[0]))
  assert len(frames) == 8 and frames[0].shape == (1080, 1920, 3)
  seq = ntu.load_skeleton(synthetic.skeleton_path(tmp_path, names[0]))
  np.testing.assert_allclose(
      seq.color_xy, synthetic_views.project_color(seq.xyz.astype(float),
                                            ntu.RGB_SIZE), atol=1e-3)
  target = np.array(synthetic_render.OBJECT_CENTER_BGR[clip["object"]], float)
  start, stop = clip["motion_frames"]
  offsets = []
  for t in range(start, stop):
    if not _on_top(clip, t, meta["object_size_px"], clip["active_hand"]):
      continue
    xy = clip["hand_xy_px"][t][clip["active_hand"]]
    assert np.abs(_center_bgr(frames[t], xy) - target).max() < 40
    offsets.append(_object_offset(frames[t], xy, target, 40))
  assert np.median(offsets) < 2.0


def _run_tool(*args: str) -> subprocess.CompletedProcess:
  # A subprocess: absl flags are process-global and other binaries define
  # flags of the same names.
  env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
  return subprocess.run([sys.executable, "-m", "tools.make_synthetic", *args],
                        cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                        timeout=120)


@pytest.mark.slow
def test_binary_with_gin(tmp_path):
  gin_file = tmp_path / "small.gin"
  gin_file.write_text("generate_dataset.num_subjects = 1\n"
                      "generate_dataset.cameras = (1,)\n"
                      "generate_dataset.image_size = (128, 96)\n")
  result = _run_tool(f"--output_dir={tmp_path / 'out'}",
                     f"--gin_files={gin_file}",
                     "--gin_bindings=generate_dataset.actions = (3, 5)",
                     "--gin_bindings=generate_dataset.num_frames_range = (8, 9)")
  assert result.returncode == 0, result.stderr
  assert "clips/s" in result.stderr
  meta = synthetic.load_meta(tmp_path / "out")
  assert sorted(meta["clips"]) == ["S001C001P001R001A003",
                                   "S001C001P001R001A005"]
  assert meta["image_size"] == [128, 96]
  operative = (tmp_path / "out" / "operative_config.gin").read_text()
  assert "generate_dataset.actions = (3, 5)" in operative
  bad = _run_tool(f"--output_dir={tmp_path / 'bad'}",
                  "--gin_bindings=generate_dataset.no_such_arg = 1")
  assert bad.returncode != 0 and "no_such_arg" in bad.stderr


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


def _object_pixels(performance, seq, background, object_size, crop, hand):
  """bool ``[T, H, W]``: pixels that ``hand``'s object changes in the frames."""
  alone = dataclasses.replace(performance, hand_objects=[
      obj if h == hand else synthetic_motion.NO_OBJECT
      for h, obj in enumerate(performance.hand_objects)])
  empty = dataclasses.replace(
      performance, hand_objects=[synthetic_motion.NO_OBJECT] * 4)
  with_object = synthetic_render.render_frames(alone, seq, background,
                                               object_size, crop)
  without = synthetic_render.render_frames(empty, seq, background,
                                           object_size, crop)
  return np.stack([np.any(a != b, axis=-1)
                   for a, b in zip(with_object, without)])


def test_an_object_shows_only_in_the_crop_of_the_hand_holding_it():
  """No pixel of a hand's object falls in another hand's crop box, from
  every camera, in clips built to bring hands close (two people)."""
  size = (240, 135)
  crop = synthetic_render.crop_size_for_width(size[0])
  object_size = synthetic_render.object_size_px(crop)
  checked = close = 0
  for subject in (1, 2):
    for action in range(1, synthetic.NUM_CLASSES + 1):
      performance = synthetic_motion.make_performance(
          4, 1, subject, 1, action, num_frames_range=(20, 24),
          second_person_probability=1.0, uniform_appearance=True)
      for camera in (1, 2, 3):
        seq = synthetic_views.skeleton_sequence(
            "S001C001P001R001A001", performance,
            synthetic_views.camera_view(4, 1, camera), size)
        background = synthetic_render.make_background(4, 1, camera, size)
        hands = synthetic_views.hand_pixels(seq)
        y0, x0, side, valid = glimpse_crops.pixel_boxes(
            hands, np.ones(hands.shape[:2], bool), crop, size)
        for hand in range(4):
          if performance.hand_objects[hand] == synthetic_motion.NO_OBJECT:
            continue
          pixels = _object_pixels(performance, seq, background, object_size,
                                  crop, hand)
          assert pixels.any()
          for t in range(seq.num_frames):
            for other in set(range(4)) - {hand}:
              top, left = int(y0[t, other]), int(x0[t, other])
              box = pixels[t, top:top + int(side[t, other]) + 1,
                           left:left + int(side[t, other]) + 1]
              assert not box.any(), (subject, action, camera, hand, other, t)
              checked += 1
              # Hands whose boxes would have taken part of this card.
              close += bool(np.hypot(*(hands[t, hand] - hands[t, other])) <
                            (object_size + crop) / 2)
  assert checked > 1000
  assert close > 20  # the guarantee was exercised, not vacuous


@pytest.mark.parametrize("counter_object_probability", [1.0, 0.5])
def test_skeletons_do_not_depend_on_the_object(tmp_path, monkeypatch,
                                               counter_object_probability):
  """Same seed, the two class objects swapped: identical skeleton files,
  other videos. (The generator draws nothing from the object.)"""
  kwargs = dict(num_subjects=2, cameras=(1, 2), image_size=(160, 96),
                num_frames_range=(10, 14), actions=(1, 4, 5, 8),
                second_person_probability=0.5, seed=2,
                counter_object_probability=counter_object_probability)
  synthetic.generate_dataset(tmp_path / "a", **kwargs)
  real = synthetic_motion.class_parts

  def swapped(label):
    motion, obj = real(label)
    return motion, 1 - obj

  monkeypatch.setattr(synthetic_motion, "class_parts", swapped)
  synthetic.generate_dataset(tmp_path / "b", **kwargs)
  names = sorted(synthetic.load_meta(tmp_path / "a")["clips"])
  assert len(names) == 16
  for name in names:
    a_meta = synthetic.load_meta(tmp_path / "a")["clips"][name]
    b_meta = synthetic.load_meta(tmp_path / "b")["clips"][name]
    assert a_meta["object"] == 1 - b_meta["object"]
    assert (synthetic.skeleton_path(tmp_path / "a", name).read_bytes() ==
            synthetic.skeleton_path(tmp_path / "b", name).read_bytes()), name
    assert (synthetic.video_path(tmp_path / "a", name).read_bytes() !=
            synthetic.video_path(tmp_path / "b", name).read_bytes()), name


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


@pytest.mark.parametrize("counter_object_probability", [1.0, 0.5])
def test_paired_objects_record_one_performance_with_each_object(
    tmp_path, counter_object_probability):
  """The two classes of a motion: the same skeleton file, the class objects
  traded between the same hands, other videos."""
  root = tmp_path / "paired"
  synthetic.generate_dataset(
      root, num_subjects=3, cameras=(1, 2), image_size=(160, 96),
      num_frames_range=(10, 14), actions=(1, 2, 3, 4), seed=5,
      second_person_probability=0.5, paired_objects=True,
      counter_object_probability=counter_object_probability)
  clips = synthetic.load_meta(root)["clips"]
  assert len(clips) == 24
  counter_shown = []
  for name, meta in clips.items():
    if not name.endswith(("A001", "A003")):
      continue
    partner = name[:-1] + str(int(name[-1]) + 1)
    other = clips[partner]
    assert (meta["motion"], meta["object"]) == (other["motion"], 0)
    assert other["object"] == 1
    assert (synthetic.skeleton_path(root, name).read_bytes() ==
            synthetic.skeleton_path(root, partner).read_bytes()), name
    assert (synthetic.video_path(root, name).read_bytes() !=
            synthetic.video_path(root, partner).read_bytes()), name
    assert meta["active_hand"] == other["active_hand"]
    objects = [h["object"] for h in meta["hands"]]
    traded = [{0: 1, 1: 0}.get(h["object"], h["object"])
              for h in other["hands"]]
    assert objects == traded, name
    assert [h["frames"] for h in meta["hands"]] == [
        h["frames"] for h in other["hands"]]
    counter_shown.append(1 in objects)
  if counter_object_probability == 1.0:
    assert all(counter_shown)
  # Without pairs the two classes of a motion are different performances.
  a = synthetic_motion.make_performance(5, 1, 1, 1, 1)
  b = synthetic_motion.make_performance(5, 1, 1, 1, 2)
  assert a.xyz_world.shape != b.xyz_world.shape or not np.allclose(
      a.xyz_world, b.xyz_world)
  # The default draws as before the option existed.
  np.testing.assert_array_equal(
      a.xyz_world, synthetic_motion.make_performance(
          5, 1, 1, 1, 1, paired_objects=False).xyz_world)
