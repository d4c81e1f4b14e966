"""An experiment's results as text: each table, its claims, its halves."""

from __future__ import annotations

import json
from typing import Any, Mapping

from posedriven.evaluation import tables as tables_lib


def format_results(results: Mapping[str, Any]) -> str:
  """The printed form of ``runner.run``'s results."""
  seeds = results["seeds"]
  titles = results["titles"]
  lines = []
  for name, table in results["tables"].items():
    heading = results["title"] if name == "main" else (
        f"{results['title']}: {name}")
    pooled = (f"seed {seeds[0]}" if len(seeds) == 1 else
              f"seeds {seeds}, top-1 % averaged over seeds")
    per_fold = table.get("per_fold_top1")
    if per_fold:
      folds = len(next(iter(per_fold.values())))
      pooled += (f"; {folds} folds of {results['fold_dataset']}: figures"
                 " averaged over folds, interval and claims on the folds'"
                 " test clips pooled")
    lines += ["", f"{heading} ({pooled}; clip-level, 10 sub-sequences"
              " averaged):",
              tables_lib.format_table(table["table"], table["intervals"],
                                      {r: titles[r] for r in table["table"]})]
    if len(seeds) > 1:
      lines += [f"{r:6} top-1 per seed: "
                + ", ".join(f"{100 * t:.1f}" for t in tops)
                for r, tops in table["per_seed_top1"].items()]
    if per_fold:
      over = " (mean over seeds)" if len(seeds) > 1 else ""
      lines += [f"{r:6} top-1 per fold{over}: "
                + ", ".join(f"{100 * t:.1f}" for t in tops)
                for r, tops in per_fold.items()]
    if table["intervals"].get("claims"):
      lines += ["Claims (paired bootstrap of the top-1 difference):",
                tables_lib.format_claims(table["intervals"])]
    halves = tables_lib.format_halves(table["intervals"],
                                      list(table["table"]))
    if halves:
      lines += ["What each row gets right (class = motion x object; top-1"
                " needs both):", halves]
  for seed in results["per_seed"]:
    for run, chosen in seed.get("selection", {}).items():
      lines.append(f"selection, seed {seed['seed']}, {run}: chosen "
                   f"{chosen['chosen']} on row {chosen['row']}; candidates "
                   + json.dumps([(c["candidate"], round(100 * c["top1"], 1))
                                 for c in chosen["candidates"]]))
  return "\n".join(lines)
