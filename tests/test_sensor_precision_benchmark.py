"""benchmarks/sensor_precision.py on a tiny synthetic set with a weights file."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from posedriven.data import synthetic
from posedriven.models import glimpse
from tests.conftest import REPO_ROOT


@pytest.mark.slow  # a dataset, a 75 px sensor saved, a subprocess: ~25 s
def test_reports_agreement_and_speed_per_precision(tmp_path):
  root = tmp_path / "synthetic"
  synthetic.generate_dataset(root, num_subjects=1, cameras=(1,),
                             image_size=(160, 96), num_frames_range=(10, 12),
                             actions=(1, 2), second_person_probability=0.0)
  sensor = glimpse.GlimpseSensor(weights=None, input_size=75)
  sensor.build((None, 75, 75, 3))
  weights = tmp_path / "sensor.weights.h5"
  sensor.backbone.save_weights(weights)
  out_json = tmp_path / "precision.json"
  out = subprocess.run(
      [sys.executable, "benchmarks/sensor_precision.py",
       f"--weights={weights}", f"--dataset_root={root}",
       "--dataset=synthetic", "--input_size=75", "--num_clips=2",
       "--frames_per_clip=3", "--repeats=1", f"--output_json={out_json}"],
      cwd=REPO_ROOT, capture_output=True, text=True, check=False)
  assert out.returncode == 0, out.stderr[-3000:]
  results = json.loads(out_json.read_text())
  assert results["crops"] > 0 and results["input_size"] == 75
  figures = results["precisions"]
  assert list(figures) == ["float32", "mixed_bfloat16", "mixed_float16"]
  # float32 against itself: the same array. The cosine is a float64 sum of
  # 2048 products: relative rounding <= 2048 * 2**-53 ~ 2.3e-13.
  assert figures["float32"]["relative_error_max"] == 0.0
  assert abs(figures["float32"]["cosine_min"] - 1.0) < 1e-12
  for precision in ("mixed_bfloat16", "mixed_float16"):
    r = figures[precision]
    # Reduced precision rounds the activations: features differ.
    assert r["relative_error_max"] > 0.0
    assert 0.0 < r["cosine_min"] <= r["cosine_mean"] <= 1.0 + 1e-12
    assert r["relative_error_median"] <= r["relative_error_max"]
    assert r["crops_per_s"] > 0.0
  assert "crops/s" in out.stdout
