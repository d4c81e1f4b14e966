r"""How much of the class object the holding hand's crop shows.

The renderer cuts an object card out of the JPEG blocks that other hands'
crops read (``render.object_allowed``), so no other crop sees it; the price
is that the holding hand's own crop loses the cut part when hands come
close. This draws a synthetic dataset's performances again from its meta
file (no video is read), renders each motion window with and without the
objects, and reports the share of the holding hand's crop box that its card
covers: the mean over (clip, hand, frame) and the share of frames that show
more than half a card or none of it.

  python3 benchmarks/object_coverage.py --dataset_root=demo_output/synthetic_ntu
"""

from __future__ import annotations

import dataclasses
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np

from posedriven.data import glimpse_crops
from posedriven.data import skeletons
from posedriven.data import synthetic
from posedriven.data.synthetic import motion
from posedriven.data.synthetic import render
from posedriven.data.synthetic import views

flags.DEFINE_string("dataset_root", None, "Synthetic NTU-format dataset.",
                    required=True)
FLAGS = flags.FLAGS


def card_coverage(generation: dict, crop: int, object_size: int
                  ) -> np.ndarray:
  """Per (clip, held object, motion-window frame): the share of the
  holding hand's crop box whose pixels its object changes."""
  width, height = generation["image_size"]
  backgrounds = {}
  shares = []
  for _, camera, performance, seq in synthetic.plan_clips(generation):
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
        top, left, size = int(y0[t, hand]), int(x0[t, hand]), int(side[t, hand])
        box = (slice(top, top + size), slice(left, left + size))
        shares.append(np.any(shown[t][box] != bare[t][box], -1).mean())
  return np.asarray(shares)


def main(argv):
  del argv
  meta = synthetic.load_meta(FLAGS.dataset_root)
  shares = card_coverage(meta["generation"], meta["crop_size_px"],
                         meta["object_size_px"])
  print(f"{FLAGS.dataset_root}: {len(shares)} (clip, held object, frame)"
        f" in motion windows; card covers {100 * shares.mean():.1f}% of the"
        f" holding hand's crop on average; > half: "
        f"{100 * np.mean(shares > 0.5):.1f}% of frames; none: "
        f"{100 * np.mean(shares == 0):.1f}%")


if __name__ == "__main__":
  app.run(main)
