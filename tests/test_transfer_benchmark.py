"""``benchmarks/transfer.py`` judges its claim with the project's interval.

The benchmark defines absl flags at import, so it is loaded in its own
process (the flags would clash with a binary's in this one).
"""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

_SCRIPT = r"""
import json, runpy, sys
benchmark = runpy.run_path("benchmarks/transfer.py")
names = [f"s01s02_{c:02d}_{i:02d}" for c in range(1, 9) for i in (1, 2)]


def record(prefix, right):
  return {"names": names, "correct": {
      f"{prefix}/pose": [int(r) for r in right]}}


per_seed = []
for seed in range(3):
  # (c) right on every clip, (a) on a third, the others on half.
  target = {"names": names, "correct": {}}
  for variant, share in (("a_scratch", 3), ("b_ntu_native", 2),
                         ("c_ntu_mapped", 1), ("d_no_finetune", 2)):
    target["correct"].update(
        record(variant, [i % share == 0 for i in range(16)])["correct"])
  per_seed.append({"ntu_pretrain": record("ntu_pretrain", [seed > 0] * 16),
                   "target": target})
json.dump(benchmark["summarize"](per_seed), sys.stdout)
"""


@pytest.mark.slow  # a subprocess importing TensorFlow
def test_transfer_summary_uses_the_bootstrap_and_the_claim_verdict():
  out = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=REPO_ROOT,
                       capture_output=True, text=True, check=False)
  assert out.returncode == 0, out.stderr[-3000:]
  summary = json.loads(out.stdout)
  assert set(summary) >= {"ntu_pretrain", "a_scratch", "b_ntu_native",
                          "c_ntu_mapped", "d_no_finetune", "c_minus_a",
                          "c_beats_a", "intervals"}
  a = summary["a_scratch"]["pose"]
  # 6 of 16 clips (i % 3 == 0) in every seed.
  assert a["per_seed"] == [0.375] * 3 and a["top1"] == 0.375
  # Bootstrap over seeds and clips: inside [0, 1], around the estimate (a
  # t-interval over three equal seeds would have width 0).
  assert 0.0 <= a["low"] < a["top1"] < a["high"] <= 1.0
  ntu = summary["ntu_pretrain"]["pose"]
  assert ntu["per_seed"] == [0.0, 1.0, 1.0]
  assert ntu["low"] == 0.0 and ntu["high"] == 1.0
  claim = summary["c_minus_a"]["pose"]
  assert claim["claim"] == "c_ntu_mapped/pose > a_scratch/pose"
  assert claim["difference"] == pytest.approx(0.625)
  assert claim["per_seed"] == pytest.approx([0.625] * 3)
  assert claim["verdict"] == "holds" and summary["c_beats_a"] == {
      "pose": True}
  target = summary["intervals"]["target"]
  assert target["unit"] == "seeds, then performances"
  assert target["num_seeds"] == 3 and target["num_clips"] == 48
