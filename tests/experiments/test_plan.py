"""--plan: the stages, their runs and their estimated cost; nothing runs."""

from pathlib import Path
import subprocess
import sys

import pytest

from posedriven.data import synthetic
from posedriven.experiments import plan
from posedriven.experiments import runner


def test_table6_plan_for_ntu60_cs_without_the_data():
  experiment = runner.load("table6")
  steps = plan.make_plan(experiment, {})
  assert [s.stage for s in steps] == (["prepare"] + ["train"] * 5
                                      + ["evaluate"] * 4)
  prepare = steps[0]
  assert "40320 train + 16560 test clips (published size)" in prepare.what
  # 56,880 clips x 100 frames x 4 hands at 104.9 CPU-ms per crop, 2 cores.
  assert prepare.seconds == pytest.approx(56880 * 400 * 0.1049 / 2)
  pose = steps[1]
  assert pose.what.startswith("pose: pose stream, pose/ntu60_cs.gin")
  # pose/base.gin: at most 200 epochs of 40,320 clips at 99.8 clips/s.
  assert pose.seconds == pytest.approx(200 * 40320 / 99.8)
  assert steps[-1].seconds == pytest.approx(16560 * 10 / 89.8)
  text = plan.format_plan(experiment, steps)
  assert "Plan of experiment table6" in text
  assert "claims: K > I, I > H, H > A, G > E" in text


def test_plan_counts_the_clips_of_a_root_and_the_user_settings(tmp_path):
  synthetic.generate_dataset(tmp_path, num_subjects=3, cameras=(1,),
                             image_size=(64, 48), num_frames_range=(20, 20))
  experiment = runner.load("table6", gin_bindings=["experiment.seeds = [0, 1]"])
  steps = plan.make_plan(experiment, {"ntu": str(tmp_path)},
                         gin_bindings=["train_pose.epochs = 3"])
  assert "16 train + 8 test clips (counted in" in steps[0].what
  assert steps[0].runs == 1  # shared data: prepared once for both seeds
  assert steps[1].runs == 2
  assert steps[1].seconds == pytest.approx(2 * 3 * 16 / 99.8)


def test_selection_plan_counts_every_candidate():
  experiment = runner.load("demo_selection")
  steps = plan.make_plan(experiment, {})  # per-seed root: no counts
  (pose,) = [s for s in steps if s.what.startswith("pose:")]
  assert pose.runs == 2
  assert pose.seconds is None
  assert "?" in plan.format_plan(experiment, steps)


@pytest.mark.slow
def test_the_binary_prints_a_plan_and_runs_nothing(tmp_path):
  tool = Path(__file__).resolve().parents[2] / "tools" / "run_experiment.py"
  result = subprocess.run(
      [sys.executable, str(tool), "--experiment=table6", "--plan",
       f"--output_dir={tmp_path / 'out'}"],
      capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "Plan of experiment table6" in result.stdout
  assert "40320 train + 16560 test clips (published size)" in result.stdout
  assert not (tmp_path / "out").exists()
  result = subprocess.run(
      [sys.executable, str(tool), "--experiment=table4_sbu", "--plan",
       "--dataset_root=/nowhere"],
      capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode != 0
  assert "give NAME=PATH" in result.stderr


def test_macro_bound_settings_are_planned_with_their_values():
  experiment = runner.load("transfer")
  steps = plan.make_plan(experiment, {},
                         gin_bindings=["TRANSFER_EPOCHS = 3"])
  (scratch,) = [s for s in steps if s.what.startswith("a_scratch_pose:")]
  assert scratch.note == "<= 3 epochs"


def test_fold_runs_are_planned_per_fold_and_shared_runs_once():
  steps = plan.make_plan(runner.load("table4_sbu"), {})
  runs = {s.what.split(":")[0]: s.runs for s in steps if s.stage == "train"}
  assert runs == {"ntu_pose": 1, "ntu_rgb": 1, "pose": 5, "rgb": 5}
  prepare = {s.what.split(":")[0]: s for s in steps if s.stage == "prepare"}
  assert "sbu_fold1" in prepare["target"].what
  assert "5 folds, the sensor once per clip" in prepare["target"].note
  assert "folds" not in prepare["ntu"].note
  assert [s.runs for s in steps if s.stage == "evaluate"] == [5]
