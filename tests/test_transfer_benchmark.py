"""``benchmarks/transfer.py``: the testbed in front of the runner, its summary.

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
from posedriven.experiments import runner
benchmark = runpy.run_path("benchmarks/transfer.py")
experiment = runner.load("transfer_pose")
names = [f"s01s02_{c:02d}_{i:02d}" for c in range(1, 9) for i in (1, 2)]


def table(correct):
  figures = {row: {"top1": sum(c) / len(c), "top5": 1.0, "mean_class": 0.0}
             for row, c in correct.items()}
  return {"table": figures, "clip_outcomes": {"names": names,
                                              "correct": correct}}


per_seed = []
for seed in range(3):
  # (c) right on every clip, (a) on a third, the others on half.
  target = {f"{variant}/pose": [int(i % share == 0) for i in range(16)]
            for variant, share in (("a_scratch", 3), ("b_ntu_native", 2),
                                   ("c_ntu_mapped", 1), ("d_no_finetune", 2),
                                   ("e_scratch_mapped", 2))}
  per_seed.append({"tables": {
      "ntu_pretrain": table({"ntu_pretrain/pose": [int(seed > 0)] * 16}),
      "target": table(target)}})
results = {"seeds": [0, 1, 2],
           "tables": runner.summarize(experiment, per_seed)}
json.dump({"results": results,
           "lines": benchmark["summary_lines"](results, "sbu")}, sys.stdout)
"""


@pytest.mark.slow  # a subprocess importing TensorFlow
def test_transfer_summary_uses_the_bootstrap_and_the_claim_verdict():
  out = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=REPO_ROOT,
                       capture_output=True, text=True, check=False)
  assert out.returncode == 0, out.stderr[-3000:]
  printed = json.loads(out.stdout)
  tables, lines = printed["results"]["tables"], printed["lines"]
  target = tables["target"]
  a = target["intervals"]["rows"]["a_scratch/pose"]
  # 6 of 16 clips (i % 3 == 0) in every seed.
  assert target["per_seed_top1"]["a_scratch/pose"] == [0.375] * 3
  assert a["top1"] == 0.375
  # Bootstrap over seeds and clips: inside [0, 1], around the estimate (a
  # t-interval over three equal seeds would have width 0).
  assert 0.0 <= a["low"] < a["top1"] < a["high"] <= 1.0
  ntu = tables["ntu_pretrain"]
  assert ntu["per_seed_top1"]["ntu_pretrain/pose"] == [0.0, 1.0, 1.0]
  assert ntu["intervals"]["rows"]["ntu_pretrain/pose"]["low"] == 0.0
  assert ntu["intervals"]["rows"]["ntu_pretrain/pose"]["high"] == 1.0
  claim, alone = target["intervals"]["claims"]
  assert claim["claim"] == "c_ntu_mapped/pose > a_scratch/pose"
  assert claim["difference"] == pytest.approx(0.625)
  assert claim["verdict"] == "holds"
  # (e) right on every other clip: 8 of 16.
  assert alone["claim"] == "c_ntu_mapped/pose > e_scratch_mapped/pose"
  assert alone["difference"] == pytest.approx(0.5)
  assert target["intervals"]["unit"] == "seeds, then performances"
  assert target["intervals"]["num_seeds"] == 3
  assert target["intervals"]["num_clips"] == 48
  assert lines[0].startswith("top-1 % on the sbu test clips (3 seeds")
  assert lines[1].split()[:3] == ["ntu_pretrain", "pose", "66.7"]
  assert lines[1].endswith("per seed [0.0, 100.0, 100.0]")
  assert lines[2].split()[:3] == ["a_scratch", "pose", "37.5"]
  assert lines[2].endswith("per seed [37.5, 37.5, 37.5]")
  assert [line.split()[0] for line in lines[1:7]] == [
      "ntu_pretrain", "a_scratch", "b_ntu_native", "c_ntu_mapped",
      "d_no_finetune", "e_scratch_mapped"]
  assert lines[7] == "Claims, paired:"
  assert "holds: c_ntu_mapped/pose > a_scratch/pose" in lines[8]
  assert "holds: c_ntu_mapped/pose > e_scratch_mapped/pose" in lines[8]
  assert lines[-1] == (
      "claims that hold: {'c_ntu_mapped/pose > a_scratch/pose': True,"
      " 'c_ntu_mapped/pose > e_scratch_mapped/pose': True}")


@pytest.mark.slow  # data, 5 training runs, 5 evaluations: ~25 s
def test_the_benchmark_generates_its_testbed_and_runs_the_experiment(
    tmp_path):
  bindings = [
      "experiment.seeds = [0]", "generate_dataset.num_subjects = 2",
      "generate_dataset.cameras = (1,)",
      "generate_sbu.sets = ('s02s03', 's01s02', 's03s04', 's05s02',"
      " 's06s04')", "generate_sbu.sequences = 1",
      "TRANSFER_NTU_POSE_EPOCHS = 1", "TRANSFER_EPOCHS = 1",
      # One fold (fold 1): what is tested here is the testbed and the
      # runner behind the benchmark; the folds are tests/experiments/
      # test_folds.py's.
      "TRANSFER_FOLDS = None"]
  out = subprocess.run(
      [sys.executable, "benchmarks/transfer.py", "--experiment=transfer_pose",
       f"--output_dir={tmp_path}",
       *(f"--gin_bindings={b}" for b in bindings)],
      cwd=REPO_ROOT, capture_output=True, text=True, check=False)
  assert out.returncode == 0, out.stderr[-3000:]
  # The testbed the bindings asked for, made in front of the runner; the
  # pose-only experiment writes no SBU frames and makes no glimpse sensor.
  assert len(list((tmp_path / "synthetic_ntu" / "nturgb+d_skeletons").glob(
      "*.skeleton"))) == 2 * 8
  assert sorted(p.name for p in (tmp_path / "synthetic_sbu").iterdir()
                if p.is_dir()) == ["s01s02", "s02s03", "s03s04", "s05s02",
                                   "s06s04"]
  assert not list((tmp_path / "synthetic_sbu").rglob("*.png"))
  assert not (tmp_path / "glimpse_sensor.weights.h5").exists()
  results = json.loads((tmp_path / "transfer_pose_results.json").read_text())
  assert list(results["tables"]) == ["ntu_pretrain", "target"]
  assert list(results["tables"]["target"]["table"]) == [
      f"{v}/pose" for v in ("a_scratch", "b_ntu_native", "c_ntu_mapped",
                            "d_no_finetune", "e_scratch_mapped")]
  # The variants start from the seed's NTU run (the runner's init_from).
  stage = json.loads((tmp_path / "runs" / "c_ntu_mapped_pose" /
                      "stage.json").read_text())
  assert stage["params"]["init_from"] == str(tmp_path / "runs" / "ntu_pose")
  assert stage["params"]["epochs"] == 1
  assert stage["params"]["learning_rate"] == pytest.approx(1e-4)
  # The runner's report, then the benchmark's summary.
  assert "Claims (paired bootstrap" in out.stdout
  assert "top-1 % on the sbu test clips (1 seeds pooled" in out.stdout
  assert "claims that hold: {'c_ntu_mapped/pose > a_scratch/pose': " in (
      out.stdout)
  # (e) trains from scratch on the NTU layout.
  stage = json.loads((tmp_path / "runs" / "e_scratch_mapped_pose" /
                      "stage.json").read_text())
  assert stage["params"]["init_from"] is None
  assert stage["skeleton_layout"] == "kinect_v2"
