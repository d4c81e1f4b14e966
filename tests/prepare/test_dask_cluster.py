"""Tests for prepare_dataset(runner="DaskRunner"): Beam on Dask's scheduler.

A real ``distributed`` scheduler and 2 worker processes on 127.0.0.1 that
talk over TCP. Dask is part of the ``test`` extra: these tests fail, not
skip, without it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time

import distributed  # noqa: F401  (no importorskip: CI must run these)
import pytest

from posedriven import prepare
from posedriven.models import glimpse
from posedriven.prepare import dask_cluster
from tests import helpers

# 2 subjects x 3 actions, 2 clips per file: 2 train + 2 test files, so both
# workers get files.
CLIPS_PER_FILE = 2
NUM_FILES = 4
# A short connection timeout, so that the unanswering-scheduler tests are
# quick; the bound they check adds the start of a fresh event loop and the
# ``distributed`` import, well under SLACK_S on a loaded 2-core machine.
TIMEOUT_S = 2
SLACK_S = 15


@pytest.fixture(scope="module")
def dataset_root(root_with_bad_clip):
  # The shared tiny root with one undecodable video (conftest.py).
  return root_with_bad_clip


def _prepare(root, out, weights, **kwargs):
  return prepare.prepare_dataset(
      root, out, dataset="synthetic", protocol="synthetic_cs",
      clips_per_file=CLIPS_PER_FILE, batch_size=32, glimpse_input_size=75,
      glimpse_weights=str(weights), log_every_s=1e9, runner="DaskRunner",
      **kwargs)


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


def _mtimes(out):
  return {p.name: p.stat().st_mtime_ns for p in out.glob("*.tfrecord")}


@pytest.mark.slow
def test_local_cluster_of_two_workers_writes_the_threaded_bytes(
    dataset_root, calibrated_sensor_weights, reference, tmp_path):
  summary = _prepare(dataset_root, tmp_path, calibrated_sensor_weights,
                     dask_workers=2)
  assert summary["files_written"] == NUM_FILES
  assert summary["clips"] == {"ok": 5, "error": 1, "skipped": 0,
                              "degraded": 0}
  # The files went to both worker processes (one partition per file), and
  # each built its sensor once, though Dask runs DoFn.setup per task.
  assert summary["worker_processes"] == 2
  assert summary["sensor_builds"] == 2
  assert 0 < summary["writing_seconds"] < summary["seconds"]
  assert summary["worker_cpu_seconds"] > 0
  assert helpers.tfrecord_bytes(tmp_path) == helpers.tfrecord_bytes(reference)
  assert _clips(tmp_path) == _clips(reference)
  (bad,) = [e for e in _clips(tmp_path) if e["status"] == "error"]
  assert "not a decodable video" in bad["reason"]
  assert json.loads((tmp_path / "manifest.json").read_text())["complete"]
  assert not list(tmp_path.glob("*.tmp"))

  # A rerun finds everything done: nothing rewritten.
  mtimes = _mtimes(tmp_path)
  again = _prepare(dataset_root, tmp_path, calibrated_sensor_weights,
                   dask_workers=2)
  assert again["files_written"] == 0 and again["files_skipped"] == NUM_FILES
  assert _mtimes(tmp_path) == mtimes


def _kill_a_writing_worker(cluster_address, out, killed, done):
  """Kills (SIGKILL) a worker process that is writing a file.

  Waits for a ``.tmp`` file (a file half written) and a worker with a task
  in progress; records its pid and the files complete at that moment.
  """
  with distributed.Client(cluster_address, timeout=30) as client:
    pids = client.run(os.getpid)
    while not done.is_set():
      busy = [w for w, keys in client.processing().items() if keys]
      if list(out.glob("*.tfrecord.tmp")) and busy:
        killed["complete"] = _mtimes(out)
        killed["pid"] = pids[busy[0]]
        os.kill(killed["pid"], signal.SIGKILL)
        return
      time.sleep(0.01)


@pytest.mark.slow
def test_a_worker_killed_mid_run_the_run_finishes_rewriting_only_the_missing(
    dataset_root, calibrated_sensor_weights, reference, tmp_path):
  out = tmp_path / "out"
  out.mkdir()
  killed, done = {}, threading.Event()
  with distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                processes=True, host="127.0.0.1",
                                dashboard_address=None) as cluster:
    killer = threading.Thread(target=_kill_a_writing_worker,
                              args=(cluster.scheduler_address, out, killed,
                                    done))
    killer.start()
    try:
      # A named scheduler (as on SLURM), not one this run starts.
      summary = _prepare(dataset_root, out, calibrated_sensor_weights,
                         dask_scheduler=cluster.scheduler_address)
    finally:
      done.set()
      killer.join()
    assert "pid" in killed, "no worker was killed while writing"
    assert len(killed["complete"]) < NUM_FILES
    # The scheduler gave the killed worker's task to a worker (the nanny
    # restarts the process) and recomputed its finished tasks, whose files
    # were complete: skipped, not rewritten.
    assert summary["files_written"] == NUM_FILES
    assert summary["manifest"]["complete"]
    for name, mtime in killed["complete"].items():
      assert (out / name).stat().st_mtime_ns == mtime, name
    assert helpers.tfrecord_bytes(out) == helpers.tfrecord_bytes(reference)
    assert _clips(out) == _clips(reference)
    assert not list(out.glob("*.tmp"))

    # A rerun on the same scheduler: nothing missing, nothing rewritten.
    mtimes = _mtimes(out)
    again = _prepare(dataset_root, out, calibrated_sensor_weights,
                     dask_scheduler=cluster.scheduler_address)
    assert again["files_written"] == 0 and again["files_skipped"] == NUM_FILES
    assert _mtimes(out) == mtimes


def _silent_listener():
  """A socket that accepts connections and never answers."""
  sock = socket.socket()
  sock.bind(("127.0.0.1", 0))
  sock.listen(8)
  return sock


def _closed_port() -> int:
  sock = socket.socket()
  sock.bind(("127.0.0.1", 0))
  port = sock.getsockname()[1]
  sock.close()
  return port


@pytest.mark.parametrize("kind", ["silent", "refused"])
def test_a_scheduler_that_does_not_answer_is_named_within_the_timeout(
    kind, dataset_root, tmp_path):
  listener = _silent_listener() if kind == "silent" else None
  port = listener.getsockname()[1] if listener else _closed_port()
  address = f"tcp://127.0.0.1:{port}"
  start = time.monotonic()
  try:
    with pytest.raises(dask_cluster.SchedulerUnreachableError) as error:
      prepare.prepare_dataset(
          dataset_root, tmp_path, dataset="synthetic",
          protocol="synthetic_cs", store="none", runner="DaskRunner",
          dask_scheduler=address,
          beam_options=[f"--dask_connection_timeout={TIMEOUT_S}"])
  finally:
    if listener:
      listener.close()
  assert address in str(error.value)
  assert f"within {TIMEOUT_S} s" in str(error.value)
  assert time.monotonic() - start < TIMEOUT_S + SLACK_S


def test_dask_settings_are_checked():
  with pytest.raises(ValueError, match="need runner='DaskRunner'"):
    prepare.prepare_dataset("/nonexistent", "/nonexistent", runner=None,
                            dask_scheduler="tcp://127.0.0.1:8786")
  with pytest.raises(ValueError, match="need runner='DaskRunner'"):
    prepare.prepare_dataset("/nonexistent", "/nonexistent",
                            runner="DirectRunner", dask_workers=2)
  with pytest.raises(ValueError, match="own workers"):
    prepare.prepare_dataset("/nonexistent", "/nonexistent",
                            runner="DaskRunner", dask_workers=2,
                            dask_scheduler="tcp://127.0.0.1:8786")
  with pytest.raises(ValueError, match=">= 1"):
    prepare.prepare_dataset("/nonexistent", "/nonexistent",
                            runner="DaskRunner", dask_workers=0)
  with pytest.raises(ValueError, match="two schedulers"):
    dask_cluster.scheduler_address(
        "tcp://a:1", ["--dask_client_address=tcp://b:2"])
  assert dask_cluster.scheduler_address(
      None, ["--dask_client_address=tcp://b:2"]) == "tcp://b:2"


def test_beam_flags_ask_for_one_partition_per_file():
  flags = dask_cluster.beam_flags("tcp://h:1", 7, ["--dask_client_name=x"])
  assert flags == [f"--runner={dask_cluster.RUNNER_PATH}",
                   "--dask_client_address=tcp://h:1", "--dask_npartitions=7",
                   "--dask_client_name=x"]
  # The user's partitioning wins; a scheduler in the options is not doubled.
  flags = dask_cluster.beam_flags(
      "tcp://h:1", 7, ["--dask_partition_size=3",
                       "--dask_client_address=tcp://h:1"])
  assert flags == [f"--runner={dask_cluster.RUNNER_PATH}",
                   "--dask_client_address=tcp://h:1",
                   "--dask_partition_size=3"]
  assert dask_cluster.is_dask("DaskRunner")
  assert dask_cluster.is_dask(dask_cluster.RUNNER_PATH)
  assert not dask_cluster.is_dask("DirectRunner")


@pytest.mark.slow
def test_tool_main_runs_the_dask_runner_from_bindings(dataset_root, tmp_path):
  from absl import flags
  from tools import prepare_data
  out = tmp_path / "out"
  flags.FLAGS([
      "prepare_data", f"--dataset_root={dataset_root}", f"--output_dir={out}",
      "--gin_bindings=prepare_dataset.dataset = 'synthetic'",
      "--gin_bindings=prepare_dataset.protocol = 'synthetic_cs'",
      "--gin_bindings=prepare_dataset.store = 'none'",
      "--gin_bindings=prepare_dataset.clips_per_file = 2",
      "--gin_bindings=prepare_dataset.runner = 'DaskRunner'",
      "--gin_bindings=prepare_dataset.dask_workers = 2",
  ])
  try:
    prepare_data.main([])
  finally:
    flags.FLAGS.unparse_flags()
  config = (out / "operative_config-0.gin").read_text()
  assert "prepare_dataset.runner = 'DaskRunner'" in config
  assert "prepare_dataset.dask_workers = 2" in config
  manifest = json.loads((out / "manifest.json").read_text())
  # store='none' reads no video: the corrupt one is no error here.
  assert manifest["complete"] and manifest["counts"]["ok"] == 6
