"""Intervals for accuracies measured on clips that are not independent.

The method (performances as the unit, seeds first, paired rows, percentile
intervals) is described once, in ``posedriven/evaluation/__init__.py``.
Every function takes per-clip correctness ``correct[R, N]`` (R rows of a
results table scored on the same N clips), so differences between rows are
*paired*: one bootstrap sample draws one set of performances for all rows.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Mapping, Sequence

import numpy as np

from posedriven.evaluation import claims as claims_lib

# NTU names without the camera: all views of one performance.
_NTU_NAME = re.compile(r"^(S\d{3})C\d{3}(P\d{3}R\d{3})A(\d{3})$")

LEVEL = 0.95
NUM_SAMPLES = 4000


def performance_ids(names: Sequence[str],
                    action_groups: Mapping[int, int] | None = None
                    ) -> np.ndarray:
  """``[N]`` integer ids, equal for the clips of one performance.

  NTU-format names drop their camera; any other name is its own group.

  Args:
    names: Clip names.
    action_groups: Action id -> group, for datasets where the clips of
      several actions are one performance (the synthetic set's
      ``paired_objects``: the two classes of a motion share their skeleton,
      so their outcomes are not independent). Actions not listed are their
      own group.
  """
  keys = []
  for name in names:
    match = _NTU_NAME.match(str(name))
    if not match:
      keys.append(str(name))
      continue
    action = int(match.group(3))
    group = (f"G{action_groups[action]}" if action_groups
             and action in action_groups else f"A{action:03d}")
    keys.append(match.group(1) + match.group(2) + group)
  _, ids = np.unique(np.array(keys), return_inverse=True)
  return ids.reshape(-1)


@dataclasses.dataclass(frozen=True)
class Seeds:
  """Per-clip outcomes of one or more training seeds.

  Attributes:
    correct: One ``[R, N_s]`` boolean array per seed (rows x clips).
    groups: One ``[N_s]`` performance-id array per seed.
  """

  correct: tuple[np.ndarray, ...]
  groups: tuple[np.ndarray, ...]

  @classmethod
  def single(cls, correct: np.ndarray, groups: np.ndarray) -> "Seeds":
    return cls((np.asarray(correct, bool),), (np.asarray(groups),))

  def __post_init__(self):
    if not self.correct or len(self.correct) != len(self.groups):
      raise ValueError("need one groups array per seed, and >= 1 seed")
    rows = {c.shape[0] for c in self.correct}
    if len(rows) != 1:
      raise ValueError(f"seeds score different numbers of rows: {rows}")
    for c, g in zip(self.correct, self.groups):
      if c.ndim != 2 or g.shape != (c.shape[1],):
        raise ValueError(
            f"correct must be [R, N] and groups [N]; got {c.shape}, {g.shape}")

  @property
  def num_rows(self) -> int:
    return self.correct[0].shape[0]


def _group_sums(correct: np.ndarray, groups: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
  """Per-performance ``[R, G]`` correct counts and ``[G]`` clip counts."""
  _, inverse = np.unique(groups, return_inverse=True)
  inverse = inverse.reshape(-1)
  num = inverse.max() + 1
  sums = np.stack([np.bincount(inverse, weights=row, minlength=num)
                   for row in correct.astype(float)])
  return sums, np.bincount(inverse, minlength=num).astype(float)


def bootstrap_accuracies(seeds: Seeds, num_samples: int = NUM_SAMPLES,
                         seed: int = 0) -> np.ndarray:
  """``[num_samples, R]`` accuracies of resampled seeds and performances.

  With one seed, performances are resampled with replacement. With S > 1
  seeds, each sample first draws S seeds with replacement, then the
  performances of each drawn seed, and pools the drawn clips: the spread
  then covers both the training run and the test sample.
  """
  rng = np.random.default_rng(seed)
  per_seed = [_group_sums(c, g) for c, g in zip(seeds.correct, seeds.groups)]
  num_seeds = len(per_seed)
  out = np.empty((num_samples, seeds.num_rows))
  for b in range(num_samples):
    drawn = (rng.integers(num_seeds, size=num_seeds) if num_seeds > 1
             else np.zeros(1, int))
    correct_total = np.zeros(seeds.num_rows)
    count_total = 0.0
    for s in drawn:
      sums, counts = per_seed[s]
      pick = rng.integers(counts.shape[0], size=counts.shape[0])
      correct_total += sums[:, pick].sum(axis=1)
      count_total += counts[pick].sum()
    out[b] = correct_total / count_total
  return out


def percentile_interval(samples: np.ndarray, level: float = LEVEL
                        ) -> tuple[float, float]:
  """The central ``level`` percentile interval of bootstrap samples."""
  tail = 100 * (1 - level) / 2
  lo, hi = np.percentile(samples, [tail, 100 - tail])
  return float(lo), float(hi)


def effective_sample_size(correct: np.ndarray, groups: np.ndarray) -> float:
  """Clips' worth of independent evidence, ``N / design effect``.

  Design effect ``1 + (m - 1) * icc`` for clusters of mean size ``m``; the
  intra-performance correlation of correctness is the one-way ANOVA
  estimator, clipped to [0, 1]. All clips of a performance agreeing
  (icc 1) gives the number of performances; independent clips give N.
  """
  correct = np.asarray(correct, float).reshape(-1)
  groups = np.asarray(groups).reshape(-1)
  n = correct.size
  _, inverse, sizes = np.unique(groups, return_inverse=True,
                                return_counts=True)
  inverse = inverse.reshape(-1)
  k = sizes.size
  if k < 2 or k == n:
    return float(n)
  means = np.bincount(inverse, weights=correct) / sizes
  grand = correct.mean()
  ss_between = float((sizes * (means - grand) ** 2).sum())
  ss_within = float(((correct - means[inverse]) ** 2).sum())
  ms_between = ss_between / (k - 1)
  ms_within = ss_within / (n - k)
  m0 = (n - (sizes ** 2).sum() / n) / (k - 1)
  denominator = ms_between + (m0 - 1) * ms_within
  icc = 0.0 if denominator <= 0 else (ms_between - ms_within) / denominator
  icc = min(max(icc, 0.0), 1.0)
  return float(n / (1 + (sizes.mean() - 1) * icc))


def summarize(rows: Sequence[str], seeds: Seeds,
              claims: Sequence[tuple[str, str]] = (),
              num_samples: int = NUM_SAMPLES, level: float = LEVEL,
              seed: int = 0) -> dict[str, object]:
  """Row accuracies and paired claim checks, with intervals.

  Args:
    rows: Names of the R rows of ``seeds.correct``.
    seeds: Per-clip outcomes.
    claims: ``(better, worse)`` row pairs; each is checked on the paired
      bootstrap of ``accuracy[better] - accuracy[worse]``.
    num_samples, level, seed: Bootstrap settings.

  Returns:
    ``{"rows": {row: {"top1", "low", "high"}}, "claims": [...],
    "num_clips", "num_performances", "num_seeds", "level", ...}``.
  """
  if len(rows) != seeds.num_rows:
    raise ValueError(f"{len(rows)} row names for {seeds.num_rows} rows")
  index = {r: i for i, r in enumerate(rows)}
  samples = bootstrap_accuracies(seeds, num_samples, seed)
  pooled = np.concatenate(seeds.correct, axis=1).astype(float)
  point = pooled.mean(axis=1)
  result_rows = {}
  for r, i in index.items():
    lo, hi = percentile_interval(samples[:, i], level)
    ess = float(np.mean([effective_sample_size(c[i], g) for c, g in
                         zip(seeds.correct, seeds.groups)]))
    result_rows[r] = {"top1": float(point[i]), "low": lo, "high": hi,
                      "effective_clips_per_seed": ess}
  checked = []
  for better, worse in claims:
    if better not in index or worse not in index:
      continue
    i, j = index[better], index[worse]
    diff = samples[:, i] - samples[:, j]
    lo, hi = percentile_interval(diff, level)
    disagree = [c[i] != c[j] for c in seeds.correct]
    ess = float(np.mean([
        effective_sample_size(c[i].astype(float) - c[j], g)
        for c, g in zip(seeds.correct, seeds.groups)]))
    checked.append({
        "claim": f"{better} > {worse}", "better": better, "worse": worse,
        "difference": float(point[i] - point[j]), "low": lo, "high": hi,
        "verdict": claims_lib.verdict(lo, hi),
        "p_value": claims_lib.bootstrap_p_value(diff),
        # Clips where the two rows differ carry the paired evidence.
        "discordant_clips": int(sum(int(d.sum()) for d in disagree)),
        "effective_clips_per_seed": ess})
  # Holm decides among the claims whose own interval decides: it can only
  # take verdicts away (family-wise), never add one.
  for claim, family in zip(checked, claims_lib.holm(checked, level)):
    claim["holm_verdict"] = (family if claim["verdict"] == family
                             else claims_lib.NOT_SIGNIFICANT)
  return {"rows": result_rows, "claims": checked,
          "num_clips": int(pooled.shape[1]),
          "num_performances": int(sum(np.unique(g).size
                                      for g in seeds.groups)),
          "num_seeds": len(seeds.correct), "level": level,
          "num_samples": num_samples,
          "unit": ("performances" if len(seeds.correct) == 1
                   else "seeds, then performances")}


def correct_from_logits(logits: Mapping[str, np.ndarray],
                        labels: np.ndarray) -> dict[str, np.ndarray]:
  """``{row: [N] bool}`` top-1 correctness of each row's clip logits.

  A tie with the label's logit counts as a miss, as in the tables' top-1
  (``training.metrics.top_k_accuracy``), so that a row's interval and its
  figure count the same clips (an untrained stream's logits can tie).
  """
  labels = np.asarray(labels).reshape(-1)
  out = {}
  for row, values in logits.items():
    values = np.asarray(values)
    label_logit = values[np.arange(len(labels)), labels][:, None]
    out[row] = (values >= label_logit).sum(axis=-1) == 1
  return out
