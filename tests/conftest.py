"""Shared fixtures: isolated Keras home, clean gin state, shared sample data."""

import os
from pathlib import Path
from typing import Mapping

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA_VARIABLE = "POSEDRIVEN_SHARED_DATA"


def shared_data_dir(repo_root: Path, environ: Mapping[str, str]) -> Path:
  """Where the real NTU sample files are: ``$POSEDRIVEN_SHARED_DATA`` if set,
  else ``shared/data`` beside the checkout.

  No machine-specific fallback: a clone elsewhere sets the variable (the
  ``ntu_samples`` fixture fails naming the path it looked at).
  """
  if environ.get(SHARED_DATA_VARIABLE):
    return Path(environ[SHARED_DATA_VARIABLE])
  return repo_root.parent / "shared" / "data"


SHARED_DATA = shared_data_dir(REPO_ROOT, os.environ)
NTU_SAMPLES = SHARED_DATA / "ntu_samples"


@pytest.fixture(autouse=True)
def _isolated_keras_home(tmp_path_factory, monkeypatch):
  # Keras writes keras.json and caches weights under KERAS_HOME.
  monkeypatch.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras_home")))


@pytest.fixture(autouse=True)
def _clean_gin():
  import gin
  gin.clear_config()
  yield
  gin.clear_config()


@pytest.fixture
def ntu_samples() -> Path:
  """The real NTU RGB+D files shipped beside the project."""
  if not NTU_SAMPLES.is_dir():
    pytest.fail(f"real NTU samples expected at {NTU_SAMPLES} (shared/data"
                f" beside the checkout, or set ${SHARED_DATA_VARIABLE})")
  return NTU_SAMPLES


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory) -> Path:
  """A tiny synthetic NTU-format dataset: 2 subjects x 8 classes x 1 view."""
  from posedriven.data import synthetic
  root = tmp_path_factory.mktemp("tiny_synthetic")
  synthetic.generate_dataset(root, num_subjects=2, cameras=(1,),
                             image_size=(320, 180), num_frames_range=(20, 26),
                             seed=0)
  return root


@pytest.fixture(scope="session")
def calibrated_sensor_weights(tiny_synthetic, tmp_path_factory) -> Path:
  """The demo's glimpse sensor (75 px) for ``tiny_synthetic``.

  A seeded random InceptionV3 whose batch-norm statistics are estimated on
  the set's hand crops: its features are of order 1, as with ImageNet
  weights. With default statistics they are ~1e-4, so comparisons with any
  tolerance above that pass on all-zero features.
  """
  from posedriven import demo
  path = tmp_path_factory.mktemp("sensor") / "glimpse_sensor.weights.h5"
  return demo.make_sensor_weights(path, 75, 0, tiny_synthetic)


@pytest.fixture(scope="session")
def tiny_prepared(tiny_synthetic, calibrated_sensor_weights,
                  tmp_path_factory) -> Path:
  """``tiny_synthetic`` prepared with the calibrated random sensor."""
  from posedriven import prepare
  out = tmp_path_factory.mktemp("tiny_prepared")
  prepare.prepare_dataset(tiny_synthetic, out, dataset="synthetic",
                          protocol="synthetic_cs", glimpse_input_size=75,
                          glimpse_weights=str(calibrated_sensor_weights),
                          clips_per_file=4, log_every_s=1e9)
  return out


@pytest.fixture(scope="session")
def tiny_pose_only(tiny_synthetic, tmp_path_factory) -> Path:
  """``tiny_synthetic`` prepared without glimpses (the pose stream's data)."""
  from posedriven import prepare
  out = tmp_path_factory.mktemp("tiny_pose_only")
  prepare.prepare_dataset(tiny_synthetic, out, dataset="synthetic",
                          protocol="synthetic_cs", store="none",
                          clips_per_file=4, log_every_s=1e9)
  return out


@pytest.fixture(scope="session")
def two_worker_reference(tiny_pose_only, tmp_path_factory) -> Path:
  """An uninterrupted two-worker pose run: what killed and resumed runs must
  equal (tests/training/test_multi_worker.py and
  tests/faults/test_killed_chief.py run it once)."""
  from tests.training import test_multi_worker
  return test_multi_worker.uninterrupted_run(
      tiny_pose_only, tmp_path_factory.mktemp("two_worker_reference"))


@pytest.fixture
def mixed_bfloat16():
  """Runs a test under the ``mixed_bfloat16`` Keras policy, then restores."""
  import keras  # pylint: disable=g-import-not-at-top
  keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    yield
  finally:
    keras.mixed_precision.set_global_policy("float32")
