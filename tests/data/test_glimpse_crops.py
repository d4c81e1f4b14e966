"""Tests for posedriven.data.glimpse_crops."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from posedriven.data import glimpse_crops
from posedriven.data import synthetic
from posedriven.data import video
from tests import helpers


def _hands(xy, valid=(True, True, True, True)):
  return (np.asarray(xy, np.float32).reshape(1, 4, 2),
          np.asarray(valid, bool).reshape(1, 4))


def test_box_inside_image_is_centred_on_the_hand():
  xy, valid = _hands([[50.5, 30.5], [10, 10], [20, 20], [30, 30]])
  boxes, box_valid = glimpse_crops.crop_boxes(xy, valid, 10, (101, 61))
  assert boxes.shape == (4, 4) and box_valid.shape == (4,)
  # Pixels 46..55 (x) and 26..35 (y), normalised by (W-1, H-1) = (100, 60).
  np.testing.assert_allclose(boxes[0], [26 / 60, 46 / 100, 35 / 60, 55 / 100],
                             rtol=1e-6)
  assert box_valid.all()


def test_hands_outside_image_are_clamped_and_flagged():
  xy, valid = _hands([[-40, 30], [130, 70], [50, 30], [99.5, 59.5]])
  boxes, box_valid, clamped = glimpse_crops.crop_boxes(
      xy, valid, 10, (101, 61), return_clamped=True)
  assert box_valid.all()
  assert clamped.tolist() == [True, True, False, True]
  assert boxes.min() >= 0 and boxes.max() <= 1
  # Size is kept: 9 pixel steps in each direction.
  np.testing.assert_allclose(boxes[:, 2] - boxes[:, 0], 9 / 60, rtol=1e-5)
  np.testing.assert_allclose(boxes[:, 3] - boxes[:, 1], 9 / 100, rtol=1e-5)
  np.testing.assert_allclose(boxes[0, 1], 0.0, atol=1e-7)  # left border
  np.testing.assert_allclose(boxes[1, 3], 1.0, rtol=1e-6)  # right border
  np.testing.assert_allclose(boxes[1, 2], 1.0, rtol=1e-6)  # bottom border


def test_untracked_and_nan_hands_are_invalid():
  xy, valid = _hands([[50, 30], [np.nan, 3], [50, 30], [50, 30]],
                     valid=[True, True, False, True])
  boxes, box_valid = glimpse_crops.crop_boxes(xy, valid, 10, (101, 61))
  assert box_valid.tolist() == [True, False, False, True]
  assert not boxes[1].any() and not boxes[2].any()


def test_bad_shapes_raise():
  with pytest.raises(ValueError, match=r"\[N, 4, 2\]"):
    glimpse_crops.crop_boxes(np.zeros((2, 3, 2)), np.ones((2, 3), bool), 10,
                             (100, 100))
  with pytest.raises(ValueError, match="crop_size_px"):
    glimpse_crops.crop_boxes(np.zeros((2, 4, 2)), np.ones((2, 4), bool),
                             np.ones(3), (100, 100))


def test_crops_match_crop_and_resize_on_whole_frames():
  # The patch path is the documented box convention, resampled nearer 0.
  rng = np.random.default_rng(0)
  frames = rng.integers(0, 256, (3, 90, 120, 3), dtype=np.uint8)
  xy = rng.uniform(-30, 150, (3, 4, 2)).astype(np.float32)
  valid = rng.random((3, 4)) > 0.2
  sizes = np.array([7.3, 20.0, 33.6], np.float32)
  boxes, box_valid = glimpse_crops.crop_boxes(xy, valid, sizes, (120, 90))
  reference = tf.image.crop_and_resize(frames, boxes, np.repeat(range(3), 4),
                                       [16, 16]).numpy()
  reference = np.where(box_valid[:, None, None, None], reference, 0.0)
  crops = glimpse_crops.crop_hands(frames, xy, valid, sizes, 16).numpy()
  assert crops.shape == (3, 4, 16, 16, 3)
  np.testing.assert_allclose(crops.reshape(reference.shape), reference,
                             atol=0.51)


def test_boxes_at_the_far_border_never_sample_outside():
  # Float32 rounding puts the last sample of a box touching the bottom or
  # right border just past it, where crop_and_resize would extrapolate 0.
  frames = np.full((1, 1080, 1920, 3), 7, np.uint8)
  xy = np.array([[[1919.9, 1079.9], [1919.9, 10], [10, 1079.9],
                  [2500, 1500]]], np.float32)
  for size in (25.3, 50.0, 61.7):
    crops = glimpse_crops.crop_hands(frames, xy, np.ones((1, 4), bool), size,
                                     75).numpy()
    assert crops.min() == 7, size


def test_bgr_frames_give_rgb_crops():
  rng = np.random.default_rng(2)
  rgb = rng.integers(0, 256, (2, 30, 40, 3), dtype=np.uint8)
  xy = rng.uniform(0, 40, (2, 4, 2)).astype(np.float32)
  valid = np.ones((2, 4), bool)
  expected = glimpse_crops.crop_hands(rgb, xy, valid, 9.5, 12).numpy()
  got = glimpse_crops.crop_hands(rgb[..., ::-1].copy(), xy, valid, 9.5, 12,
                                 bgr=True).numpy()
  np.testing.assert_array_equal(got, expected)


def test_crop_larger_than_the_frame_repeats_border_pixels():
  frames = np.zeros((1, 8, 8, 3), np.uint8)
  frames[0, :, -1] = 100  # right column
  crops = glimpse_crops.crop_hands(frames, np.full((1, 4, 2), 4.0, np.float32),
                                   np.ones((1, 4), bool), 12, 12).numpy()
  # The box starts at the frame's corner; columns past it repeat column 7.
  assert (crops[0, 0, :, 7:] == 100).all() and not crops[0, 0, :, :7].any()


def test_patches_are_small_and_boxes_normalised_to_them():
  frames = np.zeros((2, 1080, 1920, 3), np.uint8)
  xy = np.array([[[960, 540], [25, 25], [1900, 1070], [0, 0]]] * 2,
                np.float32)
  valid = np.array([[True, True, True, False]] * 2)
  patches = glimpse_crops.cut_patches(frames, xy, valid, 50)
  assert patches.patches.shape == (2, 4, 52, 52, 3)
  assert patches.boxes.shape == (2, 4, 4) and patches.valid.shape == (2, 4)
  assert (patches.boxes[valid] >= 0).all() and (patches.boxes[valid] < 1).all()
  assert not patches.boxes[~valid].any()


def test_patch_chunks_match_crop_hands_on_a_reused_buffer():
  rng = np.random.default_rng(3)
  frames = rng.integers(0, 256, (7, 40, 50, 3), dtype=np.uint8)
  xy = rng.uniform(0, 50, (7, 4, 2)).astype(np.float32)
  valid = rng.random((7, 4)) > 0.3

  def stream():
    buffer = np.empty_like(frames[0])  # like read_frames(rgb=False)
    for index in (0, 2, 3, 3, 6):
      buffer[...] = frames[index]
      yield index, buffer

  chunks = list(glimpse_crops.patch_chunks(stream(), xy, valid, 11.0, 2))
  assert [c[0].tolist() for c in chunks] == [[0, 2], [3, 3], [6]]
  indices = np.concatenate([c[0] for c in chunks])
  crops = np.concatenate([
      glimpse_crops.resize_patches(*c[1], 14).numpy() for c in chunks])
  expected = glimpse_crops.crop_hands(frames[indices], xy[indices],
                                      valid[indices], 11.0, 14).numpy()
  np.testing.assert_array_equal(crops, expected)
  with pytest.raises(ValueError, match="chunk_frames"):
    next(glimpse_crops.patch_chunks(stream(), xy, valid, 11.0, 0))


def test_crop_at_native_size_copies_pixels():
  rng = np.random.default_rng(1)
  frames = rng.integers(0, 256, (2, 40, 60, 3), dtype=np.uint8)
  # Centre 14.5 with size 10 starts at pixel 10.
  xy = np.array([[[14.5, 20.5], [40.5, 10.5], [0, 0], [54.5, 34.5]],
                 [[5.5, 5.5], [30.5, 30.5], [10.5, 20.5], [-50, -50]]],
                np.float32)
  valid = np.array([[True, True, False, True], [True] * 4])
  crops = glimpse_crops.crop_hands(frames, xy, valid, 10, 10).numpy()
  assert crops.shape == (2, 4, 10, 10, 3) and crops.dtype == np.uint8
  np.testing.assert_array_equal(crops[0, 0], frames[0, 16:26, 10:20])
  np.testing.assert_array_equal(crops[0, 1], frames[0, 6:16, 36:46])
  assert not crops[0, 2].any()  # untracked
  np.testing.assert_array_equal(crops[0, 3], frames[0, 30:40, 50:60])
  np.testing.assert_array_equal(crops[1, 0], frames[1, 1:11, 1:11])
  np.testing.assert_array_equal(crops[1, 3], frames[1, 0:10, 0:10])  # clamped


def test_crop_resizes_and_accepts_per_frame_sizes():
  frames = np.zeros((2, 50, 50, 3), np.uint8)
  frames[:, 20:30, 20:30] = 200
  xy = np.full((2, 4, 2), 24.5, np.float32)
  valid = np.ones((2, 4), bool)
  crops = glimpse_crops.crop_hands(frames, xy, valid, np.array([10.0, 30.0]),
                                   20).numpy()
  assert crops.shape == (2, 4, 20, 20, 3)
  assert crops[0].min() == 200  # the crop is exactly the bright square
  # A 30 px crop sees the square in its middle third only.
  assert crops[1, 0, 10, 10, 0] == 200 and crops[1, 0, 0, 0, 0] == 0


def test_resize_patches_in_tf_function():
  patches = glimpse_crops.cut_patches(
      np.full((3, 30, 40, 3), 7, np.uint8), np.full((3, 4, 2), 15, np.float32),
      np.ones((3, 4), bool), 8.0)
  fn = tf.function(lambda p, b, v: glimpse_crops.resize_patches(p, b, v, 12))
  out = fn(*patches)
  assert out.shape == (3, 4, 12, 12, 3) and int(out.numpy().max()) == 7


def _center_colour(crop):
  s = crop.shape[0]
  c = s // 2
  return crop[c - 1:c + 1, c - 1:c + 1].reshape(-1, 3).mean(axis=0)


def test_crops_land_on_the_objects_in_the_hands(tmp_path):
  root = tmp_path / "synthetic"
  names = synthetic.generate_dataset(
      root, num_subjects=1, cameras=(1,), actions=(1, 2), image_size=(320, 180),
      num_frames_range=(12, 14), second_person_probability=1.0, seed=3)
  meta = synthetic.load_meta(root)
  hits, misses, shifted_hits, checked = 0, 0, 0, 0
  for name in names:
    clip = synthetic.load_clip(root, name)
    with video.VideoReader(synthetic.video_path(root, name)) as reader:
      frames = np.stack(list(reader))
    assert reader.size == tuple(clip.image_size)
    size = meta["crop_size_px"]
    crops = glimpse_crops.crop_hands(frames, clip.hand_xy_px, clip.hand_valid,
                                     size, size).numpy()
    shifted = glimpse_crops.crop_hands(frames, clip.hand_xy_px + 2 * size,
                                       clip.hand_valid, size, size).numpy()
    present = [info["present"] for info in meta["clips"][name]["hands"]]
    for t in range(clip.num_frames):
      for box in helpers.object_boxes(meta["clips"][name], t,
                                      meta["object_size_px"]):
        if not helpers.shows_object_at(clip.hand_xy_px[t], present, size,
                                       clip.image_size, box.hand):
          continue  # cut out of another hand's blocks: nothing to land on
        expected_rgb = np.array(
            meta["object_center_bgr"][str(box.object_id)][::-1], np.float32)
        checked += 1
        err = np.abs(_center_colour(crops[t, box.hand]) - expected_rgb).mean()
        hits += err < 40
        misses += err >= 40
        shifted_err = np.abs(_center_colour(shifted[t, box.hand]) -
                             expected_rgb).mean()
        shifted_hits += shifted_err < 40
  assert checked >= 20
  assert hits >= 0.9 * checked, (hits, misses)
  assert shifted_hits <= 0.2 * checked


def test_scale_to_frames_keeps_the_scene_part():
  xy = np.array([[[960, 540], [0, 0], [1919, 1079], [100, 50]]], np.float32)
  scaled, crop = glimpse_crops.scale_to_frames(xy, 50, (1920, 1080),
                                               (480, 270))
  np.testing.assert_allclose(scaled, xy / 4)
  assert crop == pytest.approx(12.5)
  same, crop = glimpse_crops.scale_to_frames(xy, 50, (1920, 1080),
                                             (1920, 1080))
  np.testing.assert_array_equal(same, xy)
  assert crop == 50
