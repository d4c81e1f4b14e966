"""The printed form of an experiment's results."""

from posedriven.evaluation import outcomes
from posedriven.experiments import report


def _results(seeds, tables, selection=None):
  return {"title": "Table X", "seeds": seeds,
          "titles": {"A": "Pose only", "K": "Fused"},
          "tables": tables,
          "per_seed": [{"seed": s, "selection": selection or {}}
                       for s in seeds]}


def _table(correct):
  record = {"names": [f"S001C001P002R001A00{a}" for a in (1, 2, 3, 4)],
            "correct": correct}
  intervals = outcomes.summarize_outcomes([record], list(correct),
                                          [("K", "A")])
  figures = {r: {"top1": sum(c) / 4, "top5": 1.0, "mean_class": 0.5}
             for r, c in correct.items()}
  return {"table": figures, "intervals": intervals,
          "per_seed_top1": {r: [sum(c) / 4, 0.5] for r, c in correct.items()}}


def test_each_table_prints_with_its_claims():
  text = report.format_results(_results([0], {
      "main": _table({"A": [1, 0, 0, 0], "K": [1, 1, 1, 0]}),
      "as1": _table({"A": [1, 1, 0, 0], "K": [1, 1, 1, 1]})}))
  assert "Table X (seed 0;" in text
  assert "Table X: as1 (seed 0;" in text
  assert text.count("K > A") == 2
  assert "Pose only" in text and "75.0" in text
  # No synthetic halves recorded: no halves table.
  assert "motion x object" not in text


def test_several_seeds_and_a_selection_are_said():
  text = report.format_results(_results(
      [0, 1], {"main": _table({"A": [1, 0, 0, 0], "K": [1, 1, 1, 0]})},
      selection={"pose": {"row": "A", "chosen": ["lr = 1"],
                          "candidates": [{"candidate": ["lr = 1"],
                                          "top1": 0.5}]}}))
  assert "seeds [0, 1], top-1 % averaged over seeds" in text
  assert "K      top-1 per seed: 75.0, 50.0" in text
  assert "selection, seed 1, pose: chosen ['lr = 1'] on row A" in text
