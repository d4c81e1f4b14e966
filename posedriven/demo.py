"""The end-to-end demo: synthetic data -> glimpses -> two streams -> Table 6.

Runs every stage of the method on the built-in synthetic NTU-format dataset
(no download) and prints a table shaped like the paper's Table 6:

  A  pose only
  B  RGB only, sum of hand features           C  ... concatenation
  E  RGB only, spatial attention              G  ... spatio-temporal attention
  H  A + B (fused at logit level)             I  A + E          K  A + G

The demo cannot download ImageNet weights, so its glimpse sensor is an
InceptionV3 with seeded random weights, saved once to
``<output_dir>/glimpse_sensor.weights.h5`` so that preparation, export and
prediction all use the very same network. With real data use
``glimpse_weights="imagenet"`` (the default of ``prepare_dataset``).
"""

from __future__ import annotations

import inspect
import logging
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

import gin
import keras
import numpy as np

from posedriven.data import glimpse_crops
from posedriven import prepare
from posedriven.prepare import sharding
from posedriven.data import synthetic
from posedriven.data import video
from posedriven.evaluation import outcomes as outcomes_lib
from posedriven.export import saved_model
from posedriven.models import glimpse
from posedriven.training import evaluate as evaluate_lib
from posedriven.training import run_dir
from posedriven.training import train_pose
from posedriven.training import train_rgb

TABLE_ROWS = (
    ("A", "Pose only", "pose", None),
    ("B", "RGB only, no attention (sum of features)", "rgb", "B"),
    ("C", "RGB only, no attention (concat of features)", "rgb", "C"),
    ("E", "RGB only + spatial attention", "rgb", "E"),
    ("G", "RGB only + spatio-temporal attention", "rgb", "G"),
    ("H", "Multi-modal, no attention (A+B)", "fused", "B"),
    ("I", "Multi-modal, spatial attention (A+E)", "fused", "E"),
    ("K", "Multi-modal, spatio-temporal attention (A+G)", "fused", "G"),
)
# The rows of the paper's Tables 2 and 3 (``run_demo(extended_rows=True)``).
EXTENDED_ROWS = (
    ("G-h", "G, attention conditioned on h only (Table 2)", "rgb", None),
    ("K-h", "A + G-h (Table 2)", "fused", None),
    ("A-rand", "Pose only, random joint order (Table 3)", "pose", None),
)
# (better, worse): the paper's orderings, each checked on the paired
# bootstrap interval of the top-1 difference.
CLAIMS = (("K", "A"), ("K", "G"), ("G", "B"), ("G", "C"), ("E", "B"),
          ("E", "C"), ("K", "H"), ("I", "H"))
EXTENDED_CLAIMS = (("G", "G-h"), ("K", "K-h"), ("A", "A-rand"))
_FUSED_ROW = {"B": "H", "E": "I", "G": "K"}
# Row -> title, in the order the table prints (``tables.format_table``).
ROW_TITLES = {row: title for row, title, _, _ in TABLE_ROWS + EXTENDED_ROWS}

# Chosen on the synthetic_cs_val protocol (training subjects only) by
# ``select_hyperparameters``; the search and its figures are in BUILD_NOTES.
# The demo keeps no epoch checkpoints (it reads best.keras), which keeps its
# output under 1 GB. Six training subjects are too few to spare a validation
# set that early stopping could trust, so every stage trains for a fixed
# budget on all training clips.
DEFAULT_POSE_CONFIG = dict(batch_size=16, learning_rate=3e-4, epochs=40,
                           patience=None, filters=(32, 32), features=256,
                           validation_fraction=0.0, keep_checkpoints=0,
                           verbose=0)
DEFAULT_RGB_CONFIG = dict(batch_size=16, learning_rate=3e-4, epochs=40,
                          patience=None, lstm_units=128, feature_units=128,
                          validation_fraction=0.0, keep_checkpoints=0,
                          verbose=0)


def _stage(name: str):
  logging.info("=" * 20 + " %s " + "=" * 20, name)
  return time.time()


def calibration_crops(data_root: Path, num_clips: int = 8,
                      frames_per_clip: int = 8) -> np.ndarray:
  """Hand crops ``[N, S, S, 3]`` from the first clips of the synthetic set."""
  meta = synthetic.load_meta(data_root)
  crops = []
  for name in sorted(meta["clips"])[:num_clips]:
    clip = synthetic.load_clip(data_root, name)
    indices = np.linspace(0, clip.num_frames - 1, frames_per_clip).astype(int)
    with video.VideoReader(synthetic.video_path(data_root, name)) as reader:
      frames = np.stack([f for _, f in reader.read_frames(indices)])
    size = float(meta["crop_size_px"])
    crops.append(glimpse_crops.crop_hands(
        frames, clip.hand_xy_px[indices], clip.hand_valid[indices], size,
        int(round(size))).numpy().reshape((-1,) + (int(round(size)),) * 2
                                          + (3,)))
  return np.concatenate(crops)


