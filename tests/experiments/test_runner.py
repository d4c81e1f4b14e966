"""The experiments runner: configuration order, layout, reuse, a whole table."""

import json
from pathlib import Path

import gin
import numpy as np
import pytest

from posedriven import atomic
from posedriven.data import synthetic
from posedriven.experiments import report
from posedriven.experiments import runner
from posedriven.experiments import spec


def test_restricted_logits_choose_among_the_subset():
  logits = np.array([[5.0, 1.0, 2.0, 0.0], [0.0, 1.0, 3.0, 9.0]])
  restricted = runner.restrict_logits(logits, (2, 3))
  np.testing.assert_array_equal(restricted.argmax(1), [2, 2])
  np.testing.assert_array_equal(restricted[:, 1:3], logits[:, 1:3])
  assert np.isneginf(restricted[:, [0, 3]]).all()
  np.testing.assert_array_equal(runner.restrict_logits(logits, None), logits)


def test_a_user_binding_overrides_the_declared_hyper_parameters(tmp_path):
  user_file = tmp_path / "user.gin"
  user_file.write_text("train_rgb.learning_rate = 0.5\n"
                       "train_rgb.ablation = 'C'\n")
  # The declared file, then the user's file, then the run's own binding,
  # then the user's bindings.
  runner.stage_config(["rgb/demo.gin"], ["train_rgb.ablation = 'B'"],
                      [str(user_file)], [])
  assert gin.query_parameter("train_rgb.learning_rate") == 0.5
  # A run's identity (its ablation) beats a user file...
  assert gin.query_parameter("train_rgb.ablation") == "B"
  runner.stage_config(["rgb/demo.gin"], ["train_rgb.ablation = 'B'"],
                      [str(user_file)],
                      ["train_rgb.learning_rate = 1e-5",
                       "train_rgb.ablation = 'E'"])
  # ...and a user binding beats both.
  assert gin.query_parameter("train_rgb.learning_rate") == 1e-5
  assert gin.query_parameter("train_rgb.ablation") == "E"
  assert gin.query_parameter("train_rgb.batch_size") == 16  # rgb/demo.gin


def test_layout_has_a_seed_level_only_with_several_seeds(tmp_path):
  one = runner.Layout(tmp_path, runner.load("demo"))
  assert one.run("pose", 0) == tmp_path / "runs" / "pose"
  assert one.data_dir("synthetic", 0) == tmp_path / "tfrecords"
  assert one.evaluation("pose", "rgb_G", 0) == tmp_path / "eval" / "pose+rgb_G"
  assert one.results() == tmp_path / "demo_results.json"
  full = runner.Layout(tmp_path, runner.load("demo_full"))
  assert full.run("pose", 2) == tmp_path / "seed_2" / "runs" / "pose"
  # Per-seed data lives with its seed; shared data does not.
  assert full.data_dir("synthetic", 1) == tmp_path / "seed_1" / "tfrecords"
  table6 = runner.Layout(tmp_path, runner.load(
      "table6", gin_bindings=["experiment.seeds = [0, 1]"]))
  assert table6.data_dir("ntu", 1) == tmp_path / "tfrecords"
  assert table6.evaluation("pose", None, 1) == tmp_path / "seed_1/eval/pose"


def test_a_run_started_with_other_settings_is_not_reused(tmp_path):
  run = tmp_path / "runs" / "pose"
  runner._check_requested(run, {"bindings": ["train_pose.epochs = 1"]})
  runner._check_requested(run, {"bindings": ["train_pose.epochs = 1"]})
  with pytest.raises(atomic.OutputExistsError, match="other settings"):
    runner._check_requested(run, {"bindings": ["train_pose.epochs = 2"]})


def test_selection_refuses_a_test_protocol(tmp_path):
  experiment = runner.load("demo_selection", gin_bindings=[
      "experiment.datasets = {'synthetic': {'gin_files':"
      " ['prepare/synthetic_cs.gin']}}"])
  with pytest.raises(ValueError, match="validation protocol"):
    runner.run(experiment, tmp_path, dataset_roots={"synthetic": "x"})
  assert not (tmp_path / "runs").exists()


def test_missing_dataset_root_is_named(tmp_path):
  with pytest.raises(ValueError, match=r"no root given for dataset\(s\)"
                     r" \['ntu'\]"):
    runner.run(runner.load("table6"), tmp_path, dataset_roots={})


def test_pooled_tables_average_seeds_and_pair_claims():
  experiment = spec.build(
      name="x", datasets={"d": {}}, seeds=[0, 1],
      runs={"pose": {"stage": "pose"}, "rgb": {"stage": "rgb",
                                               "pose": "pose"}},
      rows=[{"row": "A", "stream": "pose", "pose": "pose"},
            {"row": "K", "stream": "fused", "pose": "pose", "rgb": "rgb"}],
      claims=[["K", "A"]])
  names = [f"S001C001P00{p}R001A00{a}" for p in (2, 4) for a in (1, 2)]

  def seed(a, k):
    figures = lambda c: {"top1": float(np.mean(c)), "top5": 1.0,
                         "mean_class": float(np.mean(c))}
    return {"tables": {"main": {
        "table": {"A": figures(a), "K": figures(k)},
        "clip_outcomes": {"names": names, "correct": {"A": a, "K": k}}}}}

  tables = runner.summarize(experiment, [seed([1, 0, 0, 0], [1, 1, 1, 0]),
                                         seed([1, 1, 0, 0], [1, 1, 1, 1])])
  main = tables["main"]
  assert main["table"]["A"]["top1"] == pytest.approx(0.375)
  assert main["table"]["K"]["top1"] == pytest.approx(0.875)
  assert main["per_seed_top1"] == {"A": [0.25, 0.5], "K": [0.75, 1.0]}
  (claim,) = main["intervals"]["claims"]
  assert claim["claim"] == "K > A"
  assert claim["difference"] == pytest.approx(0.5)
  assert main["intervals"]["num_seeds"] == 2


