"""A table over folds: each fold's test clips pooled, the folds' mean.

K-fold protocols (SBU Kinect Interaction's five, Yun et al. 2012) test
each clip once, in the one fold whose training set leaves it out. Per seed
the folds' test sets are therefore disjoint and together cover the dataset
once; pooled, they are one record of the shape a single split gives (each
clip scored by the model that did not see it), and the project's two-stage
bootstrap (seeds, then performances: ``outcomes.summarize_outcomes``)
applies to it unchanged:

* a seed draw takes all K fold models of that seed at once: the seeds are
  the replicates of training, the folds are not (the same K folds every
  time, fixed by the protocol, as the paper's number is their mean);
* the performances drawn are test clips of the whole dataset, so the
  fold-to-fold difference in models travels with the clips it scored.

Resampling the folds themselves as a third stage would treat the K
protocol folds as a sample of possible folds (with K = 5, a coarse and
unstable draw) and answer another question than the paper's Table 4.

The table's figure per row is the mean of the folds' top-1 (the paper's),
averaged over seeds; its interval and the claims come from the pooled
clips, whose point estimate weighs each fold by its clips (equal when the
folds are of one size).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

FIGURES = ("top1", "top5", "mean_class")


def pool_outcomes(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
  """Per-clip records (``ClipOutcomes.to_json``) of the folds, as one.

  Raises:
    ValueError: a clip in the test sets of two folds, or folds that score
      other rows.
  """
  seen: dict[str, int] = {}
  for k, record in enumerate(records, 1):
    for name in record["names"]:
      if name in seen:
        raise ValueError(f"clip {name} is in the test sets of folds"
                         f" {seen[name]} and {k}: fold test sets must be"
                         " disjoint")
      seen[name] = k
  rows = list(records[0]["correct"])
  if any(list(r["correct"]) != rows for r in records):
    raise ValueError("the folds score other rows: "
                     f"{[list(r['correct']) for r in records]}")
  pooled: dict[str, Any] = {"names": [n for r in records for n in r["names"]]}
  for key, value in records[0].items():
    if key == "names":
      continue
    if key == "action_groups":
      pooled[key] = value
    else:  # "correct" and the halves: {row: [0/1 per clip]}
      pooled[key] = {row: [c for r in records for c in r[key][row]]
                     for row in value}
  return pooled


def pool_tables(per_fold: Sequence[Mapping[str, Mapping[str, Any]]],
                tables: Sequence[str]) -> dict[str, dict[str, Any]]:
  """One seed's fold tables: figures averaged over folds, records pooled.

  Args:
    per_fold: Each fold's ``{table: {"table", "clip_outcomes"}}``.
    tables: The tables to pool.
  """
  out = {}
  for table in tables:
    figures = [f[table]["table"] for f in per_fold]
    out[table] = {
        "table": {row: {k: float(np.mean([f[row][k] for f in figures]))
                        for k in FIGURES} for row in figures[0]},
        "clip_outcomes": pool_outcomes([f[table]["clip_outcomes"]
                                        for f in per_fold])}
  return out


def per_fold_top1(per_seed: Sequence[Mapping[str, Any]], table: str
                  ) -> dict[str, list[float]]:
  """``{row: [top-1 of each fold, averaged over seeds]}``.

  Args:
    per_seed: Each seed's results, with ``folds``: ``[{"fold", "tables"}]``.
  """
  by_seed = [[f["tables"][table]["table"] for f in s["folds"]]
             for s in per_seed]
  rows = list(by_seed[0][0])
  return {row: [float(np.mean([seed[k][row]["top1"] for seed in by_seed]))
                for k in range(len(by_seed[0]))] for row in rows}