def make_sensor_weights(path: Path, input_size: int, seed: int,
                        data_root: Path) -> Path:
  """Creates (once) the seeded random InceptionV3 the demo uses as f_g.

  Its batch-norm statistics are estimated on unlabelled hand crops of the
  dataset (see ``glimpse.recalibrate_batch_norm``): without ImageNet weights
  the raw random network's features are ~1e-4 and the RGB stream hardly
  learns from them.
  """
  if not path.exists():
    keras.utils.set_random_seed(seed)
    sensor = glimpse.GlimpseSensor(weights=None, input_size=input_size)
    sensor.build((None, input_size, input_size, 3))
    glimpse.recalibrate_batch_norm(sensor, calibration_crops(data_root))
    tmp = path.with_name("tmp_" + path.name)
    sensor.backbone.save_weights(tmp)
    tmp.replace(path)
  return path


def _demo_data(out: Path, *, num_subjects: int, cameras: Sequence[int],
               image_size: tuple[int, int],
               num_frames_range: tuple[int, int], replications: int,
               uniform_appearance: bool,
               counter_object_probability: float, paired_objects: bool,
               protocol: str, glimpse_input_size: int, seed: int,
               data_dir: Path, seconds: dict[str, float]
               ) -> tuple[Path, Path]:
  """Stages 1-2: the synthetic set and its glimpse TFRecords."""
  # The check preparation makes on the root, made before the data exists.
  sharding.check_splits(
      protocol, sharding.split_counts(protocol, (
          {"subject": s, "camera": c}
          for s in range(1, num_subjects + 1) for c in cameras)),
      where=f"run_demo(cameras={tuple(cameras)}, num_subjects={num_subjects})",
      unit="subject-camera pairs",
      remedy="synthetic_cv tests camera 1 and trains on cameras 2 and 3"
      " (bind run_demo.cameras = (1, 2, 3)); the cs protocols split by"
      " subject (bind more run_demo.num_subjects)")
  start = _stage("1/5 synthetic NTU-format dataset")
  data_root = out / "synthetic_ntu"
  synthetic.generate_dataset(data_root, num_subjects=num_subjects,
                             cameras=cameras, image_size=image_size,
                             num_frames_range=tuple(num_frames_range),
                             replications=replications,
                             uniform_appearance=uniform_appearance,
                             counter_object_probability=(
                                 counter_object_probability),
                             paired_objects=paired_objects,
                             seed=seed)
  seconds["dataset"] = time.time() - start

  start = _stage(f"2/5 glimpse features -> TFRecords ({protocol})")
  weights = make_sensor_weights(out / "glimpse_sensor.weights.h5",
                                glimpse_input_size, seed, data_root)
  prepare.prepare_dataset(data_root, data_dir, dataset="synthetic",
                          protocol=protocol, glimpse_weights=str(weights),
                          glimpse_input_size=glimpse_input_size,
                          clips_per_file=32, log_every_s=15.0)
  seconds["prepare"] = time.time() - start
  return data_root, weights


def _ordered_rows(present) -> list[str]:
  return [r for r in ROW_TITLES if r in present]


