"""Tests for posedriven.prepare.beam_pipeline (prepare_dataset(runner=...)).

Beam is part of the ``test`` extra: these tests fail, not skip, without it.
"""

from __future__ import annotations

import json
import shutil

import apache_beam  # noqa: F401  (no importorskip: CI must run these)
import pytest

from posedriven import prepare
from posedriven.models import glimpse
from tests import helpers

# 2 subjects x 3 actions, 2 clips per file: 2 train + 2 test files, so the
# two Beam workers both get files.
CLIPS_PER_FILE = 2
TWO_WORKERS = ["--direct_num_workers=2",
               "--direct_running_mode=multi_processing"]
# Beam's portable runner with its embedded job server, SDK harness in this
# process: the Job API + Fn API path that Flink and Spark use, without
# their Java job servers (BUILD_NOTES, issue 16).
PORTABLE_LOCAL = ["--job_endpoint=embed", "--environment_type=LOOPBACK"]


@pytest.fixture(scope="module")
def dataset_root(root_with_bad_clip):
  # The shared tiny root with one undecodable video (conftest.py).
  return root_with_bad_clip


def _prepare(root, out, weights, **kwargs):
  return prepare.prepare_dataset(
      root, out, dataset="synthetic", protocol="synthetic_cs",
      clips_per_file=CLIPS_PER_FILE, batch_size=32, glimpse_input_size=75,
      glimpse_weights=str(weights), log_every_s=1e9, **kwargs)


@pytest.fixture(scope="module")
def reference(dataset_root, calibrated_sensor_weights, tmp_path_factory):
  """The threaded single-process path's output on the same clips."""
  out = tmp_path_factory.mktemp("threaded")
  sensor = glimpse.GlimpseSensor(weights=str(calibrated_sensor_weights),
                                 input_size=75)
  summary = prepare.prepare_dataset(
      dataset_root, out, dataset="synthetic", protocol="synthetic_cs",
      clips_per_file=CLIPS_PER_FILE, batch_size=32, sensor=sensor,
      log_every_s=1e9)
  assert summary["clips"] == {"ok": 5, "error": 1, "skipped": 0,
                              "degraded": 0}
  return out


def _clips(out):
  return json.loads((out / "manifest.json").read_text())["clips"]


@pytest.mark.slow
def test_direct_runner_on_two_workers_writes_the_threaded_bytes(
    dataset_root, calibrated_sensor_weights, reference, tmp_path):
  summary = _prepare(dataset_root, tmp_path, calibrated_sensor_weights,
                     runner="DirectRunner", beam_options=TWO_WORKERS)
  assert summary["files_written"] == 4
  assert summary["clips"] == {"ok": 5, "error": 1, "skipped": 0,
                              "degraded": 0}
  # Timings from the workers' Beam metrics (the benchmark reads them).
  assert 0 < summary["writing_seconds"] < summary["seconds"]
  assert summary["worker_cpu_seconds"] > 0
  # Same records, byte for byte: the features come out of the same sensor
  # batches (a file's clips in order), the files are named and cut alike.
  assert helpers.tfrecord_bytes(tmp_path) == helpers.tfrecord_bytes(reference)
  assert _clips(tmp_path) == _clips(reference)
  (bad,) = [e for e in _clips(tmp_path) if e["status"] == "error"]
  assert "not a decodable video" in bad["reason"]
  manifest = json.loads((tmp_path / "manifest.json").read_text())
  assert manifest["complete"]
  assert not list(tmp_path.glob("*.tmp"))

  # A rerun finds everything done: no pipeline, nothing rewritten.
  mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.tfrecord")}
  again = _prepare(dataset_root, tmp_path, calibrated_sensor_weights,
                   runner="DirectRunner", beam_options=TWO_WORKERS)
  assert again["files_written"] == 0 and again["files_skipped"] == 4
  assert mtimes == {p.name: p.stat().st_mtime_ns
                    for p in tmp_path.glob("*.tfrecord")}


@pytest.mark.slow
def test_portable_runner_resumes_an_interrupted_run(
    dataset_root, calibrated_sensor_weights, reference, tmp_path):
  # A run killed while writing test-00001: three files and their parts
  # are complete, the fourth is a temp file.
  shutil.copytree(reference, tmp_path, dirs_exist_ok=True)
  (tmp_path / "manifest.json").unlink()
  killed = tmp_path / "test-00001-of-00002.tfrecord"
  killed.rename(tmp_path / "test-00001-of-00002.tfrecord.tmp")
  kept = tmp_path / "train-00000-of-00002.tfrecord"
  kept_mtime = kept.stat().st_mtime_ns

  summary = _prepare(dataset_root, tmp_path, calibrated_sensor_weights,
                     runner="PortableRunner", beam_options=PORTABLE_LOCAL)
  assert summary["files_written"] == 1 and summary["files_skipped"] == 3
  assert kept.stat().st_mtime_ns == kept_mtime
  assert helpers.tfrecord_bytes(tmp_path) == helpers.tfrecord_bytes(reference)
  assert _clips(tmp_path) == _clips(reference)
  assert not list(tmp_path.glob("*.tmp"))


def test_beam_needs_weights_every_worker_loads(dataset_root, tmp_path):
  with pytest.raises(ValueError, match="every worker"):
    prepare.prepare_dataset(dataset_root, tmp_path, dataset="synthetic",
                            protocol="synthetic_cs", glimpse_weights=None,
                            runner="DirectRunner")
  with pytest.raises(ValueError, match="num_shards"):
    prepare.prepare_dataset(dataset_root, tmp_path, dataset="synthetic",
                            protocol="synthetic_cs", store="none",
                            runner="DirectRunner", num_shards=2)
  with pytest.raises(ValueError, match="need a runner"):
    prepare.prepare_dataset(dataset_root, tmp_path, dataset="synthetic",
                            protocol="synthetic_cs", store="none",
                            beam_options=TWO_WORKERS)


def test_tool_main_passes_runner_and_beam_options_bindings(dataset_root, tmp_path):
  from absl import flags
  from tools import prepare_data
  out = tmp_path / "out"
  flags.FLAGS([
      "prepare_data", f"--dataset_root={dataset_root}", f"--output_dir={out}",
      "--gin_bindings=prepare_dataset.dataset = 'synthetic'",
      "--gin_bindings=prepare_dataset.protocol = 'synthetic_cv'",
      "--gin_bindings=prepare_dataset.store = 'none'",
      # Camera 1 only: the test split of synthetic_cv.
      "--gin_bindings=prepare_dataset.allow_empty_split = True",
      "--gin_bindings=prepare_dataset.runner = 'DirectRunner'",
      "--gin_bindings=prepare_dataset.beam_options ="
      " ['--direct_running_mode=in_memory']",
  ])
  try:
    prepare_data.main([])
  finally:
    flags.FLAGS.unparse_flags()
  config = (out / "operative_config-0.gin").read_text()
  assert "prepare_dataset.runner = 'DirectRunner'" in config
  assert "['--direct_running_mode=in_memory']" in config
  manifest = json.loads((out / "manifest.json").read_text())
  assert manifest["complete"] and manifest["counts"]["ok"] == 6
