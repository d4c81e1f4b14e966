"""``benchmarks/predict_latency.py`` on the test export: stages, wall, load.

The benchmark defines absl flags at import, so it runs in its own process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests import helpers
from tests.conftest import REPO_ROOT

# Slow: two fresh predict processes after the export fixture.
pytestmark = pytest.mark.slow


def test_benchmark_reports_stages_wall_and_load(exported, tiny_synthetic,
                                                tmp_path):
  report = tmp_path / "latency.json"
  cmd = [sys.executable, str(REPO_ROOT / "benchmarks" / "predict_latency.py"),
         f"--model={exported}", f"--dataset_root={tiny_synthetic}",
         "--repeats=1", "--long_frames=40", f"--output_json={report}"]
  out = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                       env=helpers.subprocess_env())
  assert out.returncode == 0, out.stderr[-3000:]
  results = json.loads(report.read_text())
  assert len(results) == 2 and list(results)[1] == "40 frames"
  for label, result in results.items():
    (run,) = result["runs"]
    stages = [run[s] for s in ("load_model", "skeleton", "decode", "crops",
                               "inception_v3", "model")]
    assert all(s > 0 for s in stages), (label, run)
    # The stages are inside predict's total, which is inside the process.
    assert sum(stages) <= run["total"] < run["wall"], (label, run)
    assert run["cpu"] > 0 and run["load_average_1min"] >= 0
    assert result["summary"]["wall"]["median"] == run["wall"]
    assert label.split(" (")[0] in out.stdout
  assert "load avg" in out.stdout and "| 40 frames |" in out.stdout
