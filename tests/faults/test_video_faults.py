"""Broken videos: the reader refuses what cannot be decoded, naming the file,
and keeps only intact frames of a cut one; preparation scales hands to a
video of another resolution and keeps crops inside the frame."""

from __future__ import annotations

import dataclasses
import logging

import cv2
import numpy as np
import pytest

from posedriven.data.formats import ntu
from posedriven import prepare
from posedriven.data.formats import registry
from posedriven.data import video
from tests import helpers
from tests.faults import corpus


def _noise_frames(n=24, size=(160, 96)):
  # Noise compresses badly: frames are big, so cuts fall inside frames.
  rng = np.random.default_rng(0)
  base = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
  return [np.roll(base, 7 * i, axis=1) for i in range(n)]


@pytest.fixture(scope="module")
def full_video(tmp_path_factory):
  path = tmp_path_factory.mktemp("video") / "S001C001P001R001A001_rgb.avi"
  helpers.write_video_rgb(path, _noise_frames())
  return path, corpus.read_video_rgb(path)


REFUSED = {
    "missing": (lambda p: p.unlink(), "does not exist"),
    "zero_bytes": (corpus.zero_bytes, "empty (0 bytes)"),
    "random_bytes": (corpus.random_bytes, "not a decodable video"),
    "text_named_avi": (lambda p: p.write_text("not a video\n"),
                       "not a decodable video"),
    "header_only": (lambda p: p.write_bytes(p.read_bytes()[:600]),
                    "not a decodable video"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_undecodable_video_is_refused_naming_the_file(case, full_video,
                                                      tmp_path):
  fault, words = REFUSED[case]
  path = tmp_path / "S001C001P001R001A001_rgb.avi"
  path.write_bytes(full_video[0].read_bytes())
  fault(path)
  with pytest.raises(video.VideoError) as info:
    with video.VideoReader(path) as reader:
      list(reader)
  assert type(info.value) is video.VideoError
  assert str(path) in str(info.value) and words in str(info.value)


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.77, 0.98, 0.999])
def test_cut_video_yields_only_intact_frames(fraction, full_video, tmp_path,
                                             caplog):
  path = tmp_path / "cut_rgb.avi"
  path.write_bytes(full_video[0].read_bytes())
  corpus.cut_mid_stream(path, fraction)
  with caplog.at_level(logging.WARNING):
    with video.VideoReader(path) as reader:
      assert reader.num_frames == 24  # the header still counts every frame
      frames = list(reader.read_frames())
  assert 0 < len(frames) < 24
  for index, frame in frames:
    # A damaged frame would differ where the cut left no data.
    np.testing.assert_array_equal(frame, full_video[1][index],
                                  err_msg=f"frame {index}")
  assert any(str(path) in r.getMessage() and "cut" in r.getMessage()
             for r in caplog.records)
  # BGR reads into one buffer (what preparation uses) drop the same frame.
  with video.VideoReader(path) as reader:
    bgr = [index for index, _ in reader.read_frames(range(24), rgb=False)]
  assert bgr == [index for index, _ in frames]


# -- NTU layout: 1920x1080 hand pixels, a 480x270 video ----------------------

SCALE = 0.25
RED, GREEN, BLUE, GREY = (230, 20, 20), (20, 200, 20), (20, 20, 230), 128
LEFT, RIGHT = corpus.HANDS
SCALED = "S001C002P001R001A001"
OUTSIDE = "S001C002P001R001A002"


def _frame(hands_px):
  """A 480x270 frame: grey, green left border, a red and a blue square."""
  frame = np.full((270, 480, 3), GREY, np.uint8)
  frame[:, :20] = GREEN
  for (x, y), colour in zip(hands_px, (RED, BLUE)):
    cv2.rectangle(frame, (int(x) - 10, int(y) - 10), (int(x) + 10,
                                                      int(y) + 10),
                  colour, thickness=-1)
  return frame


def _hands_at(seq, left, right):
  color = seq.color_xy.copy()
  color[:, 0, LEFT] = left
  color[:, 0, RIGHT] = right
  return dataclasses.replace(seq, color_xy=color)


@pytest.fixture(scope="module")
def ntu_run(tmp_path_factory):
  root = tmp_path_factory.mktemp("ntu")
  (root / "nturgb+d_skeletons").mkdir()
  (root / "nturgb+d_rgb").mkdir()
  left, right = (480.0, 270.0), (1440.0, 810.0)  # 1920x1080 pixels
  frames = [_frame([(x * SCALE, y * SCALE) for x, y in (left, right)])] * 4
  clips = {
      SCALED: _hands_at(corpus.valid_sequence(name=SCALED), left, right),
      # Left hand 300 px left of the image; right hand's colour pixel lost.
      OUTSIDE: _hands_at(corpus.valid_sequence(name=OUTSIDE), (-300.0, 540.0),
                         (np.inf, np.inf)),
  }
  for name, seq in clips.items():
    ntu.write_skeleton(root / "nturgb+d_skeletons" / f"{name}.skeleton", seq)
    helpers.write_video_rgb(root / "nturgb+d_rgb" / f"{name}_rgb.avi", frames)
  out = root / "out"
  with helpers.capture_logs() as logs:
    # Camera 2 only: the training split of ntu60_cv.
    summary = prepare.prepare_dataset(root, out, dataset="ntu60",
                                      protocol="ntu60_cv", store="crops",
                                      log_every_s=1e9, allow_empty_split=True)
  return summary, helpers.records_by_name(out), logs


def _centre_colour(crops):
  s = crops.shape[-2]
  return crops[..., s // 4:3 * s // 4, s // 4:3 * s // 4, :].reshape(
      -1, 3).mean(axis=0)


def test_smaller_video_gets_scaled_hands_and_crop(ntu_run):
  summary, records, logs = ntu_run
  assert summary["clips"] == {"ok": 2, "error": 0, "skipped": 0,
                              "degraded": 0}
  record = records[SCALED]
  assert logs.messages(SCALED, "video is 480x270",
                       "hand pixels refer to 1920x1080", "scaling",
                       level=logging.WARNING)
  # 50 px of the Full-HD frame are 12.5 px of the 480x270 one.
  assert float(record["crop_size_px"]) == registry.NTU_CROP_SIZE_PX * SCALE
  assert record["image_size"].tolist() == [1920, 1080]
  # The crops land on the squares drawn at the scaled hand positions.
  np.testing.assert_allclose(_centre_colour(record["crops"][:, 0]), RED,
                             atol=25)
  np.testing.assert_allclose(_centre_colour(record["crops"][:, 1]), BLUE,
                             atol=25)


def test_hands_outside_are_clamped_or_masked(ntu_run):
  _, records, logs = ntu_run
  record = records[OUTSIDE]
  assert logs.messages(OUTSIDE, "leave the frame")
  assert logs.messages(OUTSIDE, "NaN/inf", level=logging.WARNING)
  valid = record["hand_valid"]
  assert valid[:, 0].all() and not valid[:, 1:].any()
  # The left hand's box is shifted inside, onto the green border.
  np.testing.assert_allclose(_centre_colour(record["crops"][:, 0]), GREEN,
                             atol=25)
  # No pixel position: an all-zero crop, flagged invalid.
  assert not record["crops"][:, 1:].any()
