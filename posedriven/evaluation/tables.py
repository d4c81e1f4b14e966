"""Printed tables: rows with intervals, halves, and claims with verdicts.

Each function takes the figures as ``bootstrap.summarize`` (or
``outcomes.summarize_outcomes``) returns them; accuracies print in %.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from posedriven.data import synthetic


def format_interval(figures: Mapping[str, float]) -> str:
  """``[low, high]`` of a row's ``low`` and ``high`` in %."""
  return f"[{100 * figures['low']:5.1f}, {100 * figures['high']:5.1f}]"


def format_table(results: Mapping[str, Mapping[str, Any]],
                 intervals: Mapping[str, Any] | None,
                 titles: Mapping[str, str]) -> str:
  """The paper's Table 6 layout (accuracy in %).

  Args:
    results: ``{row: {"top1", "top5", "mean_class"}}``.
    intervals: ``bootstrap.summarize`` output (or None): top-1 gets its 95%
      interval.
    titles: ``{row: title}`` in the order the rows print; rows not in
      ``results`` are left out.
  """
  ci = (intervals or {}).get("rows", {})
  # Six characters (the paper's row letters) unless a row name is longer.
  w = max([6] + [len(r) for r in titles if r in results])
  lines = [f"{'':{w}} {'Method':52} {'top-1':>6} {'95% interval':>14} "
           f"{'top-5':>6} {'m-class':>7}", "-" * (90 + w)]
  for row, title in titles.items():
    if row in results:
      r = results[row]
      interval = format_interval(ci[row]) if row in ci else ""
      lines.append(f"{row:{w}} {title:52} {100 * r['top1']:6.1f} "
                   f"{interval:>14} {100 * r['top5']:6.1f} "
                   f"{100 * r['mean_class']:7.1f}")
  return "\n".join(lines)


def format_halves(intervals: Mapping[str, Any], order: Sequence[str]) -> str:
  """Per row: % of test clips whose predicted motion / object is right.

  Args:
    intervals: ``outcomes.summarize_outcomes`` output; without ``halves``
      the table is empty.
    order: The rows in the order they print.
  """
  halves = intervals.get("halves")
  if not halves:
    return ""
  lines = [f"{'':6} {'motion':>6} {'95% interval':>14} {'object':>7} "
           f"{'95% interval':>14}"]
  for row in order:
    if row in halves["motion"]:
      cells = [f"{100 * halves[h][row]['top1']:{w}.1f} "
               f"{format_interval(halves[h][row])}"
               for h, w in (("motion", 6), ("object", 7))]
      lines.append(f"{row:6} {cells[0]} {cells[1]}")
  lines.append(f"  (chance: motion {100 / len(synthetic.MOTION_NAMES):.0f}%, "
               f"object {100 / len(synthetic.CLASS_OBJECT_NAMES):.0f}%)")
  return "\n".join(lines)


def format_claims(intervals: Mapping[str, Any]) -> str:
  """One line per claim: verdict, difference and its paired interval."""
  lines = []
  for c in intervals.get("claims", []):
    family = (f"; Holm: {c['holm_verdict']}" if "holm_verdict" in c
              else "")
    lines.append(
        f"  {c['verdict']:>15}: {c['claim']:12} difference "
        f"{100 * c['difference']:+5.1f} points, 95% interval "
        f"[{100 * c['low']:+5.1f}, {100 * c['high']:+5.1f}], "
        f"{c['discordant_clips']} discordant clips, effective sample "
        f"{c['effective_clips_per_seed']:.0f} clips{family}")
  unit = intervals.get("unit", "performances")
  lines.append(
      f"  ({intervals.get('num_clips')} test clips of "
      f"{intervals.get('num_performances')} performances, "
      f"{intervals.get('num_seeds')} seed(s); bootstrap over {unit}; "
      "'holds' only when the interval of the difference excludes 0; Holm:"
      f" the verdict corrected for the {len(intervals.get('claims', []))}"
      " claims of the table, family-wise)")
  return "\n".join(lines)
