r"""Does NTU pre-training help on a small SBU or MSR set? (paper, Tables 4-5)

Pre-trains both streams on the synthetic NTU set, then trains on a small
synthetic SBU-format (or, ``--target=msr``, MSR-format) set
(``data/synthetic/sbu_msr.py``: other skeleton, camera and classes, the same
kind of motions) in four ways:

  (a) from scratch (the target's own joint layout, the NTU learning rates);
  (b) from NTU, target layout: the pose network's last convolution cannot be
      copied and is re-initialised (``pose/sbu_finetune_native.gin``); the
      RGB stream starts from the NTU RGB run; learning rates / 10;
  (c) from NTU, target joints on the NTU layout: every layer but the class
      layers is copied (``pose/sbu_finetune.gin``, ``rgb/sbu_finetune.gin``),
      learning rates / 10;
  (d) no fine-tuning: (c)'s copies frozen, only the class layers trained
      (``pose/sbu_no_finetune.gin``, ``rgb/sbu_no_finetune.gin``).

Each stream is trained as the paper does it: the pose stream first, then the
RGB stream (spatio-temporal attention, row G) with that pose network frozen
giving ``s``. Both streams see the same glimpse sensor (a seeded random
InceptionV3 with batch-norm statistics from NTU hand crops, as in the demo;
no ImageNet weights here). Each seed pre-trains its own NTU runs and trains
every variant; the figures are top-1 of the pose stream, the RGB stream and
their logit-level fusion on the target's test clips (10 sub-sequences
averaged per clip), pooled over seeds, with the project's 95% interval (a
two-stage bootstrap over seeds, then test clips: ``posedriven.evaluation``),
and the claim (c) > (a) per stream on the paired bootstrap of the
difference. ``--streams=pose`` leaves the RGB stream (and the glimpse pass)
out.

Everything is resumable (re-run the command to continue); the results and
each seed's per-clip outcomes go to ``<output_dir>/transfer.json`` (written
atomically). Run from the repository root::

  python3 benchmarks/transfer.py --output_dir=/tmp/transfer_bench
  python3 benchmarks/transfer.py --target=msr --output_dir=/tmp/transfer_msr
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging

from posedriven import demo
from posedriven.data import synthetic
from posedriven.data.synthetic import sbu_msr
from posedriven.evaluation import claims
from posedriven.evaluation import outcomes
from posedriven.evaluation import tables
from posedriven.prepare import preparer
from posedriven.training import evaluate
from posedriven.training import run_dir
from posedriven.training import train_pose
from posedriven.training import train_rgb

_OUT = flags.DEFINE_string("output_dir", None, "Work directory.",
                           required=True)
_TARGET = flags.DEFINE_enum("target", "sbu", ["sbu", "msr"],
                            "Dataset transferred to.")
_STREAMS = flags.DEFINE_list("streams", ["pose", "rgb"],
                             "Streams to train: pose, or pose and rgb.")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds (NTU runs + 4 variants each).")
_NTU_SUBJECTS = flags.DEFINE_integer("ntu_subjects", 8,
                                     "Synthetic NTU subjects (odd train).")
_SBU_TRAIN_SETS = flags.DEFINE_list(
    "sbu_train_sets", ["s02s03", "s01s07", "s04s06"],
    "SBU sets to train on (not in fold 1).")
_SBU_SEQUENCES = flags.DEFINE_integer("sbu_sequences", 2,
                                      "Sequences per SBU set and class.")
_MSR_SUBJECTS = flags.DEFINE_integer(
    "msr_subjects", 6, "Synthetic MSR subjects (odd train, msr_cs); two"
    " environments each.")
_FILTERS = flags.DEFINE_integer("filters", 16, "Filters of conv1 and conv2.")
_FEATURES = flags.DEFINE_integer("features", 128, "Pose features (conv3).")
_LR = flags.DEFINE_float("learning_rate", 1e-3,
                         "NTU pre-training and from-scratch learning rate"
                         " (pose); fine-tuning uses a tenth.")
_RGB_LR = flags.DEFINE_float("rgb_learning_rate", 3e-4,
                             "The same for the RGB stream (the demo's).")
_NTU_EPOCHS = flags.DEFINE_integer("ntu_epochs", 40, "NTU epochs (pose).")
_NTU_RGB_EPOCHS = flags.DEFINE_integer("ntu_rgb_epochs", 20,
                                       "NTU epochs (RGB).")
_EPOCHS = flags.DEFINE_integer("epochs", 40, "Target epochs (upper bound).")
_PATIENCE = flags.DEFINE_integer("patience", 10, "Early stopping patience.")
_LSTM = flags.DEFINE_integer("lstm_units", 64,
                             "LSTM units and f_u width of the RGB stream.")
_GLIMPSE = flags.DEFINE_integer("glimpse_input_size", 75,
                                "InceptionV3 input side (paper: 299).")
# 8, not the paper's 64: 36 SBU training clips would make one step an
# epoch, and a first run with 3 steps an epoch left the fresh class layer
# of (c) unfitted after 40 epochs (BUILD_NOTES, issue 13).
_BATCH = flags.DEFINE_integer("batch_size", 8, "Clips per step.")
_VAL = flags.DEFINE_float("validation_fraction", 0.25,
                          "Held-out target training clips for early"
                          " stopping.")
_NTU_VAL = flags.DEFINE_float(
    "ntu_validation_fraction", 0.0,
    "Held-out NTU training clips; 0: pre-train for ntu_epochs, keeping the"
    " lowest training loss (a handful of validation clips stopped it after"
    " 2 epochs).")

_ALL_FLAGS = (_TARGET, _STREAMS, _SEEDS, _NTU_SUBJECTS, _SBU_TRAIN_SETS,
              _SBU_SEQUENCES, _MSR_SUBJECTS, _FILTERS, _FEATURES, _LR,
              _RGB_LR, _NTU_EPOCHS, _NTU_RGB_EPOCHS, _EPOCHS, _PATIENCE,
              _LSTM, _GLIMPSE, _BATCH, _VAL, _NTU_VAL)
# The SBU fold-1 test sets (sbu.SBU_FOLDS[0]).
_TEST_SETS = ("s01s02", "s03s04", "s05s02", "s06s04")
_PROTOCOLS = {"sbu": "sbu_fold1", "msr": "msr_cs"}
# from_ntu: start from the NTU runs; fine_tune: learning rate / 10;
# freeze: train the class layers only. The pose keywords go to train_pose.
VARIANTS = {
    "a_scratch": dict(pose=dict(skeleton_layout="native")),
    "b_ntu_native": dict(pose=dict(skeleton_layout="native",
                                   reinitialise=["conv3"]),
                         from_ntu=True, fine_tune=True),
    "c_ntu_mapped": dict(pose=dict(skeleton_layout="kinect_v2"),
                         from_ntu=True, fine_tune=True),
    "d_no_finetune": dict(pose=dict(skeleton_layout="kinect_v2"),
                          from_ntu=True, freeze=True),
}
STREAMS = ("pose", "rgb", "fused")


def _prepare(root, out, dataset, protocol, weights):
  if not (out / "manifest.json").exists():
    kwargs = (dict(store="none") if weights is None else
              dict(glimpse_weights=str(weights),
                   glimpse_input_size=_GLIMPSE.value))
    preparer.prepare_dataset(root, out, dataset=dataset, protocol=protocol,
                             clips_per_file=32, log_every_s=30.0, **kwargs)
  return out


def _pose_run(name, data_dir, work, seed, **kwargs) -> Path:
  return run_dir.reuse_or_train(
      work / "runs" / f"{name}_pose_seed{seed}", train_pose.train_pose,
      data_dir, seed=seed, filters=(_FILTERS.value,) * 2,
      features=_FEATURES.value, batch_size=_BATCH.value,
      patience=_PATIENCE.value, keep_checkpoints=0, verbose=0, **kwargs)


def _rgb_run(name, data_dir, work, seed, pose_run, **kwargs) -> Path:
  return run_dir.reuse_or_train(
      work / "runs" / f"{name}_rgb_seed{seed}", train_rgb.train_rgb,
      data_dir, pose_run, seed=seed, ablation="G", lstm_units=_LSTM.value,
      feature_units=_LSTM.value, batch_size=_BATCH.value,
      patience=_PATIENCE.value, num_attention_images=0, keep_checkpoints=0,
      verbose=0, **kwargs)


def _evaluate(name, data_dir, work, seed, pose_run, rgb_run,
              record: outcomes.ClipOutcomes, row: str | None = None) -> None:
  """Adds rows ``<row>/<stream>`` (pose; with RGB: rgb, fused) to ``record``.

  ``row`` defaults to ``name``, which names the evaluation directory.
  """
  _, logits = run_dir.reuse_or_evaluate(
      work / "eval" / f"{name}_seed{seed}", evaluate.evaluate, data_dir,
      pose_dir=pose_run, rgb_dir=rgb_run, num_attention_images=0)
  for stream in STREAMS:
    if stream in logits:
      record.add(f"{row or name}/{stream}", logits, stream)


def _target_data(work: Path, weights: Path | None) -> Path:
  target, root = _TARGET.value, work / f"synthetic_{_TARGET.value}"
  with_rgb = weights is not None
  if target == "sbu":
    sbu_msr.generate_sbu(root, sets=tuple(_SBU_TRAIN_SETS.value) +
                         _TEST_SETS, sequences=_SBU_SEQUENCES.value,
                         write_frames=with_rgb)
  else:
    sbu_msr.generate_msr(root, num_subjects=_MSR_SUBJECTS.value,
                         write_videos=with_rgb)
  return _prepare(root, work / f"data_{target}", target,
                  _PROTOCOLS[target], weights)


def run_seed(seed: int, work: Path, ntu_data: Path, target_data: Path,
             with_rgb: bool) -> dict[str, dict]:
  """NTU pre-training and the four target variants of one seed.

  Returns:
    ``{"ntu_pretrain": record, "target": record}``: per-clip outcome records
    (``outcomes.ClipOutcomes``) of NTU's and the target's test clips, with
    rows ``<variant>/<stream>``.
  """
  lr, rgb_lr = _LR.value, _RGB_LR.value
  ntu_pose = _pose_run("ntu", ntu_data, work, seed, learning_rate=lr,
                       epochs=_NTU_EPOCHS.value,
                       validation_fraction=_NTU_VAL.value)
  ntu_rgb = (_rgb_run("ntu", ntu_data, work, seed, ntu_pose,
                      learning_rate=rgb_lr, epochs=_NTU_RGB_EPOCHS.value,
                      validation_fraction=_NTU_VAL.value)
             if with_rgb else None)
  # Halves are the synthetic NTU classes' (motion x object); not the target's.
  ntu = outcomes.ClipOutcomes(halves=False)
  _evaluate("ntu", ntu_data, work, seed, ntu_pose, ntu_rgb, ntu,
            row="ntu_pretrain")
  target = outcomes.ClipOutcomes(halves=False)
  for name, spec in VARIANTS.items():
    from_ntu, fine_tune = spec.get("from_ntu"), spec.get("fine_tune")
    freeze = spec.get("freeze", False)
    scale = 0.1 if fine_tune else 1.0
    pose = _pose_run(
        name, target_data, work, seed, epochs=_EPOCHS.value,
        validation_fraction=_VAL.value, learning_rate=lr * scale,
        init_from=str(ntu_pose) if from_ntu else None,
        freeze_pose_network=freeze, **spec["pose"])
    rgb = (_rgb_run(name, target_data, work, seed, pose,
                    epochs=_EPOCHS.value, validation_fraction=_VAL.value,
                    learning_rate=rgb_lr * scale,
                    init_from=str(ntu_rgb) if from_ntu else None,
                    freeze_rgb_network=freeze)
           if with_rgb else None)
    _evaluate(name, target_data, work, seed, pose, rgb, target)
    logging.info("seed %d %s: %s", seed, name, {
        row: round(float(c.mean()), 4) for row, c in target.correct.items()
        if row.startswith(name + "/")})
  return {"ntu_pretrain": ntu.to_json(), "target": target.to_json()}


def summarize(per_seed: list[dict[str, dict]]) -> dict:
  """Top-1 with its interval per row and stream, and the claim (c) > (a).

  Args:
    per_seed: ``run_seed``'s records, one per seed.

  Returns:
    ``{row: {stream: {"top1", "low", "high", "per_seed", ...}},
    "c_minus_a": {stream: claim}, "c_beats_a": {stream: bool},
    "intervals": {"ntu_pretrain": ..., "target": ...}}`` (the intervals as
    ``bootstrap.summarize`` gives them).
  """
  summary: dict = {"c_minus_a": {}, "intervals": {}}
  for part in ("ntu_pretrain", "target"):
    records = [seed[part] for seed in per_seed]
    rows = list(records[0]["correct"])
    paired = [(f"c_ntu_mapped/{s}", f"a_scratch/{s}") for s in STREAMS
              if f"a_scratch/{s}" in rows] if part == "target" else []
    intervals = outcomes.summarize_outcomes(records, rows, paired)
    per_seed_top1 = outcomes.per_seed_top1(records, rows)
    for row in rows:
      name, stream = row.split("/")
      summary.setdefault(name, {})[stream] = {
          **intervals["rows"][row], "per_seed": per_seed_top1[row]}
    for claim in intervals["claims"]:
      summary["c_minus_a"][claim["better"].split("/")[1]] = {
          **claim, "per_seed": [
              b - w for b, w in zip(per_seed_top1[claim["better"]],
                                    per_seed_top1[claim["worse"]])]}
    summary["intervals"][part] = intervals
  summary["c_beats_a"] = {stream: claims.holds(c)
                          for stream, c in summary["c_minus_a"].items()}
  return summary


def main(argv):
  del argv
  started, load_start = time.monotonic(), os.getloadavg()
  unknown = set(_STREAMS.value) - {"pose", "rgb"}
  if unknown or "pose" not in _STREAMS.value:
    raise app.UsageError("--streams: pose, or pose,rgb")
  with_rgb = "rgb" in _STREAMS.value
  work = Path(_OUT.value)
  ntu_root = work / "synthetic_ntu"
  synthetic.generate_dataset(
      ntu_root, num_subjects=_NTU_SUBJECTS.value,
      image_size=(480, 270) if with_rgb else (64, 48),
      uniform_appearance=True)
  weights = (demo.make_sensor_weights(work / "glimpse_sensor.weights.h5",
                                      _GLIMPSE.value, 0, ntu_root)
             if with_rgb else None)
  ntu_data = _prepare(ntu_root, work / "data_ntu", "synthetic",
                      "synthetic_cs", weights)
  target_data = _target_data(work, weights)
  per_seed = [run_seed(seed, work, ntu_data, target_data, with_rgb)
              for seed in range(_SEEDS.value)]
  summary = summarize(per_seed)
  summary["clip_outcomes"] = per_seed
  summary["seconds"] = time.monotonic() - started
  summary["load_average_start"] = load_start
  summary["load_average_end"] = os.getloadavg()
  summary["flags"] = {f.name: f.value for f in _ALL_FLAGS}
  run_dir.write_json(work / "transfer.json", summary)
  print(f"top-1 % on the {_TARGET.value} test clips ({_SEEDS.value} seeds"
        " pooled [95% interval]; ntu_pretrain: NTU's own test clips):")
  for row in ["ntu_pretrain", *VARIANTS]:
    for stream, s in summary[row].items():
      print(f"  {row:14s} {stream:5s} {100 * s['top1']:6.1f}"
            f" {tables.format_interval(s)}  per seed"
            f" {[round(100 * v, 1) for v in s['per_seed']]}")
  print("(c) > (a), paired:")
  print(tables.format_claims(summary["intervals"]["target"]))
  print(f"(c) beats (a): {summary['c_beats_a']}; {summary['seconds']:.0f} s,"
        f" load average {load_start} -> {summary['load_average_end']}")


if __name__ == "__main__":
  app.run(main)
