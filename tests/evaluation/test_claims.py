"""A claim's verdict comes from its difference's interval alone."""

import pytest

from posedriven.evaluation import claims


@pytest.mark.parametrize("lo, hi, verdict", [
    (0.01, 0.2, claims.HOLDS),
    (-0.2, -0.01, claims.REVERSED),
    (-0.01, 0.2, claims.NOT_SIGNIFICANT),
    # An interval touching 0 decides nothing.
    (0.0, 0.2, claims.NOT_SIGNIFICANT),
    (-0.2, 0.0, claims.NOT_SIGNIFICANT),
])
def test_verdict_needs_the_interval_to_exclude_zero(lo, hi, verdict):
  assert claims.verdict(lo, hi) == verdict


def test_holds_reads_a_checked_claim():
  assert claims.holds({"claim": "K > A", "verdict": claims.HOLDS})
  assert not claims.holds({"claim": "K > A",
                           "verdict": claims.NOT_SIGNIFICANT})
  assert not claims.holds({"claim": "K > A", "verdict": claims.REVERSED})