@gin.configurable(denylist=["output_dir"])
def run_demo(output_dir: str,
             *,
             num_subjects: int = 12,
             cameras: Sequence[int] = (1,),
             image_size: tuple[int, int] = (480, 270),
             num_frames_range: tuple[int, int] = (22, 28),
             replications: int = 3,
             uniform_appearance: bool = True,
             counter_object_probability: float = 0.5,
             paired_objects: bool = True,
             protocol: str = "synthetic_cs",
             glimpse_input_size: int = 75,
             ablations: Sequence[str] = ("B", "C", "E", "G"),
             extended_rows: bool = False,
             pose_config: dict[str, Any] | None = None,
             rgb_config: dict[str, Any] | None = None,
             export: bool = True,
             overwrite: bool = False,
             seed: int = 0) -> dict[str, Any]:
  """Runs the whole method on synthetic data and returns the Table 6 figures.

  Every stage resumes: rerunning after an interruption skips finished work.

  Args:
    output_dir: Everything goes here (dataset, TFRecords, runs, export).
    num_subjects, cameras, image_size, num_frames_range: Synthetic dataset
      size. One camera and three performances per motion taught the pose
      stream the motions as well, on validation, as three views of two
      performances, at half the clips (``synthetic_cv`` needs cameras 1-3).
    replications: Performances per subject and class (with
      ``paired_objects``: per subject and motion, each recorded with both
      objects).
    uniform_appearance: Everybody dressed alike (see
      ``synthetic.motion.make_performance``).
    counter_object_probability: Chance that another hand shows the other
      class object (``synthetic.motion.make_performance``). At 0.5 half the
      clips need attention to the active hand to tell the object; the other
      half let the RGB stream learn what the objects mean first.
    paired_objects: The two classes of a motion share one performance
      (``synthetic.motion.make_performance``), so the pose stream cannot
      memorise an object it cannot see; such a pair is one unit of the
      bootstrap. The defaults were chosen on validation subjects
      (BUILD_NOTES, "The demo's testbed").
    protocol: ``synthetic_cs`` (odd subjects train), ``synthetic_cv`` or
      ``synthetic_cs_val`` (hyper-parameter selection, no test subject).
    glimpse_input_size: Inception input side (paper: 299; 75 keeps the CPU
      demo within minutes).
    ablations: RGB-stream rows to train.
    extended_rows: Also the rows of Tables 2 and 3: G with attention
      conditioned on h only (G-h, and A + G-h as K-h) and the pose stream
      with a random joint order (A-rand).
    pose_config: Keyword overrides for ``train_pose``.
    rgb_config: Keyword overrides for ``train_rgb``.
    export: Also write a SavedModel of the A+G model.
    overwrite: Delete everything in ``output_dir`` and start again (without
      it, finished stages are reused and a dataset made with other
      arguments is refused).
    seed: One seed for data, sensor and training.

  Returns:
    ``{"table": {row: figures}, "intervals": {...}, "clip_outcomes": {...},
    "seconds": {...}, ...}``; the same is written to
    ``demo_results.json``.
  """
  out = Path(output_dir)
  if overwrite and out.exists():
    logging.warning("overwrite: deleting %s", out)
    shutil.rmtree(out)
  out.mkdir(parents=True, exist_ok=True)
  seconds: dict[str, float] = {}
  data_dir = out / "tfrecords"
  data_root, weights = _demo_data(
      out, num_subjects=num_subjects, cameras=cameras, image_size=image_size,
      num_frames_range=num_frames_range, replications=replications,
      uniform_appearance=uniform_appearance,
      counter_object_probability=counter_object_probability,
      paired_objects=paired_objects, protocol=protocol,
      glimpse_input_size=glimpse_input_size, seed=seed, data_dir=data_dir,
      seconds=seconds)

  pose_kwargs = {**DEFAULT_POSE_CONFIG, "seed": seed, **(pose_config or {})}
  rgb_kwargs = {**DEFAULT_RGB_CONFIG, "seed": seed, **(rgb_config or {})}
  # Hand crops of the probe clips in TensorBoard, beside their attention.
  rgb_kwargs.setdefault("probe_dataset_root", str(data_root))

  start = _stage("3/5 pose stream (A)")
  pose_dir = run_dir.reuse_or_train(out / "runs" / "pose",
                                    train_pose.train_pose, data_dir,
                                    **pose_kwargs)
  seconds["train_pose"] = time.time() - start

  table: dict[str, dict[str, Any]] = {}
  outcomes = outcomes_lib.ClipOutcomes(
      synthetic.paired_action_groups() if paired_objects else None)
  for ablation in ablations:
    start = _stage(f"4/5 RGB stream ({ablation})")
    rgb_dir = run_dir.reuse_or_train(out / "runs" / f"rgb_{ablation}",
                                     train_rgb.train_rgb, data_dir, pose_dir,
                                     **{**rgb_kwargs, "ablation": ablation})
    seconds[f"train_rgb_{ablation}"] = time.time() - start
    start = time.time()
    results, logits = run_dir.reuse_or_evaluate(
        out / "eval" / f"pose+rgb_{ablation}", evaluate_lib.evaluate,
        data_dir, pose_dir, rgb_dir)
    seconds[f"evaluate_{ablation}"] = time.time() - start
    table["A"] = results["pose"]
    outcomes.add("A", logits, "pose")
    table[ablation] = results["rgb"]
    outcomes.add(ablation, logits, "rgb")
    if ablation in _FUSED_ROW:
      table[_FUSED_ROW[ablation]] = results["fused"]
      outcomes.add(_FUSED_ROW[ablation], logits, "fused")

  claims = list(CLAIMS)
  if extended_rows:
    claims += EXTENDED_CLAIMS
    start = _stage("4/5 Table 2: G with attention conditioned on h only")
    rgb_h = run_dir.reuse_or_train(
        out / "runs" / "rgb_G-h", train_rgb.train_rgb, data_dir, pose_dir,
        **{**rgb_kwargs, "ablation": "G", "conditioning": "hidden"})
    results, logits = run_dir.reuse_or_evaluate(
        out / "eval" / "pose+rgb_G-h", evaluate_lib.evaluate, data_dir,
        pose_dir, rgb_h)
    table["G-h"], table["K-h"] = results["rgb"], results["fused"]
    outcomes.add("G-h", logits, "rgb")
    outcomes.add("K-h", logits, "fused")
    seconds["table2"] = time.time() - start
    start = _stage("3/5 Table 3: pose stream with a random joint order")
    pose_random = run_dir.reuse_or_train(
        out / "runs" / "pose_random", train_pose.train_pose, data_dir,
        **{**pose_kwargs, "joint_order": "random"})
    results, logits = run_dir.reuse_or_evaluate(
        out / "eval" / "pose_random", evaluate_lib.evaluate, data_dir,
        pose_random, None)
    table["A-rand"] = results["pose"]
    outcomes.add("A-rand", logits, "pose")
    seconds["table3"] = time.time() - start

  export_dir = None
  if export and "G" in ablations:
    start = _stage("5/5 SavedModel export (A+G)")
    export_dir = out / "export"
    if not export_dir.exists():
      saved_model.export_model(export_dir, pose_dir=pose_dir,
                               rgb_dir=out / "runs" / "rgb_G",
                               glimpse_weights=str(weights))
    seconds["export"] = time.time() - start

  clip_outcomes = outcomes.to_json()
  intervals = outcomes_lib.summarize_outcomes(
      [clip_outcomes], _ordered_rows(table), claims)
  summary = {"table": table, "intervals": intervals,
             "clip_outcomes": clip_outcomes, "seconds": seconds,
             "export_dir": str(export_dir) if export_dir else None,
             # Training runs and evaluations: HParams lists both.
             "tensorboard": str(out),
             "protocol": protocol, "seed": seed}
  run_dir.write_json(out / RESULTS_FILE, summary)
  return summary


