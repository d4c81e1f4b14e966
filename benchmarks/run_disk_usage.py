r"""Bytes a training run keeps on disk at paper size (checkpoint retention).

Trains the pose stream and the RGB stream (row G) with the paper's sizes
(``gin_configs/{pose,rgb}/base.gin``, the defaults of ``train_pose`` and
``train_rgb``) for a few steps on a tiny synthetic set prepared like the
tests' (random 75-pixel glimpse sensor: features are 2048-wide as with
ImageNet weights at 299), then lists every file of both runs and computes
what a 200-epoch run holds with ``keep_checkpoints`` epoch checkpoints.
Model sizes, not data sizes, decide these figures; the synthetic set has 8
classes where NTU 60 has 60 (the classifier's share is printed).

  python3 benchmarks/run_disk_usage.py --output_dir=/tmp/disk_usage
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from pathlib import Path

from posedriven import config
from posedriven import prepare
from posedriven.data import synthetic
from posedriven.training import train_pose
from posedriven.training import train_rgb

flags.DEFINE_string("output_dir", None, "Scratch directory.", required=True)
flags.DEFINE_integer("epochs", 2, "Epochs of each short run.")
flags.DEFINE_integer("steps_per_epoch", 2, "Steps per epoch.")
FLAGS = flags.FLAGS


def _sizes(run: Path) -> dict[str, int]:
  return {str(p.relative_to(run)): p.stat().st_size
          for p in sorted(run.rglob("*")) if p.is_file()}


def _per_run_200_epochs(sizes: dict[str, int], keep: int) -> dict[str, int]:
  """Bytes of a finished 200-epoch run with ``keep`` checkpoints."""
  checkpoint = max(v for k, v in sizes.items() if k.startswith("checkpoints/"))
  model = sizes["best.keras"]
  small = sum(v for k, v in sizes.items()
              if not k.startswith(("checkpoints/", "backup/model", "best.keras",
                                   "tensorboard/")))
  return {"checkpoint_bytes": checkpoint, "model_bytes": model,
          "finished_run_bytes": keep * checkpoint + 2 * model + small,
          # While epoch e's backup is written, e-1's still exists.
          "peak_bytes": keep * checkpoint + 3 * model + small,
          "without_retention_bytes": 200 * checkpoint + 2 * model + small}


def main(argv):
  del argv
  out = Path(FLAGS.output_dir)
  config.parse_gin(["pose/base.gin", "rgb/base.gin"],
                   ["train_rgb.jit_compile = False"])  # CPU: no XLA
  data_root = out / "synthetic"
  synthetic.generate_dataset(data_root, num_subjects=2, cameras=(1,),
                             image_size=(320, 180), num_frames_range=(20, 26),
                             seed=0)
  data_dir = out / "prepared"
  prepare.prepare_dataset(data_root, data_dir, dataset="synthetic",
                          protocol="synthetic_cs", glimpse_input_size=75,
                          glimpse_weights=None, clips_per_file=4,
                          log_every_s=1e9)
  short = dict(epochs=FLAGS.epochs, steps_per_epoch=FLAGS.steps_per_epoch,
               batch_size=4, validation_fraction=0.3, verbose=0)
  train_pose.train_pose(out / "pose", data_dir, **short)
  train_rgb.train_rgb(out / "rgb_G", data_dir, out / "pose", **short)
  report = {}
  for name in ("pose", "rgb_G"):
    sizes = _sizes(out / name)
    report[name] = {"files": sizes, "total_bytes": sum(sizes.values()),
                    "at_200_epochs": _per_run_200_epochs(sizes, keep=2)}
  print(json.dumps(report, indent=1))


if __name__ == "__main__":
  app.run(main)
