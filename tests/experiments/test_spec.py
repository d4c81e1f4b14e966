"""Experiment declarations: every shipped file loads; bad ones are named."""

import gin
import pytest

from posedriven.experiments import runner
from posedriven.experiments import spec


def _minimal(**changes):
  declaration = dict(
      name="x", datasets={"d": {"gin_files": ["prepare/synthetic_cs.gin"]}},
      runs={"pose": {"stage": "pose"},
            "rgb": {"stage": "rgb", "pose": "pose"}},
      rows=[{"row": "A", "stream": "pose", "pose": "pose"},
            {"row": "G", "stream": "rgb", "pose": "pose", "rgb": "rgb"},
            {"row": "K", "stream": "fused", "pose": "pose", "rgb": "rgb"}],
      claims=[["K", "A"]])
  declaration.update(changes)
  return declaration


@pytest.mark.parametrize("name", spec.available())
def test_every_shipped_experiment_loads(name):
  experiment = runner.load(name)
  assert experiment.rows and experiment.seeds
  # Every stage's gin files exist and parse with the stages' names.
  for part in (*experiment.runs.values(), *experiment.datasets.values()):
    runner.stage_config(part.gin_files, part.bindings, (), ())


def test_table6_declares_the_papers_rows_and_claims():
  table6 = runner.load("table6")
  assert [r.row for r in table6.rows] == list("ABCEGHIK")
  assert ("K", "A") in table6.claims and ("I", "H") in table6.claims
  # A pose row is read from the first evaluation of its pose run.
  assert table6.evaluation(table6.rows[0]) == ("pose", "rgb_B")
  assert table6.evaluations() == [("pose", f"rgb_{a}") for a in "BCEG"]
  assert table6.run_order()[0] == "pose"


def test_macros_compose_runs_rows_and_claims():
  full = runner.load("demo_full")
  demo = runner.load("demo")
  assert set(full.runs) == set(demo.runs) | {"rgb_G-h", "pose_random"}
  assert [r.row for r in full.rows][:8] == [r.row for r in demo.rows]
  assert full.claims[:len(demo.claims)] == demo.claims
  assert ("A", "A-rand") in full.claims
  assert full.seeds == (0, 1, 2) and full.export is None


def test_user_bindings_change_the_declaration():
  experiment = runner.load("demo", gin_bindings=["experiment.seeds = [4, 5]"])
  assert experiment.seeds == (4, 5)


@pytest.mark.parametrize("change, message", [
    (dict(runs={"pose": {"stage": "pose", "epochs": 3}}), "unknown keys"),
    (dict(runs={"pose": {"stage": "video"}}), "stage must be one of"),
    (dict(runs={"pose": {"stage": "pose"}, "rgb": {"stage": "rgb"}}),
     "names its pose run"),
    (dict(runs={"pose": {"stage": "pose", "data": "other"}}),
     "is not one of the datasets"),
    (dict(rows=[{"row": "A", "stream": "pose", "pose": "nope"}]),
     "pose 'nope' is not a pose run"),
    (dict(rows=[{"row": "A", "stream": "pose", "pose": "pose"},
                {"row": "A", "stream": "pose", "pose": "pose"}]),
     "row names repeat"),
    (dict(claims=[["K", "Z"]]), "no row Z"),
    (dict(claims=[["K", "A", "G"]]), "a claim is"),
    (dict(rows=[{"row": "A", "stream": "pose", "pose": "pose", "table": "t"},
                {"row": "K", "stream": "fused", "pose": "pose",
                 "rgb": "rgb"}]), "different tables"),
    (dict(grid={"rgb": [["train_rgb.learning_rate = 1e-3"]]},
          rows=[{"row": "A", "stream": "pose", "pose": "pose"}], claims=[]),
     "no row scores it"),
    (dict(grid={"pose": []}), "is empty"),
    (dict(export=["rgb", "pose"]), "export is"),
    (dict(seeds=[]), "no seeds"),
])
def test_inconsistent_declarations_are_named(change, message):
  with pytest.raises(spec.ExperimentError, match=message):
    spec.build(**_minimal(**change))


def test_run_cycles_are_refused():
  experiment = spec.build(**_minimal(runs={
      "pose": {"stage": "pose", "init_from": "pose2"},
      "pose2": {"stage": "pose", "init_from": "pose"},
      "rgb": {"stage": "rgb", "pose": "pose"}}))
  with pytest.raises(spec.ExperimentError, match="cycle"):
    experiment.run_order()