# A test-sized NTU run: the smoke networks, one epoch, no validation split.
SMOKE_FILES = ["pose/smoke.gin", "rgb/smoke.gin"]
SMOKE_BINDINGS = [
    "prepare_dataset.glimpse_input_size = 75",
    "prepare_dataset.glimpse_weights = None",
    "train_pose.epochs = 1", "train_rgb.epochs = 1",
    "train_pose.validation_fraction = 0.0",
    "train_rgb.validation_fraction = 0.0", "train_rgb.jit_compile = False",
    "train_pose.verbose = 0", "train_rgb.verbose = 0",
    "evaluate.num_attention_images = 0",
]


@pytest.fixture(scope="module")
def tiny_ntu_root(tmp_path_factory) -> Path:
  """A few synthetic clips in the NTU layout: subjects 1, 2 train, 3 tests
  under ntu60_cs."""
  root = tmp_path_factory.mktemp("tiny_ntu")
  synthetic.generate_dataset(root, num_subjects=3, cameras=(1,),
                             image_size=(160, 96), num_frames_range=(22, 24))
  return root


@pytest.mark.slow
def test_table6_runs_end_to_end_on_a_tiny_ntu_root_and_resumes(
    tmp_path, tiny_ntu_root):
  bindings = [*SMOKE_BINDINGS, "train_pose.features = 12"]
  experiment = runner.load("table6", SMOKE_FILES, bindings)
  results = runner.run(experiment, tmp_path,
                       dataset_roots={"ntu": tiny_ntu_root},
                       gin_files=SMOKE_FILES, gin_bindings=bindings)
  main = results["tables"]["main"]
  assert list(main["table"]) == list("ABCEGHIK")
  # ntu60_cs: subject 3 tests, 8 actions x 1 camera.
  assert main["intervals"]["num_clips"] == 8
  assert [c["claim"] for c in main["intervals"]["claims"]] == [
      "K > I", "I > H", "H > A", "G > E", "E > C", "C > B", "K > A", "K > G"]
  for row, figures in main["table"].items():
    # Both count a tie with the label's logit as a miss.
    assert main["intervals"]["rows"][row]["top1"] == pytest.approx(
        figures["top1"])
  saved = json.loads((tmp_path / "table6_results.json").read_text())
  assert saved["tables"]["main"]["intervals"] == json.loads(
      json.dumps(main["intervals"]))
  assert "Table 6 on NTU RGB+D 60" in report.format_results(results)
  # The user's binding reached the run, over pose/ntu60_cs.gin's 1024.
  stage = json.loads((tmp_path / "runs/pose/stage.json").read_text())
  assert stage["params"]["features"] == 12
  assert stage["params"]["learning_rate"] == 1e-4  # pose/base.gin
  assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == [
      f"pose+rgb_{a}" for a in "BCEG"]

  # Rerun: every stage is reused and the records are the same (a binding
  # of the declaration itself is not a stage setting).
  mtime = (tmp_path / "runs/rgb_G/FINISHED.json").stat().st_mtime_ns
  rerun = [*bindings, "experiment.seeds = [0]"]
  again = runner.run(runner.load("table6", SMOKE_FILES, rerun), tmp_path,
                     dataset_roots={"ntu": tiny_ntu_root},
                     gin_files=SMOKE_FILES, gin_bindings=rerun)
  assert again["per_seed"][0]["tables"] == results["per_seed"][0]["tables"]
  assert not any(k.startswith("train_")
                 for k in again["per_seed"][0]["seconds"])
  assert (tmp_path / "runs/rgb_G/FINISHED.json").stat().st_mtime_ns == mtime
  # Other settings for a finished run are refused, not silently reused.
  other = [*SMOKE_BINDINGS, "train_pose.features = 16"]
  with pytest.raises(atomic.OutputExistsError, match="other settings"):
    runner.run(runner.load("table6", SMOKE_FILES, other), tmp_path,
               dataset_roots={"ntu": tiny_ntu_root},
               gin_files=SMOKE_FILES, gin_bindings=other)


def test_dataset_roots_are_named_when_there_are_several():
  assert runner.parse_dataset_roots(["/d/ntu"], ["ntu"]) == {"ntu": "/d/ntu"}
  assert runner.parse_dataset_roots(["ntu=/d/n", "target=/d/s"],
                                    ["ntu", "target"]) == {
                                        "ntu": "/d/n", "target": "/d/s"}
  with pytest.raises(ValueError, match="give NAME=PATH"):
    runner.parse_dataset_roots(["/d/n"], ["ntu", "target"])
  with pytest.raises(ValueError, match="no dataset 'sbu'"):
    runner.parse_dataset_roots(["sbu=/d/s"], ["ntu", "target"])


def test_progress_says_runs_done_and_time_left(caplog, monkeypatch):
  clock = iter([100.0, 110.0, 130.0])
  monkeypatch.setattr(runner.time, "monotonic", lambda: next(clock))
  progress = runner._Progress(4)
  with caplog.at_level("INFO"):
    progress.run_finished("pose", 0)
    progress.run_finished("rgb_G", 0, 3)
  assert "[1/4 runs] pose (seed 0) finished; 10 s elapsed, ~30 s left" in (
      caplog.text)
  assert ("[2/4 runs] rgb_G (seed 0, fold 3) finished; 30 s elapsed, ~30 s"
          " left") in caplog.text
