"""The same seed trains the same weights (what makes the demo table repeat).

Two runs of a stage with one seed, in one process, must end with bitwise
equal weights: the data order, the sub-sequences, dropout and initial
weights all come from the seed. Row C of the demo (concatenated hands) is
the one row found to vary between whole demo runs: across processes
(``benchmarks/cross_process_determinism.py``), not within one, where this
test has found it bitwise repeatable too; G, the paper's row, is checked.
"""

from __future__ import annotations

import numpy as np
import pytest

from posedriven.training import best_model
from posedriven.training import train_pose
from posedriven.training import train_rgb


# Slow (trains each stream twice): left out of the
# inner loop, `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

_POSE = dict(batch_size=4, learning_rate=1e-3, epochs=2, patience=None,
             filters=(8, 8), features=32, validation_fraction=0.0,
             keep_checkpoints=0, seed=7, verbose=0)
_RGB = dict(batch_size=4, learning_rate=1e-3, epochs=2, patience=None,
            lstm_units=16, feature_units=16, validation_fraction=0.0,
            keep_checkpoints=0, num_attention_images=0, seed=7, verbose=0)


def _weights(run) -> list[np.ndarray]:
  return [np.asarray(w) for w in best_model.load_best_model(run).get_weights()]


def _assert_same(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def pose_run(tiny_prepared, tmp_path_factory):
  run = tmp_path_factory.mktemp("det_pose") / "pose"
  train_pose.train_pose(run, tiny_prepared, **_POSE)
  return run


def test_pose_stream_repeats_bitwise(pose_run, tiny_prepared, tmp_path):
  again = tmp_path / "pose_again"
  train_pose.train_pose(again, tiny_prepared, **_POSE)
  _assert_same(_weights(pose_run), _weights(again))


def test_rgb_stream_repeats_bitwise(pose_run, tiny_prepared, tmp_path):
  ablation = "G"
  runs = []
  for k in range(2):
    run = tmp_path / f"rgb_{ablation}_{k}"
    train_rgb.train_rgb(run, tiny_prepared, pose_run, ablation=ablation,
                        **_RGB)
    runs.append(_weights(run))
  _assert_same(*runs)
