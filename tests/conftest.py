"""Shared fixtures: isolated Keras home, clean gin state, shared sample data."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
  """The real NTU sample files: $POSEDRIVEN_SHARED_DATA, or ../shared/data
  next to the checkout, or the workplace's /work/shared/data (a clean clone
  elsewhere)."""
  candidates = [REPO_ROOT.parent / "shared" / "data",
                Path("/work/shared/data")]
  if os.environ.get("POSEDRIVEN_SHARED_DATA"):
    candidates.insert(0, Path(os.environ["POSEDRIVEN_SHARED_DATA"]))
  for path in candidates:
    if (path / "ntu_samples").is_dir():
      return path
  return candidates[0]


SHARED_DATA = _shared_data()
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
    pytest.fail(f"real NTU samples expected at {NTU_SAMPLES}")
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


@pytest.fixture
def mixed_bfloat16():
  """Runs a test under the ``mixed_bfloat16`` Keras policy, then restores."""
  import keras  # pylint: disable=g-import-not-at-top
  keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    yield
  finally:
    keras.mixed_precision.set_global_policy("float32")
