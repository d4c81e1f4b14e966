"""The demo: the synthetic testbed in front of the experiments runner.

``run`` generates the built-in synthetic NTU-format dataset for each seed
(no download), makes the glimpse sensor it is prepared with, and runs a
declared experiment on it (``gin_configs/experiments/``): ``demo`` (Table
6, one seed, export of A+G), ``demo_full`` (three seeds with the rows of
Tables 2 and 3) or ``demo_selection`` (the learning rates, on validation
subjects). Everything but the data generation is the runner's.

The demo cannot download ImageNet weights, so its glimpse sensor is an
InceptionV3 with seeded random weights, saved once to
``<seed dir>/glimpse_sensor.weights.h5`` so that preparation, export and
prediction all use the very same network. With real data use
``prepare_dataset.glimpse_weights = "imagenet"`` (the default).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import gin
import keras
import numpy as np

from posedriven.data import glimpse_crops
from posedriven.data import synthetic
from posedriven.data import video
from posedriven.experiments import deprecated_names
from posedriven.experiments import runner
from posedriven.models import glimpse
from posedriven.prepare import sharding

EXPERIMENTS = {"demo": "demo", "full": "demo_full",
               "selection": "demo_selection"}
SENSOR_WEIGHTS = "glimpse_sensor.weights.h5"
DATA_ROOT = "synthetic_ntu"


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


def make_testbed(seed_dir: Path, seed: int, testbed: dict[str, Any],
                 protocol: str, glimpse_input_size: int) -> None:
  """One seed's synthetic dataset and sensor weights (each made once)."""
  num_subjects = testbed.get("num_subjects", 6)
  cameras = testbed.get("cameras", (1, 2, 3))
  # The check preparation makes on the root, made before the data exists.
  sharding.check_splits(
      protocol, sharding.split_counts(protocol, (
          {"subject": s, "camera": c}
          for s in range(1, num_subjects + 1) for c in cameras)),
      where=f"the synthetic testbed (cameras={tuple(cameras)},"
      f" num_subjects={num_subjects})", unit="subject-camera pairs",
      remedy="synthetic_cv tests camera 1 and trains on cameras 2 and 3"
      " (bind generate_dataset.cameras = (1, 2, 3)); the cs protocols split"
      " by subject (bind more generate_dataset.num_subjects)")
  logging.info("=" * 20 + " synthetic NTU-format dataset (seed %d) " +
               "=" * 20, seed)
  root = seed_dir / DATA_ROOT
  synthetic.generate_dataset(root, **{**testbed, "seed": seed})
  make_sensor_weights(seed_dir / SENSOR_WEIGHTS, glimpse_input_size, seed,
                      root)


def run(experiment_name: str, output_dir: str, *,
        gin_files: Sequence[str] = (), gin_bindings: Sequence[str] = (),
        overwrite: bool = False) -> dict[str, Any]:
  """Runs a demo experiment on the synthetic testbed (resumable).

  Args:
    experiment_name: ``demo``, ``demo_full`` or ``demo_selection``.
    output_dir: Everything goes here (``runner.Layout``).
    gin_files, gin_bindings: The user's configuration, over the
      experiment's (``generate_dataset.*`` sets the testbed).
    overwrite: Delete ``output_dir`` first.

  Returns:
    The runner's results (also ``<output_dir>/<name>_results.json``).
  """
  experiment = runner.load(experiment_name, gin_files, gin_bindings)
  legacy = deprecated_names.translate(deprecated_names.bound_legacy_names())
  if legacy:
    gin_bindings = [*gin_bindings, *legacy]
    experiment = runner.load(experiment_name, gin_files, gin_bindings)
  # The testbed's settings as the experiment's files and the user set them.
  testbed = gin.get_bindings("generate_dataset")
  action_groups = (synthetic.paired_action_groups()
                   if testbed.get("paired_objects") else None)
  (dataset,) = experiment.datasets.values()
  out = Path(output_dir)
  if overwrite:
    runner.clear_output_dir(out)

  def before_seed(seed: int, seed_dir: Path) -> None:
    runner.stage_config(dataset.gin_files, dataset.bindings, gin_files,
                        gin_bindings)
    make_testbed(seed_dir, seed, testbed,
                 gin.query_parameter("prepare_dataset.protocol"),
                 gin.query_parameter("prepare_dataset.glimpse_input_size"))

  return runner.run(
      experiment, out,
      dataset_roots={dataset.name: "{seed_dir}/" + DATA_ROOT},
      prepare_bindings={dataset.name: [
          "prepare_dataset.glimpse_weights = '{seed_dir}/"
          + SENSOR_WEIGHTS + "'"]},
      gin_files=gin_files, gin_bindings=gin_bindings,
      action_groups=action_groups, before_seed=before_seed)
