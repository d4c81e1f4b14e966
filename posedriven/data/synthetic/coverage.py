"""How much of its class object a holding hand's crop shows.

The renderer cuts an object card out of the JPEG blocks other hands' crops
read (``render.object_allowed``), so the holding hand's own crop loses the
cut part when hands come close; this measures that loss on a dataset's
performances, drawn again from its meta file (no video is read).
``benchmarks/object_coverage.py`` prints it for a dataset.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from posedriven.data import glimpse_crops
from posedriven.data import skeletons
from posedriven.data.synthetic import dataset
from posedriven.data.synthetic import motion
from posedriven.data.synthetic import render
from posedriven.data.synthetic import views


def card_coverage(generation: dict, crop: int, object_size: int
                  ) -> np.ndarray:
  """Per (clip, held object, motion-window frame): the share of the
  holding hand's crop box whose pixels its object changes."""
  width, height = generation["image_size"]
  backgrounds = {}
  shares = []
  for _, camera, performance, seq in dataset.plan_clips(generation):
    if camera not in backgrounds:
      backgrounds[camera] = render.make_background(
          generation["seed"], generation["setup"], camera, (width, height))
    empty = dataclasses.replace(
        performance, hand_objects=[motion.NO_OBJECT] * skeletons.NUM_HANDS)
    shown = np.stack(list(render.render_frames(
        performance, seq, backgrounds[camera], object_size, crop)))
    bare = np.stack(list(render.render_frames(
        empty, seq, backgrounds[camera], object_size, crop)))
    hands = views.hand_pixels(seq)
    present = np.arange(skeletons.NUM_HANDS) // 2 < len(performance.people)
    y0, x0, side, _ = glimpse_crops.pixel_boxes(
        hands, np.broadcast_to(present, hands.shape[:2]), crop,
        (width, height))
    for hand, obj in enumerate(performance.hand_objects):
      if obj == motion.NO_OBJECT:
        continue
      start, stop = performance.hand_windows[hand]
      for t in range(start, stop):
        top, left = int(y0[t, hand]), int(x0[t, hand])
        size = int(side[t, hand])
        box = (slice(top, top + size), slice(left, left + size))
        shares.append(np.any(shown[t][box] != bare[t][box], -1).mean())
  return np.asarray(shares)
