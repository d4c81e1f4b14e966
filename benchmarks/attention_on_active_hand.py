r"""How often the demo model's spatial attention finds the hand that matters.

The synthetic set records, per clip, which hand performs the class motion and
holds the class object (``synthetic_meta.json``: ``active_hand``). This runs
the exported model on the cross-subject test clips of one camera and reports
the share of clips whose time-weighted spatial attention (``sum_t p'_t p_t``,
averaged over the 10 sub-sequences) is highest on that hand, and its mean
weight there. Chance is 1 / (hands present): 1/2 for one person, 1/4 for two.
The interval is the project's bootstrap over performances
(``posedriven.evaluation.bootstrap``): with ``paired_objects`` the two
clips of a performance share everything but the object, so they are one
unit, not two independent clips.

  python3 benchmarks/attention_on_active_hand.py \
    --dataset_root=demo_output/synthetic_ntu --model=demo_output/export
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np
import tensorflow as tf

from posedriven.data.formats import ntu
from posedriven.data import synthetic
from posedriven.evaluation import bootstrap
from posedriven.evaluation import tables
from posedriven.export import predict

flags.DEFINE_string("dataset_root", None, "Synthetic dataset.", required=True)
flags.DEFINE_string("model", None, "Export directory.", required=True)
flags.DEFINE_integer("camera", 1, "Camera whose test clips are used.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  full_meta = synthetic.load_meta(FLAGS.dataset_root)
  meta = full_meta["clips"]
  loaded = tf.saved_model.load(FLAGS.model)
  names, hits, weights, chance = [], [], [], []
  for name in sorted(meta):
    info = ntu.parse_sample_name(name)
    if info.subject % 2 == 1 or info.camera != FLAGS.camera:
      continue  # synthetic_cs: odd subjects train.
    result = predict.predict_clip(
        FLAGS.model, synthetic.skeleton_path(FLAGS.dataset_root, name),
        synthetic.video_path(FLAGS.dataset_root, name), loaded=loaded)
    pooled = (result.spatial_attention
              * result.temporal_attention[..., None]).sum(1).mean(0)
    active = meta[name]["active_hand"]
    names.append(name)
    hits.append(pooled.argmax() == active)
    weights.append(pooled[active])
    chance.append(1.0 / max(int((pooled > 1e-6).sum()), 1))
  paired = full_meta.get("generation", {}).get("paired_objects", False)
  groups = bootstrap.performance_ids(
      names, synthetic.paired_action_groups() if paired else None)
  summary = bootstrap.summarize(
      ["active"], bootstrap.Seeds((np.array([hits], bool),), (groups,)))
  row = summary["rows"]["active"]
  print(f"{len(hits)} test clips ({summary['num_performances']}"
        f" performances), camera {FLAGS.camera}: spatial attention highest"
        f" on the active hand in {100 * row['top1']:.1f}%, 95% interval"
        f" {tables.format_interval(row)} (bootstrap over performances;"
        f" chance {100 * np.mean(chance):.1f}%), mean weight there"
        f" {np.mean(weights):.3f}")


if __name__ == "__main__":
  app.run(main)
