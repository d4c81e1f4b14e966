"""benchmarks/testbed_probes.py: its interval's unit is the performance.

The benchmark defines absl flags at import, so it is loaded in its own
process (the flags would clash with a binary's in this one).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

_SCRIPT = r"""
import json, runpy
import numpy as np
from posedriven.data import synthetic
probes = runpy.run_path("benchmarks/testbed_probes.py")
# Two performances (subjects 1 and 2), each recorded with both objects of
# motion 0 (actions 1 and 2 under paired_objects).
names = ["S001C001P001R001A001", "S001C001P001R001A002",
         "S001C001P002R001A001", "S001C001P002R001A002"]
truth, predicted = np.array([0, 1, 0, 1]), np.array([0, 0, 0, 1])
print(json.dumps({
    "paired": probes["score"](predicted, truth, names,
                              synthetic.paired_action_groups()),
    "unpaired": probes["score"](predicted, truth, names)}))
"""


@pytest.mark.slow  # a subprocess importing TensorFlow
def test_a_pair_of_clips_is_one_performance():
  out = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=REPO_ROOT,
                       capture_output=True, text=True, check=False)
  assert out.returncode == 0, out.stderr[-3000:]
  scores = json.loads(out.stdout.splitlines()[-1])
  assert scores["paired"]["num"] == 4
  assert scores["paired"]["num_performances"] == 2
  assert scores["paired"]["accuracy"] == 0.75
  assert scores["unpaired"]["num_performances"] == 4