RESULTS_FILE = "demo_results.json"
FULL_RESULTS_FILE = "full_results.json"


@gin.configurable(denylist=["output_dir"])
def run_full(output_dir: str, *, seeds: Sequence[int] = (0, 1, 2),
             overwrite: bool = False) -> dict[str, Any]:
  """The demo over several seeds, with the rows of Tables 2 and 3.

  Each seed is a whole demo (its own data, sensor and training) in
  ``<output_dir>/seed_<k>``; the table pools their test clips and its
  intervals come from a two-stage bootstrap (seeds, then performances).
  Other settings are ``run_demo``'s (bind ``run_demo.*`` in gin).

  Returns:
    ``{"table": {row: {"top1"}}, "intervals": {...}, "per_seed": [...]}``,
    also written to ``full_results.json``.
  """
  if not seeds:
    raise ValueError("run_full needs at least one seed")
  out = Path(output_dir)
  per_seed = []
  for seed in seeds:
    logging.info("=" * 20 + " full mode: seed %d of %s " + "=" * 20,
                 seed, list(seeds))
    per_seed.append(run_demo(str(out / f"seed_{seed}"), seed=seed,
                             extended_rows=True, export=False,
                             overwrite=overwrite))
  rows = _ordered_rows(per_seed[0]["table"])
  intervals = outcomes_lib.summarize_outcomes(
      [s["clip_outcomes"] for s in per_seed], rows, CLAIMS + EXTENDED_CLAIMS)
  table = {r: {k: float(np.mean([s["table"][r][k] for s in per_seed]))
               for k in ("top1", "top5", "mean_class")} for r in rows}
  summary = {"table": table, "intervals": intervals, "seeds": list(seeds),
             "per_seed": [{"seed": s["seed"], "table": s["table"],
                           "seconds": s["seconds"]} for s in per_seed]}
  out.mkdir(parents=True, exist_ok=True)
  run_dir.write_json(out / FULL_RESULTS_FILE, summary)
  return summary


SELECTION_FILE = "selection.json"
# run_demo's arguments that decide its data (selection generates the same).
_DATA_SETTINGS = ("num_subjects", "cameras", "image_size", "num_frames_range",
                  "replications", "uniform_appearance",
                  "counter_object_probability", "paired_objects",
                  "glimpse_input_size")


