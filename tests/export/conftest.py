"""Tiny trained runs and their export, shared by the export tests."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests import helpers
from tests.conftest import REPO_ROOT

SMALL_POSE = dict(batch_size=8, epochs=1, filters=(4, 4), features=16,
                  validation_fraction=0.3, verbose=0)
SMALL_RGB = dict(batch_size=8, epochs=1, lstm_units=8,
                 spatial_attention_units=8, temporal_attention_units=8,
                 feature_units=8, num_attention_images=0,
                 validation_fraction=0.3, verbose=0)
GLIMPSE_INPUT_SIZE = 75  # tiny_prepared's sensor input size


@pytest.fixture(scope="session")
def runs(tiny_prepared, tmp_path_factory):
  """``(pose_dir, rgb_dir)``: one epoch of each stage on ``tiny_prepared``."""
  from posedriven.training import train_pose
  from posedriven.training import train_rgb
  out = tmp_path_factory.mktemp("export_runs")
  train_pose.train_pose(out / "pose", tiny_prepared, **SMALL_POSE)
  train_rgb.train_rgb(out / "rgb", tiny_prepared, out / "pose", **SMALL_RGB)
  return out / "pose", out / "rgb"


@pytest.fixture(scope="session")
def sensor_weights(calibrated_sensor_weights):
  """The sensor preparation of ``tiny_prepared`` used (features of order 1)."""
  return calibrated_sensor_weights


@pytest.fixture(scope="session")
def exported(runs, sensor_weights, tmp_path_factory):
  """The runs exported by ``tools/export.py`` (a subprocess)."""
  export_dir = tmp_path_factory.mktemp("export") / "model"
  cmd = [sys.executable, str(REPO_ROOT / "tools" / "export.py"),
         f"--output_dir={export_dir}", f"--pose_dir={runs[0]}",
         f"--rgb_dir={runs[1]}", (
             f"--gin_bindings=export_model.glimpse_weights ="
             f" {str(sensor_weights)!r}")]
  # The checkout's package, not whichever posedriven is installed.
  out = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                       env=helpers.subprocess_env())
  assert out.returncode == 0, out.stderr[-3000:]
  assert out.stdout.strip() == str(export_dir)
  return export_dir


@pytest.fixture(scope="session")
def loaded(exported):
  from posedriven.export import export_dir as export_dir_lib
  return export_dir_lib.load_export(exported)[1]
