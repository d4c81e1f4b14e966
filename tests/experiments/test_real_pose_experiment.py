"""The MSR Action3D experiment (``benchmarks/real_pose.py``) as declared.

Its tables, rows, arg-max classes and claims; each run's operative pose
settings (``pose/msr3d.gin``, with only the joint order changed); and its
plan on the real MSR root, whose clip counts are checked against the file
names themselves (subject parity, the subsets' action lists).
"""

import json
import subprocess
import sys

import gin
import pytest

from posedriven.data.formats import msr3d
from posedriven.experiments import plan
from posedriven.experiments import runner
from tests.conftest import REPO_ROOT
from tests.conftest import SHARED_DATA

MSR_ROOT = SHARED_DATA / "msr_action3d"
SUBSETS = ("cs", "as1", "as2", "as3")
# The published dataset: 567 sequences, 20 actions x 10 subjects x 2-3.
MSR_SEQUENCES = 567
# Settings the joint order must not touch (pose/msr3d.gin's choices).
POSE_SETTINGS = ("filters", "features", "learning_rate", "batch_size",
                 "epochs", "patience", "validation_fraction", "dropout")


def _msr3d_settings() -> dict:
  runner.stage_config(["pose/msr3d.gin"], [], (), ())
  return {k: gin.query_parameter(f"train_pose.{k}") for k in POSE_SETTINGS}


@pytest.mark.parametrize("name", ["real_pose", "real_pose_val"])
def test_one_table_per_protocol_with_the_subsets_classes(name):
  experiment = runner.load(name)
  assert experiment.tables() == list(SUBSETS)
  assert list(experiment.datasets) == list(SUBSETS)
  assert experiment.seeds == (0, 1, 2, 3, 4)
  assert experiment.evaluate_bindings == ("evaluate.num_attention_images"
                                          " = 0",)
  by_table = {t: [r for r in experiment.rows if r.table == t]
              for t in SUBSETS}
  # cs: Table 3's orders, the method first (the protocol's figure).
  assert [r.row for r in by_table["cs"]] == ["topological", "no_double",
                                             "random"]
  assert all(r.classes is None for r in by_table["cs"])
  for subset in SUBSETS[1:]:
    (row,) = by_table[subset]
    assert row.classes == msr3d.ACTION_SETS[subset]
    assert experiment.runs[row.pose].data == subset
  assert experiment.claims == (("topological", "random"),
                               ("topological", "no_double"))
  # Every row is a pose row of its own table's dataset.
  for row in experiment.rows:
    assert row.stream == "pose"
    assert experiment.runs[row.pose].data == row.table


@pytest.mark.parametrize("name,suffix", [("real_pose", ""),
                                         ("real_pose_val", "_val")])
def test_each_dataset_is_its_protocol_pose_only(name, suffix):
  experiment = runner.load(name)
  for subset, ds in experiment.datasets.items():
    runner.stage_config(ds.gin_files, ds.bindings, (), ())
    assert gin.query_parameter("prepare_dataset.dataset") == "msr3d"
    assert gin.query_parameter("prepare_dataset.protocol") == (
        f"msr3d_{subset}{suffix}")
    assert gin.query_parameter("prepare_dataset.store") == "none"


def test_runs_keep_msr3d_settings_and_change_only_the_joint_order():
  expected = _msr3d_settings()
  experiment = runner.load("real_pose")
  orders = {"pose_cs_no_double": "topological_no_double",
            "pose_cs_random": "random"}
  for name, run in experiment.runs.items():
    runner.stage_config(run.gin_files, run.bindings, (), ())
    got = {k: gin.query_parameter(f"train_pose.{k}") for k in POSE_SETTINGS}
    assert got == expected, name
    assert gin.query_parameter("train_pose.joint_order") == orders.get(
        name, "topological"), name
    assert gin.query_parameter("train_pose.keep_checkpoints") == 0
    assert gin.query_parameter("train_pose.verbose") == 0
  # The paper's settings differ, so the check above can fail.
  runner.stage_config(["pose/base.gin"], [], (), ())
  assert gin.query_parameter("train_pose.learning_rate") != expected[
      "learning_rate"]


def test_protocol_macros_restrict_the_plan_to_one_subset():
  experiment = runner.load("real_pose", gin_bindings=[
      "experiment.seeds = [0]", "experiment.runs = %RP_AS1_RUNS",
      "experiment.rows = %RP_AS1_ROWS", "experiment.claims = []"])
  assert experiment.tables() == ["as1"]
  assert list(experiment.runs) == ["pose_as1"]
  assert experiment.seeds == (0,)


