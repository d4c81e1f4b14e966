"""A tiny synthetic root and a sensor, shared by the preparation tests."""

from __future__ import annotations

import numpy as np
import pytest

from posedriven import prepare
from posedriven.data import synthetic
from posedriven.models import glimpse

# 2 subjects x 3 actions: subject 1 -> train, subject 2 -> test
# (synthetic_cs), 2 clips per file -> 2 train files + 2 test files.
CLIPS_PER_FILE = 2


# Session-wide: the modules share one root and one sensor (InceptionV3 takes
# seconds to build); tests copy the root before breaking it.
@pytest.fixture(scope="session")
def dataset_root(tmp_path_factory):
  return _tiny_root(tmp_path_factory.mktemp("synthetic"))


def _tiny_root(root):
  synthetic.generate_dataset(root, num_subjects=2, cameras=(1,),
                             actions=(1, 2, 3), image_size=(160, 96),
                             num_frames_range=(10, 13),
                             second_person_probability=0.5, seed=1)
  return root


@pytest.fixture(scope="session")
def root_with_bad_clip(tmp_path_factory):
  """The same tiny root with its second clip's video replaced by noise: a
  bad clip that preparation records with its reason, never fatal. (Made
  apart, not from ``dataset_root``: modules that use it name it
  ``dataset_root``.)"""
  root = _tiny_root(tmp_path_factory.mktemp("bad_clip"))
  names = sorted(p.name.split(".")[0]
                 for p in (root / "nturgb+d_skeletons").glob("*.skeleton"))
  synthetic.video_path(root, names[1]).write_bytes(
      np.random.default_rng(0).integers(0, 256, 30_000,
                                        dtype=np.uint8).tobytes())
  return root


@pytest.fixture(scope="session")
def sensor(calibrated_sensor_weights):
  # Calibrated: features of order 1, so that comparisons can fail.
  return glimpse.GlimpseSensor(weights=str(calibrated_sensor_weights),
                               input_size=75)


def prepare_synthetic(root, out, sensor, **kwargs):
  """``prepare_dataset`` on a synthetic root, ``CLIPS_PER_FILE`` per file."""
  kwargs.setdefault("store", "features")
  return prepare.prepare_dataset(
      root, out, dataset="synthetic", protocol="synthetic_cs",
      clips_per_file=CLIPS_PER_FILE, batch_size=32, sensor=sensor, **kwargs)
