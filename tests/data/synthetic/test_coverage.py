"""How much of a held card its crop shows (synthetic/coverage.py)."""

from __future__ import annotations

import numpy as np

from posedriven.data.synthetic import coverage
from posedriven.data.synthetic import dataset
from posedriven.data.synthetic import motion
from posedriven.data.synthetic import render

_GENERATION = {"num_subjects": 1, "cameras": [1], "replications": 1,
               "image_size": [480, 270], "num_frames_range": [22, 24],
               "seed": 0, "setup": 1, "actions": [1, 2, 5, 6],
               "second_person_probability": 1.0, "uniform_appearance": True}


def test_cards_fill_their_crop_unless_cut_next_to_another_hand():
  crop = render.crop_size_for_width(480)
  shares = coverage.card_coverage(_GENERATION, crop,
                                  render.object_size_px(crop))
  num_held = sum(stop - start
                 for _, _, performance, _ in dataset.plan_clips(_GENERATION)
                 for (start, stop), obj in zip(performance.hand_windows,
                                               performance.hand_objects)
                 if obj != motion.NO_OBJECT)
  assert len(shares) == num_held
  assert np.all((shares >= 0) & (shares <= 1))
  # A card larger than the crop covers all of an uncut box (less the
  # shapes' anti-aliased edges), so most frames are near 1.
  assert np.median(shares) > 0.9
