"""Loading a training run's best model (best.keras)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from posedriven.models import streams
from posedriven.training import best_model
from posedriven.training import run_dir


def test_best_model_round_trips_with_its_custom_layers(tmp_path):
  keras.utils.set_random_seed(0)
  model = streams.build_pose_stream(3, 60, filters=(4, 4), features=8)
  model.save(tmp_path / run_dir.BEST_MODEL)
  loaded = best_model.load_best_model(tmp_path)
  assert [w.path for w in loaded.weights] == [w.path for w in model.weights]
  for saved, read in zip(model.get_weights(), loaded.get_weights()):
    np.testing.assert_array_equal(read, saved)


def test_run_without_a_best_model_is_named(tmp_path):
  with pytest.raises(FileNotFoundError,
                     match=f"{tmp_path} has no best.keras; train it first"):
    best_model.load_best_model(tmp_path)


def test_model_running_python_code_is_refused(tmp_path):
  # safe_mode: a .keras file may not run Python code (README, "Trust model").
  model = keras.Sequential([keras.Input((3,)),
                            keras.layers.Lambda(lambda x: x * 2)])
  model.save(tmp_path / run_dir.BEST_MODEL)
  with pytest.raises(ValueError, match="safe_mode=False"):
    best_model.load_best_model(tmp_path)
