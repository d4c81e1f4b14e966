"""Per-clip outcome records: which test clips each row of a table got right.

A record (``ClipOutcomes.to_json``) keeps, for one run (one seed), the test
clips' names and per row a 0/1 list of top-1 correctness (and, on the
synthetic set, of its two halves). Results files store records, so that
intervals can be recomputed, and records of several seeds pooled, without
rerunning anything.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from posedriven.data import synthetic
from posedriven.evaluation import bootstrap

HALVES = ("motion", "object")


def halves_correct(predicted: np.ndarray, labels: np.ndarray
                   ) -> dict[str, np.ndarray]:
  """Per clip: did the predicted class have the right motion, object?

  A synthetic class is a motion x an object (``synthetic.class_index``).
  The pose stream can know only the motion (its object is a coin flip), an
  RGB stream that attends to the active hand mainly the object; which half
  a row gets right shows which stream learned its part.
  """
  predicted_parts = np.vectorize(synthetic.class_parts)(np.asarray(predicted))
  true_parts = np.vectorize(synthetic.class_parts)(np.asarray(labels))
  return {half: predicted_parts[i] == true_parts[i]
          for i, half in enumerate(HALVES)}


class ClipOutcomes:
  """Per-clip correctness of every row, on one shared list of test clips."""

  def __init__(self, action_groups: dict[int, int] | None = None, *,
               halves: bool = True):
    """Starts an empty record.

    Args:
      action_groups: Action id -> group: clips of these actions that share
        setup, subject and replication are one performance
        (``paired_objects``), one unit of the bootstrap.
      halves: Also record the motion and object halves
        (:func:`halves_correct`; synthetic NTU classes only).
    """
    self.action_groups = action_groups
    self.names: list[str] | None = None
    self.labels: np.ndarray | None = None
    self.correct: dict[str, np.ndarray] = {}
    self.halves: dict[str, dict[str, np.ndarray]] | None = (
        {h: {} for h in HALVES} if halves else None)

  def add(self, row: str, logits: Mapping[str, np.ndarray], stream: str):
    """Records ``row`` from an evaluation's clip logits (``logits.npz``).

    Args:
      row: The table row.
      logits: ``names``, ``labels`` and each stream's ``[N, C]`` logits.
      stream: The stream that gives the row (``pose``, ``rgb``, ``fused``).

    Raises:
      RuntimeError: the evaluation saw other clips than the rows before.
    """
    names = [str(n) for n in logits["names"]]
    if self.names is None:
      self.names, self.labels = names, logits["labels"]
    elif names != self.names:
      raise RuntimeError(f"row {row} was evaluated on other clips")
    self.correct[row] = bootstrap.correct_from_logits(
        {row: logits[stream]}, logits["labels"])[row]
    if self.halves is not None:
      for half, right in halves_correct(np.argmax(logits[stream], -1),
                                        logits["labels"]).items():
        self.halves[half][row] = right

  def to_json(self) -> dict[str, Any]:
    as_lists = lambda rows: {r: c.astype(int).tolist()
                             for r, c in rows.items()}
    groups = ({"action_groups": {str(a): g for a, g in
                                 self.action_groups.items()}}
              if self.action_groups else {})
    halves = ({half: as_lists(self.halves[half]) for half in HALVES}
              if self.halves is not None else {})
    return {"names": self.names, "correct": as_lists(self.correct),
            **halves, **groups}


def outcomes_to_seeds(outcomes: Sequence[dict[str, Any]], rows: Sequence[str],
                      key: str = "correct") -> bootstrap.Seeds:
  """``bootstrap.Seeds`` from one or more runs' records.

  ``key``: ``correct`` (top-1) or one of :data:`HALVES`.
  """
  correct, groups = [], []
  for o in outcomes:
    correct.append(np.array([o[key][r] for r in rows], bool))
    action_groups = {int(a): g for a, g in
                     o.get("action_groups", {}).items()}
    groups.append(bootstrap.performance_ids(o["names"], action_groups))
  return bootstrap.Seeds(tuple(correct), tuple(groups))


def summarize_outcomes(outcomes: Sequence[dict[str, Any]],
                       rows: Sequence[str],
                       claims: Sequence[tuple[str, str]] = ()
                       ) -> dict[str, Any]:
  """``bootstrap.summarize`` of records, one per seed.

  With halves in every record, ``["halves"][half]`` holds each row's
  interval for that half too.
  """
  result = bootstrap.summarize(rows, outcomes_to_seeds(outcomes, rows),
                               claims)
  # Older results (before the halves were recorded) have top-1 only.
  if all(half in o for o in outcomes for half in HALVES):
    result["halves"] = {
        half: bootstrap.summarize(
            rows, outcomes_to_seeds(outcomes, rows, half))["rows"]
        for half in HALVES}
  return result


def per_seed_top1(outcomes: Sequence[dict[str, Any]], rows: Sequence[str]
                  ) -> dict[str, list[float]]:
  """``{row: [top-1 of each record]}``: each seed's own figure."""
  return {r: [float(np.mean(o["correct"][r])) for o in outcomes]
          for r in rows}
