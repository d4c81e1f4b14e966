"""Tests for posedriven.data.video."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from posedriven.data import video
from tests.helpers import write_video_rgb

REAL_CLIP = "S001C001P001R001A001_rgb.avi"


def _flat_frames(n, size=(64, 48)):
  # Frame i is a flat grey of value 8 * i: survives MJPG nearly unchanged and
  # tells which frame was decoded.
  return [np.full((size[1], size[0], 3), 8 * i, np.uint8) for i in range(n)]


def _frame_id(frame):
  return int(round(frame.mean() / 8))


def test_real_ntu_clip_has_103_full_hd_frames(ntu_samples):
  with video.VideoReader(ntu_samples / REAL_CLIP) as reader:
    assert reader.num_frames == 103
    assert reader.size == (1920, 1080)
    assert reader.fps == pytest.approx(30.0)
    # Skipping (grab) to the last frames keeps the test fast.
    got = list(reader.read_frames([0, 102, 103]))
    assert reader.frames_decoded == 103
  assert [i for i, _ in got] == [0, 102]
  assert all(f.shape == (1080, 1920, 3) and f.dtype == np.uint8
             for _, f in got)
  assert not np.array_equal(got[0][1], got[1][1])


def test_frames_are_rgb(tmp_path):
  red = np.zeros((48, 64, 3), np.uint8)
  red[..., 0] = 255
  path = write_video_rgb(tmp_path / "red.avi", [red] * 3)
  with video.VideoReader(path) as reader:
    frame = next(iter(reader))
  assert frame[..., 0].mean() > 200
  assert frame[..., 2].mean() < 50


def test_skipping_matches_full_decode(tmp_path):
  path = write_video_rgb(tmp_path / "ids.avi", _flat_frames(12))
  with video.VideoReader(path) as reader:
    assert reader.num_frames == 12
    everything = [_frame_id(f) for f in reader]
  assert everything == list(range(12))
  with video.VideoReader(path) as reader:
    picked = [(i, _frame_id(f)) for i, f in reader.read_frames([1, 3, 3, 11])]
  assert picked == [(1, 1), (3, 3), (3, 3), (11, 11)]


def test_bgr_frames_share_one_buffer_and_match_rgb(tmp_path):
  frames = _flat_frames(9)
  for i, frame in enumerate(frames):
    frame[..., 0] = 255 - 8 * i  # distinct channels show the order
  path = write_video_rgb(tmp_path / "ids.avi", frames)
  wanted = [0, 2, 2, 5, 6, 8]
  with video.VideoReader(path) as reader:
    rgb = [(i, f.copy()) for i, f in reader.read_frames(wanted)]
  with video.VideoReader(path, decode_threads=1) as reader:
    bgr, addresses = [], set()
    for i, frame in reader.read_frames(wanted, rgb=False):
      bgr.append((i, frame.copy()))
      addresses.add(frame.ctypes.data)
  assert [i for i, _ in bgr] == wanted
  for (_, expected), (_, got) in zip(rgb, bgr):
    np.testing.assert_array_equal(got, expected[..., ::-1])
  # Frame 0 is OpenCV's array from open(); every later one reuses a buffer.
  assert len(addresses) == 2


def test_real_clip_decodes_the_same_with_one_thread(ntu_samples):
  with video.VideoReader(ntu_samples / REAL_CLIP) as reader:
    assert reader.threads_in_use >= 1
    rgb = [f.copy() for _, f in reader.read_frames([0, 1, 40])]
  with video.VideoReader(ntu_samples / REAL_CLIP, decode_threads=1) as reader:
    assert reader.threads_in_use == 1
    bgr = [f.copy() for _, f in reader.read_frames([0, 1, 40], rgb=False)]
  for expected, got in zip(rgb, bgr):
    np.testing.assert_array_equal(got[..., ::-1], expected)


def test_decode_threads_reach_ffmpeg(tmp_path):
  path = write_video_rgb(tmp_path / "ids.avi", _flat_frames(3))
  with video.VideoReader(path, decode_threads=1) as reader:
    assert reader.threads_in_use == 1
    assert [_frame_id(f) for f in reader] == [0, 1, 2]


def test_decreasing_indices_rejected(tmp_path):
  path = write_video_rgb(tmp_path / "ids.avi", _flat_frames(4))
  with video.VideoReader(path) as reader:
    with pytest.raises(ValueError, match="non-decreasing"):
      list(reader.read_frames([2, 1]))


def test_missing_file(tmp_path):
  path = tmp_path / "nope.avi"
  with pytest.raises(video.VideoError, match="nope.avi.*does not exist"):
    video.VideoReader(path).open()


def test_empty_file(tmp_path):
  path = tmp_path / "empty.avi"
  path.touch()
  with pytest.raises(video.VideoError, match="empty.avi.*empty"):
    video.VideoReader(path).open()


def test_random_bytes_not_decodable(tmp_path):
  path = tmp_path / "noise.avi"
  path.write_bytes(np.random.default_rng(0).integers(
      0, 256, 20_000, dtype=np.uint8).tobytes())
  with pytest.raises(video.VideoError, match="noise.avi.*not a decodable"):
    with video.VideoReader(path):
      pass


def test_truncated_file_yields_what_decodes_and_logs(tmp_path, caplog):
  rng = np.random.default_rng(0)
  # Noise frames compress badly, so the cut falls between frames mid-stream.
  frames = [rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
            for _ in range(30)]
  full = write_video_rgb(tmp_path / "full.avi", frames)
  data = full.read_bytes()
  cut = tmp_path / "cut.avi"
  cut.write_bytes(data[:int(len(data) * 0.6)])
  with caplog.at_level(logging.WARNING):
    with video.VideoReader(cut) as reader:
      assert reader.num_frames == 30  # the header still says 30
      decoded = sum(1 for _ in reader)
  assert 0 < decoded < 30
  assert any("cut.avi" in r.getMessage() and "30" in r.getMessage()
             for r in caplog.records)


def test_image_sequence_reader(tmp_path, caplog):
  paths = []
  for i, frame in enumerate(_flat_frames(5)):
    path = tmp_path / f"rgb_{i:06d}.png"
    cv2.imwrite(str(path), frame)
    paths.append(path)
  paths[3].unlink()
  with video.open_source(paths) as reader:
    assert reader.num_frames == 5 and reader.size == (64, 48)
    with caplog.at_level(logging.WARNING):
      got = [(i, _frame_id(f)) for i, f in reader.read_frames([0, 2, 3, 4])]
  assert got == [(0, 0), (2, 2)]
  assert any("rgb_000003.png" in r.getMessage() for r in caplog.records)