def test_runs_follow_what_they_need():
  experiment = spec.build(**_minimal(runs={
      "rgb": {"stage": "rgb", "pose": "pose", "init_from": "src_rgb"},
      "src_rgb": {"stage": "rgb", "pose": "src"},
      "pose": {"stage": "pose", "init_from": "src"},
      "src": {"stage": "pose"}}))
  order = experiment.run_order()
  assert order.index("src") < order.index("pose") < order.index("rgb")
  assert order.index("src_rgb") < order.index("rgb")


def test_unknown_experiment_lists_the_known_ones():
  with pytest.raises(FileNotFoundError, match="table6"):
    spec.experiment_file("table7")


def test_unknown_binding_fails_before_anything_runs():
  with pytest.raises(ValueError, match="no_such"):
    runner.load("demo", gin_bindings=["train_pose.no_such = 1"])
  gin.clear_config()


def _with_folds(**changes):
  """Pre-training on ``src``, then runs on the folded dataset ``d``."""
  declaration = _minimal(
      datasets={"src": {}, "d": {}},
      runs={"src_pose": {"stage": "pose", "data": "src"},
            "pose": {"stage": "pose", "data": "d", "init_from": "src_pose"},
            "rgb": {"stage": "rgb", "data": "d", "pose": "pose"}},
      folds={"d": [["prepare/sbu_fold1.gin"], ["prepare/sbu_fold2.gin"]]})
  declaration.update(changes)
  return declaration


def test_folds_replicate_the_runs_on_their_dataset_and_what_needs_them():
  x = spec.build(**_with_folds(runs={
      "src_pose": {"stage": "pose", "data": "src"},
      "src_rgb": {"stage": "rgb", "data": "src", "pose": "src_pose"},
      "pose": {"stage": "pose", "data": "d", "init_from": "src_pose"},
      # On the shared data, but standing on a fold run: per fold too.
      "rgb": {"stage": "rgb", "data": "src", "pose": "pose"}}))
  assert x.fold_dataset == "d"
  assert x.folds == (("prepare/sbu_fold1.gin",), ("prepare/sbu_fold2.gin",))
  assert x.fold_runs() == {"pose", "rgb"}
  assert x.fold_tables() == ["main"]
  assert x.fold_evaluation("pose", "rgb")
  assert not x.fold_evaluation("src_pose", "src_rgb")
  assert spec.build(**_minimal()).fold_runs() == frozenset()


def test_table4_is_five_sbu_folds_and_table5_one_msr_split():
  table4 = runner.load("table4_sbu")
  assert table4.fold_dataset == "target" and len(table4.folds) == 5
  assert table4.fold_runs() == {"pose", "rgb"}
  for k, files in enumerate(table4.folds, 1):
    runner.stage_config(files, (), (), ())
    assert gin.query_parameter("prepare_dataset.protocol") == f"sbu_fold{k}"
  table5 = runner.load("table5_msr")
  assert table5.folds == () and table5.fold_dataset is None
  one = runner.load("table4_sbu", gin_bindings=["TARGET_FOLDS = None"])
  assert one.folds == ()


@pytest.mark.parametrize("change, message", [
    (dict(folds={"nope": [["a.gin"], ["b.gin"]]}),
     r"folds for 'nope', not one of the datasets \['src', 'd'\]"),
    (dict(folds={"d": [["a.gin"], ["b.gin"]], "src": [["a.gin"], ["b"]]}),
     r"folds for one dataset only, got \['d', 'src'\]"),
    (dict(folds={"d": [["a.gin"]]}), "a list of at least 2 folds"),
    (dict(folds={"d": "prepare/sbu_fold1.gin"}), "a list of at least 2"),
    (dict(folds={"d": [["a.gin"], "b.gin"]}),
     "fold 2 of d: a list of strings"),
    (dict(folds={"d": [["a.gin"], ["a.gin"]]}), "folds of d repeat"),
    (dict(folds=[["a.gin"], ["b.gin"]]), "folds is {dataset"),
    (dict(grid={"pose": [["train_pose.epochs = 1"]]}),
     r"a grid \(selection\) with folds"),
    (dict(export=["pose", "rgb"]), "is trained once per fold"),
    (dict(rows=[{"row": "A", "stream": "pose", "pose": "pose"},
                {"row": "S", "stream": "pose", "pose": "src_pose"}],
          claims=[]),
     r"table main mixes rows on the folds \(\['A'\]\) and rows on shared"
     r" data \(\['S'\]\)"),
])
def test_inconsistent_folds_are_named(change, message):
  with pytest.raises(spec.ExperimentError, match=message):
    spec.build(**_with_folds(**change))
