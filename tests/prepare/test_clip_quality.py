"""Degraded clips and labels outside the classes (prepare.clip_quality)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from posedriven.data.formats import ntu
from posedriven.data.formats import registry
from posedriven.prepare import clip_quality
from tests.faults import corpus


@pytest.fixture
def clip(tmp_path):
  return ntu.load_clip(corpus.write_valid_skeleton(tmp_path))


def test_degradation_thresholds(clip):
  degradation = clip_quality.degradation
  assert clip_quality.MIN_VIDEO_FRAME_FRACTION == 0.5
  assert degradation(clip, 20, 20) is None
  assert degradation(clip, 20, 10) is None  # 50%: still ok
  assert "only 9 of the skeleton's 20" in degradation(clip, 20, 9)
  assert degradation(clip, 20, -1) is None  # video not read
  blind = dataclasses.replace(clip,
                              hand_valid=np.zeros_like(clip.hand_valid))
  assert "no hand" in degradation(blind, 20, 20)


def test_degradation_gives_every_reason_in_order(clip):
  # A 0-frame video, the reader's own finding, then the blank glimpses.
  worst = dataclasses.replace(clip, defects=("skeleton: body 2 dropped",),
                              hand_valid=np.zeros_like(clip.hand_valid))
  reasons = clip_quality.degradation(worst, 20, 0)
  assert reasons == (
      "video: only 0 of the skeleton's 20 frames decode (threshold 50%);"
      " the record keeps 0; skeleton: body 2 dropped; skeleton: no hand is"
      " tracked and valid in any frame (every hand joint untracked or NaN);"
      " every glimpse is blank")
  # The reader's findings alone degrade a clip whose video is fine.
  flagged = dataclasses.replace(clip, defects=("a", "b"))
  assert clip_quality.degradation(flagged, 20, 20) == "a; b"


def test_label_problem_names_the_valid_range():
  ntu60 = registry.get_format("ntu60")
  assert clip_quality.label_problem(0, ntu60) is None
  assert clip_quality.label_problem(59, ntu60) is None
  for label in (-1, 60):
    assert clip_quality.label_problem(label, ntu60) == (
        f"label {label} is outside the 60 classes of ntu60 (0..59);"
        " training could not use it")
  synthetic = registry.get_format("synthetic")
  last = len(synthetic.class_names) - 1
  assert clip_quality.label_problem(last, synthetic) is None
  assert f"(0..{last})" in clip_quality.label_problem(last + 1, synthetic)
