"""The end-to-end demo, shrunk to a few clips and epochs."""

import json
from pathlib import Path
import subprocess
import sys

from posedriven import demo

_REPO = Path(__file__).resolve().parents[1]


def test_tiny_demo_runs_every_stage_and_resumes(tmp_path):
  kwargs = dict(num_subjects=2, cameras=(1,), image_size=(240, 136),
                ablations=("B", "G"),
                pose_config={"epochs": 2, "filters": (8, 8), "features": 32},
                rgb_config={"epochs": 2, "lstm_units": 16,
                            "feature_units": 16})
  summary = demo.run_demo(str(tmp_path), **kwargs)
  table = summary["table"]
  assert set(table) == {"A", "B", "G", "H", "K"}
  for row in table.values():
    assert 0.0 <= row["top1"] <= row["top5"] <= 1.0
  # 1 test subject x 8 classes x 1 camera.
  assert table["K"]["num_clips"] == 8
  text = demo.format_table(table)
  assert "Multi-modal, spatio-temporal attention (A+G)" in text
  assert set(demo.claims_hold(table)) == {"fused K > pose A and > RGB G",
                                          "fused attention K > fused sum H"}
  saved = json.loads((tmp_path / "demo_results.json").read_text())
  assert saved["table"] == json.loads(json.dumps(table))
  assert (tmp_path / "export" / "saved_model.pb").exists()
  assert (tmp_path / "glimpse_sensor.weights.h5").exists()
  assert list((tmp_path / "runs").rglob("events.out.tfevents.*"))

  # A second call finds every stage finished and reproduces the table.
  again = demo.run_demo(str(tmp_path), **kwargs)
  assert again["table"] == summary["table"]
  assert again["seconds"]["train_pose"] < summary["seconds"]["train_pose"]


def test_claims_hold_compares_top1():
  table = {r: {"top1": v} for r, v in
           {"A": .5, "B": .2, "C": .25, "G": .3, "H": .55, "K": .8}.items()}
  assert all(demo.claims_hold(table).values())
  table["C"]["top1"] = .35
  assert not demo.claims_hold(table)["attention G > sum B and concat C"]
  table["K"]["top1"] = .45
  checks = demo.claims_hold(table)
  assert not checks["fused K > pose A and > RGB G"]
  assert not checks["fused attention K > fused sum H"]


def test_binary_rejects_unknown_binding(tmp_path):
  result = subprocess.run(
      [sys.executable, str(_REPO / "tools" / "demo.py"), f"--output_dir={tmp_path}",
       "--gin_bindings=run_demo.no_such_option = 1"],
      capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode != 0
  assert "no_such_option" in result.stderr
