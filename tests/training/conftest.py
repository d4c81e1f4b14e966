"""Tiny synthetic runs shared by the stage tests (train pose, train RGB,
evaluate): trained once per session, only read by the tests."""

from __future__ import annotations

import pytest

from posedriven import prepare
from posedriven.data.synthetic import sbu_msr
from posedriven.training import train_pose
from posedriven.training import train_rgb

# Test-sized stages: two epochs of a few-unit network.
SMALL_POSE = dict(batch_size=8, epochs=2, filters=(4, 4), features=16,
                  validation_fraction=0.3, verbose=0)
SMALL_RGB = dict(batch_size=8, epochs=2, lstm_units=8,
                 spatial_attention_units=8, temporal_attention_units=8,
                 feature_units=8, num_attention_images=2,
                 validation_fraction=0.3, verbose=0)


@pytest.fixture(scope="session")
def pose_run(tiny_prepared, tmp_path_factory):
  out = tmp_path_factory.mktemp("pose_run")
  train_pose.train_pose(out, tiny_prepared, **SMALL_POSE)
  return out


@pytest.fixture(scope="session")
def rgb_run(tiny_synthetic, tiny_prepared, pose_run, tmp_path_factory):
  out = tmp_path_factory.mktemp("rgb_run")
  train_rgb.train_rgb(out, tiny_prepared, pose_run, **SMALL_RGB,
                      probe_dataset_root=str(tiny_synthetic))
  return out


@pytest.fixture(scope="session")
def tiny_sbu(calibrated_sensor_weights, tmp_path_factory):
  """Synthetic SBU-format skeletons and frames (one training, one fold-1 test
  set), prepared with the NTU fixtures' glimpse sensor."""
  root = tmp_path_factory.mktemp("tiny_sbu")
  sbu_msr.generate_sbu(root, sets=("s02s03", "s01s02"))
  out = tmp_path_factory.mktemp("tiny_sbu_prepared")
  prepare.prepare_dataset(root, out, dataset="sbu", protocol="sbu_fold1",
                          glimpse_input_size=75,
                          glimpse_weights=str(calibrated_sensor_weights),
                          log_every_s=1e9)
  return out
