"""The end-to-end demo, shrunk to a few clips and epochs."""

import json
from pathlib import Path
import subprocess
import sys

import gin
import numpy as np
import pytest

from posedriven import demo
from posedriven.evaluation import tables


# Slow (end-to-end demo runs, tiny: 2-3 min): left out of the
# inner loop, `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

_REPO = Path(__file__).resolve().parents[1]


def test_tiny_demo_runs_every_stage_and_resumes(tmp_path):
  kwargs = dict(num_subjects=2, cameras=(1,), image_size=(240, 136),
                replications=1, ablations=("B", "G"), extended_rows=True,
                pose_config={"epochs": 1, "filters": (8, 8), "features": 32},
                rgb_config={"epochs": 1, "lstm_units": 16,
                            "feature_units": 16})
  summary = demo.run_demo(str(tmp_path), **kwargs)
  table = summary["table"]
  assert set(table) == {"A", "B", "G", "H", "K", "G-h", "K-h", "A-rand"}
  for row in table.values():
    assert 0.0 <= row["top1"] <= row["top5"] <= 1.0
  # 1 test subject x 8 classes x 1 camera.
  assert table["K"]["num_clips"] == 8
  text = tables.format_table(table, summary["intervals"], demo.ROW_TITLES)
  assert "Multi-modal, spatio-temporal attention (A+G)" in text
  intervals = summary["intervals"]
  assert set(intervals["rows"]) == set(table)
  for row, figures in intervals["rows"].items():
    assert figures["top1"] == pytest.approx(table[row]["top1"])
    assert figures["low"] <= figures["top1"] <= figures["high"]
  # Claims whose rows were trained; 1 test subject: 4 performances, each
  # recorded with both objects (paired_objects), one bootstrap unit.
  assert [c["claim"] for c in intervals["claims"]] == [
      "K > A", "K > G", "G > B", "K > H", "G > G-h", "K > K-h", "A > A-rand"]
  assert intervals["num_performances"] == 4
  assert "effective sample" in tables.format_claims(intervals)
  outcomes = summary["clip_outcomes"]
  assert len(outcomes["names"]) == 8
  assert np.mean(outcomes["correct"]["K"]) == pytest.approx(
      table["K"]["top1"])
  # Top-1 right means both halves right.
  for row, correct in outcomes["correct"].items():
    both = np.logical_and(outcomes["motion"][row], outcomes["object"][row])
    np.testing.assert_array_equal(both, np.array(correct, bool))
  assert set(intervals["halves"]["object"]) == set(table)
  assert "object" in tables.format_halves(intervals, demo.ROW_TITLES)
  saved = json.loads((tmp_path / "demo_results.json").read_text())
  assert saved["table"] == json.loads(json.dumps(table))
  assert (tmp_path / "export" / "saved_model.pb").exists()
  assert (tmp_path / "glimpse_sensor.weights.h5").exists()
  assert list((tmp_path / "runs").rglob("events.out.tfevents.*"))

  # A second call finds every stage finished and reproduces the table.
  again = demo.run_demo(str(tmp_path), **kwargs)
  assert again["table"] == summary["table"]
  assert again["seconds"]["train_pose"] < summary["seconds"]["train_pose"]


def test_cross_view_protocol_needs_the_cameras_it_splits(tmp_path):
  with pytest.raises(ValueError, match="synthetic_cv"):
    demo.run_demo(str(tmp_path), protocol="synthetic_cv", cameras=(1,))
  assert not (tmp_path / "synthetic_ntu").exists()


_TINY = dict(num_subjects=3, cameras=(1,), image_size=(240, 136),
             replications=1, pose_config={"epochs": 1, "filters": (8, 8), "features": 32},
             rgb_config={"epochs": 1, "lstm_units": 16, "feature_units": 16})


def _fake_demo_summary(seed: int, correct: dict[str, list[int]]):
  names = [f"S001C00{c}P002R001A00{a}" for a in (1, 2) for c in (1, 2)]
  return {"seed": seed, "seconds": {},
          "table": {r: {"top1": float(np.mean(v)), "top5": 1.0,
                        "mean_class": 0.5} for r, v in correct.items()},
          "clip_outcomes": {"names": names, "correct": correct}}


def test_full_mode_pools_seeds_and_checks_tables_2_and_3(tmp_path,
                                                         monkeypatch):
  rows = ("A", "G", "K", "G-h", "K-h", "A-rand")
  per_seed = {
      0: {r: [1, 1, 0, 0] if r != "K" else [1, 1, 1, 1] for r in rows},
      1: {r: [1, 1, 1, 1] if r != "A-rand" else [0, 0, 0, 0] for r in rows}}
  calls = []

  def fake_run_demo(output_dir, *, seed, extended_rows, export, overwrite):
    calls.append((output_dir, seed, extended_rows, export))
    return _fake_demo_summary(seed, per_seed[seed])

  monkeypatch.setattr(demo, "run_demo", fake_run_demo)
  summary = demo.run_full(str(tmp_path), seeds=(0, 1))
  assert calls == [(str(tmp_path / "seed_0"), 0, True, False),
                   (str(tmp_path / "seed_1"), 1, True, False)]
  assert list(summary["table"]) == list(rows)
  # A mean of two per-seed top-1s that are eighths: exact in float64;
  # approx's default 1e-6 relative only covers the averaging order.
  assert summary["table"]["A"]["top1"] == pytest.approx(0.75)
  intervals = summary["intervals"]
  assert intervals["num_seeds"] == 2 and intervals["num_clips"] == 8
  assert intervals["unit"] == "seeds, then performances"
  claims = {c["claim"]: c for c in intervals["claims"]}
  assert {"K > A", "G > G-h", "K > K-h", "A > A-rand"} <= set(claims)
  assert claims["A > A-rand"]["difference"] == pytest.approx(0.5)
  saved = json.loads((tmp_path / demo.FULL_RESULTS_FILE).read_text())
  assert saved["intervals"] == json.loads(json.dumps(intervals))


def test_selection_never_reads_the_test_subjects(tmp_path):
  for key, value in _TINY.items():
    gin.bind_parameter(f"run_demo.{key}", value)
  selection = demo.select_hyperparameters(
      str(tmp_path), pose_grid=({"learning_rate": 1e-3},
                                {"learning_rate": 1e-4}),
      rgb_grid=({"learning_rate": 3e-4},))
  manifest = json.loads((tmp_path / "tfrecords_val" / "manifest.json")
                        .read_text())
  written = {c["name"][8:12]: c["split"] for c in manifest["clips"]
             if c["status"] in ("ok", "degraded")}
  # Subjects 1 train, 3 validate; subject 2 (a demo test subject) unused.
  assert written == {"P001": "train", "P003": "test"}
  scores = [c["top1"] for c in selection["pose"]]
  assert selection["chosen"]["pose"] == selection["pose"][
      int(np.argmax(scores))]["candidate"]
  assert selection["chosen"]["rgb"] == {"learning_rate": 3e-4}
  assert all(c["num_clips"] == 8 for c in selection["pose"])


def test_binary_rejects_unknown_binding(tmp_path):
  result = subprocess.run(
      [sys.executable, str(_REPO / "tools" / "demo.py"), f"--output_dir={tmp_path}",
       "--gin_bindings=run_demo.no_such_option = 1"],
      capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode != 0
  assert "no_such_option" in result.stderr
