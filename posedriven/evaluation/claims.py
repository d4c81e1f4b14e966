"""Verdicts on a claim ``better > worse`` from its difference's interval.

A claim is fixed before any run (the paper's orderings of its rows) and
checked on the paired bootstrap interval of ``accuracy[better] -
accuracy[worse]`` (``bootstrap.summarize``). It holds only when the whole
interval lies above 0; an interval that covers 0 decides nothing.
"""

from __future__ import annotations

HOLDS = "holds"
REVERSED = "reversed"
NOT_SIGNIFICANT = "not significant"


def verdict(lo: float, hi: float) -> str:
  """The verdict on a difference whose interval is ``[lo, hi]``.

  Args:
    lo, hi: The interval of ``accuracy[better] - accuracy[worse]``.

  Returns:
    :data:`HOLDS` when it excludes 0 above it, :data:`REVERSED` when it
    excludes 0 below it, else :data:`NOT_SIGNIFICANT`.
  """
  if lo > 0:
    return HOLDS
  if hi < 0:
    return REVERSED
  return NOT_SIGNIFICANT


def holds(claim: dict[str, object]) -> bool:
  """Whether a checked claim (one of ``summarize(...)["claims"]``) holds."""
  return claim["verdict"] == HOLDS
