r"""Does NTU pre-training help on a small SBU set? (paper, Tables 4 and 5)

Pre-trains the pose stream on the synthetic NTU set, then trains on a small
synthetic SBU-format set (``data/synthetic/sbu_msr.py``: other skeleton,
camera and classes, the same kind of motions) in four ways:

  (a) from scratch (SBU's own 15-joint layout, the NTU learning rate);
  (b) from NTU, SBU layout: the last convolution cannot be copied and is
      re-initialised (``pose/sbu_finetune_native.gin``), learning rate / 10;
  (c) from NTU, SBU joints on the NTU layout: every layer but the class
      layer is copied (``pose/sbu_finetune.gin``), learning rate / 10;
  (d) no fine-tuning: (c)'s copy, the pose network frozen, only the class
      layer trained (``pose/sbu_no_finetune.gin``).

Each seed pre-trains its own NTU run and trains every variant; the figure is
top-1 on the SBU fold-1 test sets (10 sub-sequences averaged per clip), with
the mean and a 95% t-interval over seeds, and the same for the paired
difference (c) - (a). Pose stream only: the RGB stream needs glimpse
features (an Inception pass over every frame), which do not fit this
benchmark's time on a 2-core CPU.

Everything is resumable (re-run the command to continue). Run from the
repository root::

  python3 benchmarks/transfer.py --output_dir=/tmp/transfer_bench
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging
import numpy as np

from posedriven.data import synthetic
from posedriven.data.synthetic import sbu_msr
from posedriven.prepare import preparer
from posedriven.training import evaluate
from posedriven.training import run_dir
from posedriven.training import train_pose

_OUT = flags.DEFINE_string("output_dir", None, "Work directory.",
                           required=True)
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds (NTU run + 4 variants each).")
_NTU_SUBJECTS = flags.DEFINE_integer("ntu_subjects", 8,
                                     "Synthetic NTU subjects (odd train).")
_SBU_TRAIN_SETS = flags.DEFINE_list(
    "sbu_train_sets", ["s02s03", "s01s07", "s04s06"],
    "SBU sets to train on (not in fold 1).")
_SBU_SEQUENCES = flags.DEFINE_integer("sbu_sequences", 2,
                                      "Sequences per SBU set and class.")
_FILTERS = flags.DEFINE_integer("filters", 16, "Filters of conv1 and conv2.")
_FEATURES = flags.DEFINE_integer("features", 128, "Pose features (conv3).")
_LR = flags.DEFINE_float("learning_rate", 1e-3,
                         "NTU pre-training and from-scratch learning rate;"
                         " fine-tuning uses a tenth.")
_NTU_EPOCHS = flags.DEFINE_integer("ntu_epochs", 40, "NTU epochs.")
_EPOCHS = flags.DEFINE_integer("epochs", 40, "SBU epochs (upper bound).")
_PATIENCE = flags.DEFINE_integer("patience", 10, "Early stopping patience.")
# 8, not the paper's 64: 36 SBU training clips would make one step an
# epoch, and a first run with 3 steps an epoch left the fresh class layer
# of (c) unfitted after 40 epochs (BUILD_NOTES, issue 13).
_BATCH = flags.DEFINE_integer("batch_size", 8, "Clips per step.")
_VAL = flags.DEFINE_float("validation_fraction", 0.25,
                          "Held-out SBU training clips for early stopping.")
_NTU_VAL = flags.DEFINE_float(
    "ntu_validation_fraction", 0.0,
    "Held-out NTU training clips; 0: pre-train for ntu_epochs, keeping the"
    " lowest training loss (a handful of validation clips stopped it after"
    " 2 epochs).")

_ALL_FLAGS = (_SEEDS, _NTU_SUBJECTS, _SBU_TRAIN_SETS, _SBU_SEQUENCES, _FILTERS,
              _FEATURES, _LR, _NTU_EPOCHS, _EPOCHS, _PATIENCE, _BATCH, _VAL,
              _NTU_VAL)
# The SBU fold-1 test sets (sbu.SBU_FOLDS[0]).
_TEST_SETS = ("s01s02", "s03s04", "s05s02", "s06s04")
VARIANTS = {
    "a_scratch": dict(skeleton_layout="native"),
    "b_ntu_native": dict(skeleton_layout="native", reinitialise=["conv3"],
                         from_ntu=True, fine_tune=True),
    "c_ntu_mapped": dict(skeleton_layout="kinect_v2", from_ntu=True,
                         fine_tune=True),
    "d_no_finetune": dict(skeleton_layout="kinect_v2", from_ntu=True,
                          freeze_pose_network=True),
}
# Two-sided 95% quantiles of Student's t by degrees of freedom.
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447,
         7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def interval(values) -> dict[str, float]:
  """Mean and 95% t-interval half-width of ``values`` (n >= 2)."""
  values = np.asarray(values, np.float64)
  n = len(values)
  half = (_T975.get(n - 1, 1.96) * values.std(ddof=1) / math.sqrt(n)
          if n > 1 else float("nan"))
  return {"mean": float(values.mean()), "half_width": float(half),
          "low": float(values.mean() - half),
          "high": float(values.mean() + half), "n": n}


def _prepare(root, out, dataset, protocol):
  if not (out / "manifest.json").exists():
    preparer.prepare_dataset(root, out, dataset=dataset, protocol=protocol,
                             store="none", clips_per_file=256)
  return out


def _train_and_eval(name, data_dir, work, seed, **kwargs) -> float:
  run = work / "runs" / f"{name}_seed{seed}"
  if not run_dir.is_finished(run):
    train_pose.train_pose(
        run, data_dir, seed=seed, filters=(_FILTERS.value,) * 2,
        features=_FEATURES.value, batch_size=_BATCH.value,
        patience=_PATIENCE.value, keep_checkpoints=0, verbose=0, **kwargs)
  ev = work / "eval" / f"{name}_seed{seed}"
  metrics_file = ev / evaluate.METRICS_FILE
  if metrics_file.exists():
    return json.loads(metrics_file.read_text())["pose"]["top1"]
  return evaluate.evaluate(ev, data_dir, pose_dir=run,
                           num_attention_images=0)["pose"]["top1"]


def main(argv):
  del argv
  started, load_start = time.monotonic(), os.getloadavg()
  work = Path(_OUT.value)
  ntu_root, sbu_root = work / "synthetic_ntu", work / "synthetic_sbu"
  synthetic.generate_dataset(ntu_root, num_subjects=_NTU_SUBJECTS.value,
                             image_size=(64, 48), uniform_appearance=True)
  sbu_msr.generate_sbu(sbu_root, sets=tuple(_SBU_TRAIN_SETS.value) +
                       _TEST_SETS, sequences=_SBU_SEQUENCES.value,
                       write_frames=False)
  ntu_data = _prepare(ntu_root, work / "data_ntu", "synthetic",
                      "synthetic_cs")
  sbu_data = _prepare(sbu_root, work / "data_sbu", "sbu", "sbu_fold1")
  lr = _LR.value
  results: dict[str, list[float]] = {"ntu_pretrain": []}
  for name in VARIANTS:
    results[name] = []
  for seed in range(_SEEDS.value):
    results["ntu_pretrain"].append(_train_and_eval(
        "ntu", ntu_data, work, seed, learning_rate=lr,
        epochs=_NTU_EPOCHS.value, validation_fraction=_NTU_VAL.value))
    ntu_run = str(work / "runs" / f"ntu_seed{seed}")
    for name, spec in VARIANTS.items():
      spec = dict(spec)
      from_ntu = spec.pop("from_ntu", False)
      fine_tune = spec.pop("fine_tune", False)
      results[name].append(_train_and_eval(
          name, sbu_data, work, seed, epochs=_EPOCHS.value,
          validation_fraction=_VAL.value,
          learning_rate=lr / 10 if fine_tune else lr,
          init_from=ntu_run if from_ntu else None, **spec))
      logging.info("seed %d %s: %.4f", seed, name, results[name][-1])
  summary = {name: {"per_seed": v, **interval(v)}
             for name, v in results.items()}
  diff = np.subtract(results["c_ntu_mapped"], results["a_scratch"])
  summary["c_minus_a"] = {"per_seed": diff.tolist(), **interval(diff)}
  summary["c_beats_a"] = bool(summary["c_minus_a"]["low"] > 0)
  summary["seconds"] = time.monotonic() - started
  summary["load_average_start"] = load_start
  summary["load_average_end"] = os.getloadavg()
  summary["flags"] = {f.name: f.value for f in _ALL_FLAGS}
  (work / "transfer.json").write_text(json.dumps(summary, indent=1))
  print(f"pose top-1 on SBU fold-1 test ({_SEEDS.value} seeds, mean"
        " [95% interval]):")
  for name in ["ntu_pretrain", *VARIANTS, "c_minus_a"]:
    s = summary[name]
    print(f"  {name:14s} {100 * s['mean']:6.1f} [{100 * s['low']:6.1f},"
          f" {100 * s['high']:6.1f}]  per seed"
          f" {[round(100 * v, 1) for v in s['per_seed']]}")
  print(f"(c) beats (a): {summary['c_beats_a']}; {summary['seconds']:.0f} s,"
        f" load average {load_start} -> {summary['load_average_end']}")


if __name__ == "__main__":
  app.run(main)
