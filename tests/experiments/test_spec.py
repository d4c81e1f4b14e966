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
