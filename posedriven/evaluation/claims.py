"""Verdicts on a claim ``better > worse`` from its difference's interval.

A claim is fixed before any run (the paper's orderings of its rows) and
checked on the paired bootstrap interval of ``accuracy[better] -
accuracy[worse]`` (``bootstrap.summarize``). It holds only when the whole
interval lies above 0; an interval that covers 0 decides nothing.

A table checks several claims at once, so by chance alone one of them may
"hold". :func:`holm` adds the Holm-Bonferroni verdicts beside the
per-claim ones: they control the chance of any false verdict in the whole
family at the same level.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

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


def bootstrap_p_value(differences: np.ndarray) -> float:
  """Two-sided p-value of "the difference is 0" from its bootstrap samples.

  Twice the smaller tail mass at 0 (a sample at exactly 0 counts in both
  tails: conservative for accuracies, whose differences are discrete).
  An interval of level 1 - a excludes 0 roughly when this is below a.
  """
  d = np.asarray(differences, np.float64)
  tail = min(np.mean(d <= 0), np.mean(d >= 0))
  return float(min(1.0, 2.0 * tail))


def holm(claims: Sequence[dict[str, Any]], level: float = 0.95
         ) -> list[str]:
  """Holm-Bonferroni verdicts of a family of checked claims.

  Args:
    claims: Each with ``p_value`` and ``difference``
      (``bootstrap.summarize``'s claims).
    level: The family's confidence level (0.95: at most a 5% chance that
      any verdict other than "not significant" is wrong).

  Returns:
    One verdict per claim, in order: :data:`HOLDS` or :data:`REVERSED` for
    the claims Holm's step-down procedure rejects (by the sign of the
    difference), else :data:`NOT_SIGNIFICANT`.
  """
  alpha = 1.0 - level
  order = sorted(range(len(claims)), key=lambda i: claims[i]["p_value"])
  verdicts = [NOT_SIGNIFICANT] * len(claims)
  for rank, i in enumerate(order):
    if claims[i]["p_value"] > alpha / (len(claims) - rank):
      break
    verdicts[i] = HOLDS if claims[i]["difference"] > 0 else REVERSED
  return verdicts
