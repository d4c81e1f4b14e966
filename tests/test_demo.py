"""The demo: the synthetic testbed in front of the experiments runner."""

import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

from posedriven import demo
from posedriven.evaluation import tables
from posedriven.experiments import runner
from posedriven.prepare import sharding

_REPO = Path(__file__).resolve().parents[1]

# Test-sized testbed and networks (seconds, not minutes).
TINY = [
    "generate_dataset.num_subjects = 2",
    "generate_dataset.image_size = (240, 136)",
    "generate_dataset.replications = 1",
    "train_pose.epochs = 1", "train_pose.filters = (8, 8)",
    "train_pose.features = 32",
    "train_rgb.epochs = 1", "train_rgb.lstm_units = 16",
    "train_rgb.feature_units = 16",
]


def test_the_demo_experiments_declare_the_papers_tables():
  demo_x = runner.load("demo")
  assert [r.row for r in demo_x.rows] == list("ABCEGHIK")
  assert demo_x.export == ("pose", "rgb_G") and demo_x.seeds == (0,)
  assert demo_x.synthetic_halves
  full = runner.load("demo_full")
  assert [r.row for r in full.rows][8:] == ["G-h", "K-h", "A-rand"]
  assert full.seeds == (0, 1, 2)
  selection = runner.load("demo_selection")
  assert list(selection.grid) == ["pose", "rgb_G"]
  assert len(selection.grid["rgb_G"]) == 3


def test_cross_view_protocol_needs_the_cameras_it_splits(tmp_path):
  with pytest.raises(sharding.EmptySplitError,
                     match=r"cameras=\(1,\).*'synthetic_cv' leaves the train"
                     r" split empty.*generate_dataset.cameras = \(1, 2, 3\)"):
    demo.run("demo", str(tmp_path), gin_bindings=[
        "prepare_dataset.protocol = 'synthetic_cv'"])
  with pytest.raises(sharding.EmptySplitError, match="test split empty"):
    demo.run("demo", str(tmp_path), gin_bindings=[
        "generate_dataset.num_subjects = 1"])
  assert not (tmp_path / "synthetic_ntu").exists()


# Slow from here on (end-to-end demo runs, tiny: 2-3 min each).


@pytest.mark.slow
def test_tiny_demo_runs_every_stage_and_resumes(tmp_path):
  results = demo.run("demo", str(tmp_path), gin_bindings=TINY)
  (seed,) = results["per_seed"]
  main = results["tables"]["main"]
  table = main["table"]
  assert list(table) == list("ABCEGHIK")
  for row in table.values():
    assert 0.0 <= row["top1"] <= row["top5"] <= 1.0
  # 1 test subject x 8 classes x 1 camera.
  assert table["K"]["num_clips"] == 8
  intervals = main["intervals"]
  assert set(intervals["rows"]) == set(table)
  for row, figures in intervals["rows"].items():
    assert figures["top1"] == pytest.approx(table[row]["top1"])
    assert figures["low"] <= figures["top1"] <= figures["high"]
  # 1 test subject: 4 performances, each recorded with both objects
  # (paired_objects), one bootstrap unit.
  assert intervals["num_performances"] == 4
  assert "effective sample" in tables.format_claims(intervals)
  outcomes = seed["tables"]["main"]["clip_outcomes"]
  assert len(outcomes["names"]) == 8
  assert np.mean(outcomes["correct"]["K"]) == pytest.approx(
      table["K"]["top1"])
  # Top-1 right means both halves right.
  for row, correct in outcomes["correct"].items():
    both = np.logical_and(outcomes["motion"][row], outcomes["object"][row])
    np.testing.assert_array_equal(both, np.array(correct, bool))
  assert set(intervals["halves"]["object"]) == set(table)
  saved = json.loads((tmp_path / "demo_results.json").read_text())
  assert saved["tables"]["main"]["table"] == json.loads(json.dumps(table))
  assert (tmp_path / "export" / "saved_model.pb").exists()
  assert (tmp_path / "glimpse_sensor.weights.h5").exists()
  assert list((tmp_path / "runs").rglob("events.out.tfevents.*"))
  # The user's binding reached the run, over pose/demo.gin's (32, 32).
  stage = json.loads((tmp_path / "runs/pose/stage.json").read_text())
  assert stage["params"]["filters"] == [8, 8]
  assert stage["params"]["learning_rate"] == 3e-4  # pose/demo.gin

  # A second call finds every stage finished and reproduces the table.
  again = demo.run("demo", str(tmp_path), gin_bindings=TINY)
  assert again["tables"] == results["tables"]
  assert not any(k.startswith(("train_", "prepare_"))
                 for k in again["per_seed"][0]["seconds"])


@pytest.mark.slow
def test_selection_never_reads_the_test_subjects(tmp_path):
  results = demo.run("demo_selection", str(tmp_path), gin_bindings=[
      *TINY, "generate_dataset.num_subjects = 3",
      "experiment.grid = {'pose': [['train_pose.learning_rate = 1e-3'],"
      " ['train_pose.learning_rate = 1e-4']], 'rgb_G':"
      " [['train_rgb.learning_rate = 3e-4']]}"])
  manifest = json.loads((tmp_path / "tfrecords" / "manifest.json")
                        .read_text())
  written = {c["name"][8:12]: c["split"] for c in manifest["clips"]
             if c["status"] in ("ok", "degraded")}
  # Subjects 1 train, 3 validate; subject 2 (a demo test subject) unused.
  assert written == {"P001": "train", "P003": "test"}
  selection = results["per_seed"][0]["selection"]
  pose = selection["pose"]
  scores = [c["top1"] for c in pose["candidates"]]
  assert pose["chosen"] == pose["candidates"][int(np.argmax(scores))][
      "candidate"]
  assert pose["row"] == "A"
  assert selection["rgb_G"]["chosen"] == ["train_rgb.learning_rate = 3e-4"]
  # The RGB candidate trained on the chosen pose run.
  chosen_pose = pose["candidates"][int(np.argmax(scores))]["run"]
  stage = json.loads((tmp_path / "runs/rgb_G_0/stage.json").read_text())
  assert Path(stage["pose_dir"]).name == chosen_pose


@pytest.mark.slow
def test_binary_rejects_unknown_binding(tmp_path):
  result = subprocess.run(
      [sys.executable, str(_REPO / "tools" / "demo.py"),
       f"--output_dir={tmp_path}",
       "--gin_bindings=train_pose.no_such_option = 1"],
      capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode != 0
  assert "no_such_option" in result.stderr
