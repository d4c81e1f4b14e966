"""Preparation killed by SIGKILL at several points, then rerun, writes the
files of an uninterrupted run, byte for byte.

tests/data/test_prepare.py stops one run with an exception at one point;
here real processes die, one after the other, at each delicate point of a
file's life: half written, complete but not yet renamed, just renamed (from
outside, at a moment the process does not choose), and while the manifest is
merged.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import tensorflow as tf

from posedriven import prepare
from posedriven.data.formats import registry
from posedriven.data import synthetic
from posedriven.models import glimpse
from tests import helpers


# Slow (SIGKILLed preparation subprocesses): left out of the
# inner loop, `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

PREPARE = """
import json, sys
from tests.faults import sigkill
sigkill.install(json.loads(sys.argv[1]))
from posedriven import prepare
from posedriven.data.formats import registry
prepare.prepare_dataset(**json.loads(sys.argv[2]))
"""

# 3 train + 3 test clips, 2 per file: train-0, train-1, test-0, test-1.
CLIPS_PER_FILE = 2
BATCH_SIZE = 32


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory):
  root = tmp_path_factory.mktemp("synthetic")
  synthetic.generate_dataset(root, num_subjects=2, cameras=(1,),
                             actions=(1, 2, 3), image_size=(160, 96),
                             num_frames_range=(10, 13), seed=2)
  return root


@pytest.fixture(scope="module")
def sensor_and_weights(tmp_path_factory):
  """A random sensor saved to a file: every process computes the same."""
  sensor = glimpse.GlimpseSensor(weights=None, input_size=75)
  sensor(np.zeros((1, 75, 75, 3), np.uint8))
  path = tmp_path_factory.mktemp("sensor") / "sensor.weights.h5"
  sensor.backbone.save_weights(str(path))
  return sensor, path


@pytest.fixture(scope="module")
def sensor_weights(sensor_and_weights):
  return sensor_and_weights[1]


def _settings(root, out, weights):
  return dict(dataset_root=str(root), output_dir=str(out),
              dataset="synthetic", protocol="synthetic_cs",
              clips_per_file=CLIPS_PER_FILE, batch_size=BATCH_SIZE,
              glimpse_input_size=75, glimpse_weights=str(weights),
              log_every_s=1e9)


def _command(settings, kill_point=None):
  return helpers.python_command(PREPARE, json.dumps(kill_point),
                                json.dumps(settings))


def _tool_command(settings):
  """The same run through tools/prepare_data.py and gin."""
  s = settings
  bindings = {"dataset": repr(s["dataset"]), "protocol": repr(s["protocol"]),
              "clips_per_file": CLIPS_PER_FILE, "batch_size": BATCH_SIZE,
              "glimpse_input_size": 75,
              "glimpse_weights": repr(s["glimpse_weights"])}
  return [sys.executable, str(helpers.REPO_ROOT / "tools" / "prepare_data.py"),
          f"--dataset_root={s['dataset_root']}",
          f"--output_dir={s['output_dir']}",
          *(f"--gin_bindings=prepare_dataset.{k} = {v}"
            for k, v in bindings.items())]


def _names(out, pattern):
  return sorted(p.name for p in out.glob(pattern))


TRAIN_0 = "train-00000-of-00002.tfrecord"
TRAIN_1 = "train-00001-of-00002.tfrecord"
TEST_0 = "test-00000-of-00002.tfrecord"


def test_killed_runs_resume_to_identical_files(dataset_root, sensor_weights,
                                               tmp_path):
  out = tmp_path / "killed"
  settings = _settings(dataset_root, out, sensor_weights)

  # 1. Half-way through the first file (its 2nd clip is being read).
  helpers.run_until_killed(_command(settings, {
      "call": "posedriven.data.synthetic.dataset:load_clip", "nth": 2}))
  assert _names(out, "*.tfrecord") == []
  assert _names(out, "*.tmp") == [f"{TRAIN_0}.tmp"]

  # 2. The 2nd file is complete and listed in its manifest part, but not yet
  #    renamed.
  helpers.run_until_killed(_command(settings, {
      "replace_suffix": ".tfrecord", "nth": 2, "when": "before"}))
  assert _names(out, "*.tfrecord") == [TRAIN_0]
  assert (out / prepare.MANIFEST_PARTS / TRAIN_1.replace(
      ".tfrecord", ".json")).exists()

  # 3. From outside, through the binary, right after the first test file
  #    is renamed (the resumed train-1 was renamed just before).
  helpers.run_until_killed(_tool_command(settings),
                           lambda: (out / TEST_0).exists())
  assert {TRAIN_0, TRAIN_1, TEST_0} <= set(_names(out, "*.tfrecord"))

  # 4. While merging the manifest (every file may be done by now).
  helpers.run_until_killed(_command(settings, {
      "replace_suffix": prepare.MANIFEST, "nth": 1, "when": "before"}))

  summary = prepare.prepare_dataset(**settings)
  reference = tmp_path / "reference"
  expected = prepare.prepare_dataset(
      **_settings(dataset_root, reference, sensor_weights))

  assert expected["files_written"] == 4
  assert helpers.tfrecord_bytes(out) == helpers.tfrecord_bytes(reference)
  records = helpers.records_by_name(out)  # asserts each clip appears once
  assert sorted(records) == sorted(
      s.name for s in registry.list_clips(dataset_root, "synthetic"))
  assert summary["manifest"]["complete"]
  assert summary["manifest"]["clips"] == expected["manifest"]["clips"]
  assert summary["manifest"]["counts"] == {"ok": 6, "error": 0,
                                           "skipped": 0, "degraded": 0}
  assert _names(out, "*.tmp") == []
  # Done: another run writes nothing.
  assert prepare.prepare_dataset(**settings)["files_written"] == 0


def test_sensor_first_called_in_a_trace_has_its_file_weights(
    sensor_and_weights):
  # prepare traces the sensor's first call (tf.function); a resumed run must
  # compute the features of an uninterrupted one, so the weights must stick.
  eager, path = sensor_and_weights
  crops = np.random.default_rng(0).integers(0, 256, (4, 24, 24, 3),
                                            dtype=np.uint8)
  traced = glimpse.GlimpseSensor(weights=path, input_size=75)
  expected = np.asarray(eager(crops))
  features = tf.function(lambda x: traced(x, training=False))(crops)
  for got, want in zip(traced.backbone.get_weights(),
                       eager.backbone.get_weights(), strict=True):
    np.testing.assert_array_equal(got, want)
  np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-7)
