"""A claim's verdict comes from its difference's interval alone."""

import numpy as np
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


def test_bootstrap_p_value_is_twice_the_smaller_tail():
  assert claims.bootstrap_p_value(np.array([0.1, 0.2, 0.3, -0.1])) == 0.5
  assert claims.bootstrap_p_value(np.full(100, 0.2)) == 0.0
  # Samples at exactly 0 count in both tails.
  assert claims.bootstrap_p_value(np.zeros(10)) == 1.0
  assert claims.bootstrap_p_value(np.array([-0.2, -0.1, 0.0, 0.1])) == 1.0


def test_holm_steps_down_and_keeps_the_sign():
  family = [{"p_value": 0.01, "difference": 0.2},
            {"p_value": 0.04, "difference": -0.1},
            {"p_value": 0.03, "difference": 0.1},
            {"p_value": 0.20, "difference": 0.3}]
  # Sorted p: 0.01 <= 0.05/4, 0.03 > 0.05/3 stops: only the first holds.
  assert claims.holm(family) == [claims.HOLDS, claims.NOT_SIGNIFICANT,
                                 claims.NOT_SIGNIFICANT,
                                 claims.NOT_SIGNIFICANT]
  family[2]["p_value"] = 0.016
  family[1]["p_value"] = 0.024
  # 0.01 <= 0.0125, 0.016 <= 0.0167, 0.024 <= 0.025, 0.2 > 0.05.
  assert claims.holm(family) == [claims.HOLDS, claims.REVERSED,
                                 claims.HOLDS, claims.NOT_SIGNIFICANT]
  assert claims.holm([]) == []
