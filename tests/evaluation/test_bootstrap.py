"""Intervals that respect the test set's structure (performances, seeds)."""

from __future__ import annotations

import numpy as np
import pytest

from posedriven.evaluation import bootstrap
from posedriven.training import metrics


def _names(num_performances: int, cameras=(1, 2, 3)) -> list[str]:
  return [f"S001C{c:03d}P{p:03d}R001A001" for p in range(1, num_performances + 1)
          for c in cameras]


def test_performance_ids_join_the_cameras_of_one_performance():
  ids = bootstrap.performance_ids(_names(2) + ["not_ntu_a", "not_ntu_b"])
  assert ids[0] == ids[1] == ids[2] != ids[3] == ids[4] == ids[5]
  assert len(set(ids[6:])) == 2 and not set(ids[6:]) & set(ids[:6])


def test_performance_ids_join_the_actions_of_a_shared_performance():
  names = ["S001C001P001R001A001", "S001C002P001R001A002",
           "S001C001P001R001A003", "S001C001P002R001A002"]
  assert len(set(bootstrap.performance_ids(names))) == 4
  ids = bootstrap.performance_ids(names, action_groups={1: 0, 2: 0, 3: 1})
  assert ids[0] == ids[1] != ids[2]
  assert ids[3] not in (ids[0], ids[2])  # another subject


def test_copies_of_a_performance_add_no_evidence():
  rng = np.random.default_rng(0)
  unique = rng.random((2, 48)) < 0.6
  tripled = np.repeat(unique, 3, axis=1)
  groups = np.repeat(np.arange(48), 3)
  a = bootstrap.bootstrap_accuracies(
      bootstrap.Seeds.single(unique, np.arange(48)), num_samples=500)
  b = bootstrap.bootstrap_accuracies(
      bootstrap.Seeds.single(tripled, groups), num_samples=500)
  np.testing.assert_allclose(a, b)
  assert bootstrap.effective_sample_size(tripled[0], groups) == pytest.approx(
      48, rel=0.05)


def test_effective_sample_size_of_independent_clips_is_their_number():
  rng = np.random.default_rng(1)
  correct = rng.random(3000) < 0.5
  groups = np.repeat(np.arange(1000), 3)
  assert bootstrap.effective_sample_size(correct, groups) > 2700


def test_intervals_cover_the_truth_for_clustered_clips():
  # 48 performances x 3 cameras, the cameras agreeing: a clip-level
  # bootstrap would cover the true 50% far less than 95% of the time.
  rng = np.random.default_rng(2)
  covered = 0
  trials = 120
  for t in range(trials):
    per_performance = rng.random(48) < 0.5
    correct = np.repeat(per_performance, 3)[None]
    samples = bootstrap.bootstrap_accuracies(
        bootstrap.Seeds.single(correct, np.repeat(np.arange(48), 3)),
        num_samples=400, seed=t)
    lo, hi = bootstrap.percentile_interval(samples[:, 0])
    covered += lo <= 0.5 <= hi
  assert 0.88 <= covered / trials <= 0.99


def test_paired_claims_verdicts():
  rng = np.random.default_rng(3)
  base = rng.random(144) < 0.5
  better = base | (rng.random(144) < 0.8)
  groups = np.repeat(np.arange(48), 3)
  correct = np.stack([better, base, base])
  summary = bootstrap.summarize(
      ["X", "Y", "Z"], bootstrap.Seeds.single(correct, groups),
      claims=[("X", "Y"), ("Y", "Z"), ("Y", "X")], num_samples=1000)
  verdicts = {c["claim"]: c["verdict"] for c in summary["claims"]}
  assert verdicts == {"X > Y": "holds", "Y > Z": "not significant",
                      "Y > X": "reversed"}
  row = summary["rows"]["Y"]
  assert row["low"] < row["top1"] < row["high"]
  assert summary["num_performances"] == 48
  assert summary["claims"][1]["discordant_clips"] == 0


def test_seeds_widen_the_interval_when_runs_disagree():
  groups = np.repeat(np.arange(20), 3)
  good = np.ones((1, 60), bool)
  bad = np.zeros((1, 60), bool)
  one = bootstrap.bootstrap_accuracies(bootstrap.Seeds.single(good, groups),
                                       num_samples=300)
  two = bootstrap.bootstrap_accuracies(
      bootstrap.Seeds((good, bad), (groups, groups)), num_samples=300)
  assert np.ptp(one) == 0
  lo, hi = bootstrap.percentile_interval(two[:, 0])
  assert lo == 0.0 and hi == 1.0


def test_bad_shapes_are_refused():
  with pytest.raises(ValueError, match="groups"):
    bootstrap.Seeds.single(np.ones((2, 5), bool), np.arange(4))
  with pytest.raises(ValueError, match="row names"):
    bootstrap.summarize(["A"], bootstrap.Seeds.single(np.ones((2, 3), bool),
                                                      np.arange(3)))


def test_claims_carry_a_p_value_and_a_family_wise_verdict():
  correct = np.array([[1] * 40 + [0] * 10, [0] * 10 + [1] * 40,
                      [1] * 25 + [0] * 25], bool)
  seeds = bootstrap.Seeds((correct,), (np.arange(50),))
  result = bootstrap.summarize(["a", "b", "c"], seeds,
                               [("a", "c"), ("b", "a"), ("a", "b")])
  by_claim = {c["claim"]: c for c in result["claims"]}
  # a beats c by 30 points on 50 independent clips: clear either way.
  assert by_claim["a > c"]["verdict"] == "holds"
  assert by_claim["a > c"]["holm_verdict"] == "holds"
  assert by_claim["a > c"]["p_value"] < 0.01
  # a and b: 80% each, 30 discordant clips: nothing to decide.
  assert by_claim["b > a"]["holm_verdict"] == "not significant"
  assert by_claim["b > a"]["p_value"] > 0.5
  for c in result["claims"]:
    # Holm never decides what the claim's own interval leaves open.
    if c["verdict"] == "not significant":
      assert c["holm_verdict"] == "not significant"


def test_correct_from_logits_counts_a_tie_as_a_miss_as_the_tables_do():
  logits = {"K": np.array([[2.0, 1.0, 0.0],     # right
                           [1.0, 1.0, 0.0],     # tie with the label: miss
                           [0.0, 3.0, 3.0],     # tie elsewhere, label lower
                           [0.5, 0.5, 0.5]])}   # constant: miss
  labels = np.array([0, 0, 0, 2])
  correct = bootstrap.correct_from_logits(logits, labels)["K"]
  np.testing.assert_array_equal(correct, [True, False, False, False])
  assert correct.mean() == metrics.top_k_accuracy(logits["K"], labels, 1)
