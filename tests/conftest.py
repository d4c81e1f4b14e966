"""Shared fixtures: isolated Keras home, clean gin state, shared sample data."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
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
