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

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np

from posedriven.data import synthetic
from posedriven.data.synthetic import coverage

flags.DEFINE_string("dataset_root", None, "Synthetic NTU-format dataset.",
                    required=True)
FLAGS = flags.FLAGS


def main(argv):
  del argv
  meta = synthetic.load_meta(FLAGS.dataset_root)
  shares = coverage.card_coverage(meta["generation"], meta["crop_size_px"],
                                  meta["object_size_px"])
  print(f"{FLAGS.dataset_root}: {len(shares)} (clip, held object, frame)"
        f" in motion windows; card covers {100 * shares.mean():.1f}% of the"
        f" holding hand's crop on average; > half: "
        f"{100 * np.mean(shares > 0.5):.1f}% of frames; none: "
        f"{100 * np.mean(shares == 0):.1f}%")


if __name__ == "__main__":
  app.run(main)