@gin.configurable(denylist=["output_dir"])
def select_hyperparameters(
    output_dir: str, *,
    pose_grid: Sequence[dict[str, Any]] = (
        {"learning_rate": 1e-3}, {"learning_rate": 3e-4}),
    rgb_grid: Sequence[dict[str, Any]] = (
        {"learning_rate": 1e-3}, {"learning_rate": 3e-4},
        {"learning_rate": 1e-4}),
    seed: int = 0) -> dict[str, Any]:
  """Chooses the demo's learning rates without looking at its test clips.

  Works on ``synthetic_cs_val``: the demo's training subjects split into
  train and validation subjects, test subjects left out. The pose
  candidate with the best validation top-1 (A) is chosen first; the RGB
  candidates (row G) then train on its features. Ties go to the earlier
  candidate. The dataset settings are ``run_demo``'s defaults (and its gin
  bindings), so the chosen values apply to the demo as it runs.

  Returns:
    ``{"pose": [...], "rgb": [...], "chosen": {...}}`` with every
    candidate's validation figures and interval; also ``selection.json``.
  """
  out = Path(output_dir)
  out.mkdir(parents=True, exist_ok=True)
  # The demo as configured (its gin bindings): the same data, the same model
  # sizes; candidates override only what they search.
  demo_args = gin.get_bindings(run_demo)
  pose_base = {**DEFAULT_POSE_CONFIG, "seed": seed,
               **(demo_args.get("pose_config") or {})}
  rgb_base = {**DEFAULT_RGB_CONFIG, "seed": seed,
              **(demo_args.get("rgb_config") or {})}
  signature = inspect.signature(run_demo.__wrapped__)
  defaults = {k: demo_args.get(k, signature.parameters[k].default)
              for k in _DATA_SETTINGS}
  data_dir = out / "tfrecords_val"
  seconds: dict[str, float] = {}
  data_root, _ = _demo_data(out, protocol="synthetic_cs_val", seed=seed,
                            data_dir=data_dir, seconds=seconds, **defaults)

  def scored(results, logits, stream):
    outcomes = outcomes_lib.ClipOutcomes(
        synthetic.paired_action_groups() if defaults["paired_objects"]
        else None)
    outcomes.add("row", logits, stream)
    ci = outcomes_lib.summarize_outcomes(
        [outcomes.to_json()], ["row"])["rows"]["row"]
    return {"top1": results[stream]["top1"], "low": ci["low"],
            "high": ci["high"], "num_clips": results["num_clips"]}

  pose_results = []
  for i, candidate in enumerate(pose_grid):
    _stage(f"selection: pose candidate {i} {candidate}")
    run = run_dir.reuse_or_train(out / "runs" / f"pose_{i}",
                                 train_pose.train_pose, data_dir,
                                 **{**pose_base, **candidate})
    results, logits = run_dir.reuse_or_evaluate(
        out / "eval" / f"pose_{i}", evaluate_lib.evaluate, data_dir, run,
        None)
    pose_results.append({"candidate": dict(candidate),
                         **scored(results, logits, "pose")})
  best_pose = max(range(len(pose_grid)),
                  key=lambda i: (pose_results[i]["top1"], -i))
  pose_dir = out / "runs" / f"pose_{best_pose}"
  rgb_results = []
  for j, candidate in enumerate(rgb_grid):
    _stage(f"selection: RGB (G) candidate {j} {candidate}")
    run = run_dir.reuse_or_train(
        out / "runs" / f"rgb_G_{j}", train_rgb.train_rgb, data_dir, pose_dir,
        **{**rgb_base, "ablation": "G", "probe_dataset_root": str(data_root),
           **candidate})
    results, logits = run_dir.reuse_or_evaluate(
        out / "eval" / f"pose+rgb_G_{j}", evaluate_lib.evaluate, data_dir,
        pose_dir, run)
    rgb_results.append({"candidate": dict(candidate),
                        **scored(results, logits, "rgb")})
  best_rgb = max(range(len(rgb_grid)),
                 key=lambda j: (rgb_results[j]["top1"], -j))
  summary = {"protocol": "synthetic_cs_val", "seed": seed,
             "pose": pose_results, "rgb": rgb_results,
             "chosen": {"pose": dict(pose_grid[best_pose]),
                        "rgb": dict(rgb_grid[best_rgb])}}
  run_dir.write_json(out / SELECTION_FILE, summary)
  return summary
