"""Broken NTU ``.skeleton`` files: a clear error or a logged fallback, never
a numpy traceback or a silently wrong clip."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from posedriven.data.formats import ntu
from tests.faults import corpus

# fault -> (words the message must hold, besides the file name).
REFUSED = {
    "empty": (corpus.empty, "empty"),
    "blank_lines_only": (corpus.blank_lines_only, "empty"),
    "truncated_mid_joint": (corpus.truncated_mid_joint,
                            "values, expected 12"),
    "truncated_mid_file": (corpus.truncated_mid_file, "truncated"),
    "non_numeric_joint": (corpus.non_numeric_joint,
                          "non-numeric value 'abc' in joint 3"),
    "non_numeric_frame_count": (corpus.non_numeric_frame_count,
                                "frame count 'three' is not an integer"),
    "binary_garbage": (corpus.binary_garbage, "frame count"),
    "26_joints": (corpus.joint_count(26), "26 joints"),
    "27_joints": (corpus.joint_count(27), "27 joints"),
    "24_joints": (corpus.joint_count(24), "24 joints"),
    "negative_frame_count": (corpus.negative_frame_count,
                             "frame count is negative (-4)"),
    "negative_body_count": (corpus.negative_body_count,
                            "body count of frame 1 is negative (-1)"),
    "negative_joint_count": (corpus.negative_joint_count,
                             "joint count is negative (-25)"),
    "absurd_frame_count": (corpus.absurd_frame_count, "implausibly large"),
    "absurd_body_count": (corpus.absurd_body_count, "implausibly large"),
    "absurd_joint_count": (corpus.absurd_joint_count, "implausibly large"),
    "frame_count_beyond_data": (corpus.frame_count_beyond_data, "truncated"),
    "float_body_count": (corpus.float_body_count, "not an integer"),
    "nan_body_id": (corpus.nan_body_id, "bodyID 'nan' is not an integer"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_malformed_file_is_refused_naming_file_and_problem(case, tmp_path):
  fault, words = REFUSED[case]
  path = corpus.break_skeleton(corpus.write_valid_skeleton(tmp_path), fault)
  for load in (ntu.load_skeleton, ntu.load_clip):
    with pytest.raises(ntu.SkeletonFormatError) as info:
      load(path)
    # Exactly the format error: not a bare ValueError/IndexError from numpy.
    assert type(info.value) is ntu.SkeletonFormatError
    assert str(path) in str(info.value)
    assert words in str(info.value)


def _messages(caplog, level=logging.INFO):
  return [r.getMessage() for r in caplog.records if r.levelno >= level]


def _load_logged(caplog, seq, tmp_path, level=logging.WARNING):
  path = tmp_path / f"{seq.name}.skeleton"
  ntu.write_skeleton(path, seq)
  with caplog.at_level(logging.INFO):
    clip = ntu.load_clip(path)
  logged = [m for m in _messages(caplog, level) if seq.name in m]
  return clip, logged


def test_every_frame_without_bodies_is_refused_naming_the_clip(tmp_path):
  seq = corpus.without_bodies(corpus.valid_sequence())
  path = tmp_path / f"{seq.name}.skeleton"
  ntu.write_skeleton(path, seq)
  assert ntu.load_skeleton(path).num_bodies == 0
  with pytest.raises(ntu.EmptySkeletonError) as info:
    ntu.load_clip(path)
  assert f"{path}: no body is tracked in any frame" in str(info.value)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_hand_is_untracked_and_logged(value, caplog, tmp_path):
  seq = corpus.with_nan_hand(corpus.valid_sequence(), frames=(1, 2),
                             value=value)
  clip, logged = _load_logged(caplog, seq, tmp_path)
  assert any("NaN/inf" in m for m in logged), logged
  assert np.isfinite(clip.xyz).all() and np.isfinite(clip.hand_xy_px).all()
  left = corpus.HANDS[0]
  # The bad joint is zeroed; the rest of the body is untouched.
  np.testing.assert_array_equal(clip.xyz[1:3, 0, left], 0.0)
  np.testing.assert_array_equal(clip.xyz[[0, 3], 0],
                                seq.xyz[[0, 3], 0])
  np.testing.assert_array_equal(clip.hand_valid[:, 0],
                                [True, False, False, True])
  assert clip.hand_valid[:, 1].all()


def test_five_bodies_keep_the_two_actors_and_log(caplog, tmp_path):
  seq = corpus.with_extra_bodies(corpus.valid_sequence(num_bodies=2),
                                 total=5)
  clip, logged = _load_logged(caplog, seq, tmp_path, level=logging.INFO)
  assert any("5 bodies tracked" in m and "dropped" in m for m in logged)
  # The actors appear in every frame and move; the false positives do not.
  assert clip.present.all()
  np.testing.assert_array_equal(clip.xyz, seq.xyz[:, :2])


def test_duplicate_body_id_keeps_the_first_and_logs(caplog, tmp_path):
  seq = corpus.with_duplicate_body_id(corpus.valid_sequence())
  clip, logged = _load_logged(caplog, seq, tmp_path)
  assert any("repeats bodyID 101" in m for m in logged), logged
  np.testing.assert_array_equal(clip.present, [[True, False]] * 4)
  np.testing.assert_array_equal(clip.xyz[:, 0], seq.xyz[:, 0])


def test_data_after_the_last_frame_is_ignored_and_logged(caplog, tmp_path):
  path = corpus.break_skeleton(corpus.write_valid_skeleton(tmp_path),
                               corpus.trailing_garbage)
  with caplog.at_level(logging.WARNING):
    seq = ntu.load_skeleton(path)
  assert seq.num_frames == 4
  assert any(corpus.SAMPLE_NAME in m and "after the last of 4 frames" in m
             for m in _messages(caplog))


def test_file_name_without_sample_name(caplog, tmp_path):
  path = corpus.write_valid_skeleton(tmp_path, name="kinect_take_3")
  with caplog.at_level(logging.WARNING):
    clip = ntu.load_clip(path)
  # No label can be guessed: -1 (unknown), said in the log, not a class.
  assert clip.label == -1 and clip.metadata == {}
  assert any("kinect_take_3" in m and "label unknown" in m
             for m in _messages(caplog))
  with pytest.raises(ValueError, match="kinect_take_3.*SsssCcccPpppRrrrAaaa"):
    ntu.parse_sample_name(path)
  # Listing a dataset directory leaves it out, saying so.
  good = corpus.write_valid_skeleton(tmp_path)
  caplog.clear()
  with caplog.at_level(logging.WARNING):
    assert ntu.list_skeleton_files(tmp_path) == [good]
  assert any("kinect_take_3.skeleton" in m and "not an NTU sample name" in m
             for m in _messages(caplog))