def _counted_from_names(subset: str, validation: bool) -> tuple[int, int]:
  """(train, test) clips of a protocol, from the file names alone."""
  actions = msr3d.ACTION_SETS.get(subset, range(1, 21))
  train = test = 0
  files = sorted((MSR_ROOT / msr3d.WORLD_DIR).glob("*_skeleton3D.txt"))
  assert len(files) == MSR_SEQUENCES
  for path in files:
    name = msr3d.parse_sample_name(path)
    if name.action not in actions:
      continue
    odd = name.subject % 2 == 1  # Subjects 1 3 5 7 9 train.
    if not validation:
      train, test = train + odd, test + (not odd)
    elif odd:  # Of the training subjects, 3 and 9 validate.
      held = name.subject in (3, 9)
      train, test = train + (not held), test + held
  return train, test


@pytest.mark.parametrize("name,validation", [("real_pose", False),
                                             ("real_pose_val", True)])
def test_plan_counts_the_real_clips_of_each_split(name, validation):
  if not (MSR_ROOT / msr3d.WORLD_DIR).is_dir():
    pytest.fail(f"real MSR Action3D files expected at {MSR_ROOT}")
  experiment = runner.load(name)
  steps = plan.make_plan(experiment, {s: MSR_ROOT for s in SUBSETS})
  prepare = {s.what.split(":")[0]: s for s in steps if s.stage == "prepare"}
  assert list(prepare) == list(SUBSETS)
  for subset, step in prepare.items():
    train, test = _counted_from_names(subset, validation)
    assert f"{train} train + {test} test clips (counted in" in step.what
    assert step.seconds == 0.0  # Skeletons only: no glimpse pass.
  if not validation:  # BUILD_NOTES' benchmark: test clips per protocol.
    assert [_counted_from_names(s, False)[1] for s in SUBSETS] == [
        275, 106, 113, 112]
  trains = [s for s in steps if s.stage == "train"]
  assert len(trains) == 6 and all(s.runs == 5 for s in trains)


_BENCHMARK = r"""
import json, runpy, sys
benchmark = runpy.run_path("benchmarks/real_pose.py")
rows = lambda *names: {r: {"top1": 0.8, "low": 0.7, "high": 0.9}
                       for r in names}
results = {"tables": {
    "cs": {"table": rows("topological", "no_double", "random"),
           "intervals": {"rows": rows("topological", "no_double", "random"),
                         "num_clips": 550, "num_seeds": 2,
                         "claims": [{"claim": "topological > random",
                                     "difference": -0.05, "low": -0.08,
                                     "high": -0.01, "verdict": "reversed"}]},
           "per_seed_top1": {"topological": [0.75, 0.85]}},
    "as1": {"table": rows("as1"),
            "intervals": {"rows": rows("as1"), "num_clips": 212,
                          "num_seeds": 2},
            "per_seed_top1": {"as1": [0.849, 0.811]}}}}
json.dump({"text": benchmark["format_published"](results),
           "bindings": benchmark["stage_bindings"](
               ["experiment.seeds = [0]", "train_pose.epochs = 2",
                " experiment.rows = %RP_AS1_ROWS"])}, sys.stdout)
"""


@pytest.mark.slow  # a subprocess importing TensorFlow
def test_benchmark_prints_published_figures_and_table3():
  # The benchmark defines absl flags at import: its own process.
  out = subprocess.run([sys.executable, "-c", _BENCHMARK], cwd=REPO_ROOT,
                       capture_output=True, text=True, check=True)
  printed = json.loads(out.stdout.strip().splitlines()[-1])
  lines = printed["text"].splitlines()
  assert lines[1].startswith("cs | 275 x 2 | 80.0 (70.0-90.0) | 75.0, 85.0 |"
                             " Actionlet Ensemble")
  assert lines[2].startswith("as1 | 106 x 2 | 80.0 (70.0-90.0) | 84.9, 81.1"
                             " | Lie group SE(3) (skeleton) 95.29")
  assert "not verified here" in lines[1] and "not verified here" in lines[2]
  assert lines[3].startswith("Table 3 on cs: topological 80.0 (70.0-90.0),"
                             " no_double")
  assert lines[4] == ("  topological > random: -5.0 points, 95% interval"
                      " -8.0 to -1.0: reversed")
  # Plan bindings stay out of the stages' settings.
  assert printed["bindings"] == ["train_pose.epochs = 2"]
