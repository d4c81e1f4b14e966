"""Tests for posedriven.prepare and tools/prepare_data.py."""

from __future__ import annotations

import json
import logging
import os
import shutil

import cv2
import numpy as np
import pytest
import tensorflow as tf

from posedriven.data import glimpse_crops
from posedriven import prepare
from posedriven.prepare import sensor_pass
from posedriven.data.formats import registry
from posedriven.data import synthetic
from posedriven.data.synthetic import dataset as synthetic_dataset
from posedriven.data import video
from posedriven.models import glimpse
from tests import helpers
from tests import numerics

# 2 subjects x 3 actions: subject 1 -> train, subject 2 -> test
# (synthetic_cs), 2 clips per file -> 2 train files + 2 test files.
CLIPS_PER_FILE = 2


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory):
  root = tmp_path_factory.mktemp("synthetic")
  synthetic.generate_dataset(root, num_subjects=2, cameras=(1,),
                             actions=(1, 2, 3), image_size=(160, 96),
                             num_frames_range=(10, 13),
                             second_person_probability=0.5, seed=1)
  return root


@pytest.fixture(scope="module")
def sensor(calibrated_sensor_weights):
  # Calibrated: features of order 1, so the comparisons below can fail.
  return glimpse.GlimpseSensor(weights=str(calibrated_sensor_weights),
                               input_size=75)


def _prepare(root, out, sensor, **kwargs):
  kwargs.setdefault("store", "features")
  return prepare.prepare_dataset(
      root, out, dataset="synthetic", protocol="synthetic_cs",
      clips_per_file=CLIPS_PER_FILE, batch_size=32, sensor=sensor, **kwargs)


def _decoded_crops(root, name, size):
  clip = synthetic.load_clip(root, name)
  with video.VideoReader(synthetic.video_path(root, name)) as reader:
    frames = np.stack(list(reader))
  return glimpse_crops.crop_hands(frames, clip.hand_xy_px, clip.hand_valid,
                                  size, size).numpy()


def test_features_are_the_sensor_on_the_hand_crops(dataset_root, sensor,
                                                  tmp_path):
  summary = _prepare(dataset_root, tmp_path, sensor)
  assert summary["clips"] == {"ok": 6, "error": 0, "skipped": 0,
                              "degraded": 0}
  assert sorted(helpers.tfrecord_bytes(tmp_path)) == [
      "test-00000-of-00002.tfrecord", "test-00001-of-00002.tfrecord",
      "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"]
  assert not list(tmp_path.glob("*.tmp"))
  manifest = json.loads((tmp_path / "manifest.json").read_text())
  assert manifest["complete"]
  assert len(manifest["clips"]) == 6
  for entry in manifest["clips"]:
    subject = int(entry["name"][9:12])
    assert entry["split"] == ("train" if subject == 1 else "test")
    assert entry["status"] == "ok"
    assert entry["frames"] == entry["skeleton_frames"] == entry["video_frames"]
    assert entry["label"] == int(entry["name"][-3:]) - 1

  records = helpers.read_records(
      str(tmp_path / "train-00000-of-00002.tfrecord"))
  assert len(records) == 2
  record = records[0]
  name = record["name"].decode()
  size = synthetic.load_meta(dataset_root)["crop_size_px"]
  crops = _decoded_crops(dataset_root, name, size)
  t = int(record["num_frames"])
  assert crops.shape[0] == t
  expected = np.asarray(sensor(crops.reshape(-1, size, size, 3))).reshape(
      t, 4, -1)
  features = record["glimpse_features"].astype(np.float32)
  assert features.shape == (t, 4, 2048)
  # Features of order 1 (so that zeros or another network fail), stored as
  # float16 (half a step off at most) by a sensor pass over batches of
  # another size (float32 re-ordering: tests/numerics.py).
  assert 0.05 < np.abs(expected).mean() < 20.0
  numerics.assert_within(
      features, expected,
      numerics.float16_step(features) / 2 +
      numerics.INCEPTION_FLOAT32_RELATIVE * float(np.abs(expected).max()),
      "stored glimpse features")
  assert float(record["crop_size_px"]) == size


def test_crops_store_keeps_the_decoded_hand_crops(dataset_root, tmp_path):
  summary = _prepare(dataset_root, tmp_path, None, store="crops")
  assert summary["clips"]["ok"] == 6
  size = synthetic.load_meta(dataset_root)["crop_size_px"]
  for path in sorted(tmp_path.glob("*.tfrecord")):
    for record in helpers.read_records(str(path)):
      crops = _decoded_crops(dataset_root, record["name"].decode(), size)
      np.testing.assert_array_equal(record["crops"], crops)
      assert record["glimpse_features"].shape[-1] == 0


def test_parallel_decoding_writes_the_same_bytes(dataset_root, sensor,
                                                 tmp_path):
  one = _prepare(dataset_root, tmp_path / "one", sensor, decode_workers=1)
  four = _prepare(dataset_root, tmp_path / "four", sensor, decode_workers=4)
  assert one["clips"] == four["clips"] == {"ok": 6, "error": 0, "skipped": 0,
                                          "degraded": 0}
  assert (helpers.tfrecord_bytes(tmp_path / "one") ==
          helpers.tfrecord_bytes(tmp_path / "four"))
  with pytest.raises(ValueError, match="decode_workers"):
    _prepare(dataset_root, tmp_path / "zero", sensor, decode_workers=0)
  assert not (tmp_path / "zero").exists()


def test_rebatch_fills_batches_across_chunks_in_order():
  def chunk(start, n, side=2):
    return {"row": np.arange(start, start + n),
            "patch": np.zeros((n, side, side), np.uint8)}

  out = list(sensor_pass.rebatch([chunk(0, 5), chunk(5, 7), chunk(12, 3)], 4))
  assert [len(c["row"]) for c in out] == [4, 4, 4, 3]
  np.testing.assert_array_equal(np.concatenate([c["row"] for c in out]),
                                np.arange(15))
  assert all(c["patch"].shape[1:] == (2, 2) for c in out)
  # Patches of another size cannot share a batch: the rows before flush.
  out = list(sensor_pass.rebatch([chunk(0, 3), chunk(3, 3, side=5)], 4))
  assert [(len(c["row"]), c["patch"].shape[1]) for c in out] == [(3, 2),
                                                                  (3, 5)]
  assert not list(sensor_pass.rebatch([], 4))
  with pytest.raises(ValueError, match="size"):
    list(sensor_pass.rebatch([chunk(0, 1)], 0))


def test_decode_defaults_follow_the_device(dataset_root, tmp_path,
                                          monkeypatch):
  threads = []
  reader = video.VideoReader

  def recording_reader(path, *, decode_threads=None):
    threads.append(decode_threads)
    return reader(path, decode_threads=decode_threads)

  def devices(gpus):
    return lambda kind=None: list(gpus) if kind == "GPU" else []

  monkeypatch.setattr(video, "VideoReader", recording_reader)
  # No GPU: decoding shares the cores with the sensor, one thread.
  monkeypatch.setattr(tf.config, "list_physical_devices", devices([]))
  _prepare(dataset_root, tmp_path / "cpu", None, store="crops", max_clips=2)
  assert threads == [1, 1]
  # A GPU and one decode worker (2 cores): FFmpeg's own thread count.
  monkeypatch.setattr(tf.config, "list_physical_devices", devices(["GPU:0"]))
  monkeypatch.setattr(os, "cpu_count", lambda: 2)
  _prepare(dataset_root, tmp_path / "gpu", None, store="crops", max_clips=2)
  assert threads[2:] == [0, 0]
  # A GPU and 8 cores: 4 workers decoding one thread each.
  monkeypatch.setattr(os, "cpu_count", lambda: 8)
  _prepare(dataset_root, tmp_path / "gpu8", None, store="crops", max_clips=2)
  assert threads[4:] == [1, 1]
  _prepare(dataset_root, tmp_path / "set", None, store="crops", max_clips=2,
           decode_threads=3)
  assert threads[6:] == [3, 3]


@pytest.mark.parametrize("decode_workers", [1, 3])
def test_bad_clips_are_reported_and_skipped(dataset_root, sensor, tmp_path,
                                            decode_workers):
  root = tmp_path / "data"
  shutil.copytree(dataset_root, root)
  names = sorted(p.name.split(".")[0]
                 for p in (root / "nturgb+d_skeletons").glob("*.skeleton"))
  corrupt, bad_skeleton, missing = names[0], names[3], names[4]
  synthetic.video_path(root, corrupt).write_bytes(
      np.random.default_rng(0).integers(0, 256, 30_000,
                                        dtype=np.uint8).tobytes())
  synthetic.skeleton_path(root, bad_skeleton).write_text("12\n1\nnot numbers\n")
  synthetic.video_path(root, missing).unlink()
  out = tmp_path / "out"
  summary = _prepare(root, out, sensor, decode_workers=decode_workers)
  assert summary["clips"] == {"ok": 3, "error": 3, "skipped": 0,
                              "degraded": 0}
  entries = {e["name"]: e for e in
             json.loads((out / "manifest.json").read_text())["clips"]}
  assert entries[corrupt]["status"] == "error"
  assert "not a decodable video" in entries[corrupt]["reason"]
  assert entries[bad_skeleton]["status"] == "error"
  assert "SkeletonFormatError" in entries[bad_skeleton]["reason"]
  assert "does not exist" in entries[missing]["reason"]
  written = [r["name"].decode() for path in sorted(out.glob("*.tfrecord"))
             for r in helpers.read_records(str(path))]
  assert sorted(written) == sorted(set(names) - {corrupt, bad_skeleton,
                                                 missing})


def test_shorter_video_is_aligned_and_logged(dataset_root, sensor, tmp_path,
                                             caplog):
  root = tmp_path / "data"
  shutil.copytree(dataset_root, root)
  name = sorted(p.name.split(".")[0]
                for p in (root / "nturgb+d_skeletons").glob("*.skeleton"))[0]
  path = synthetic.video_path(root, name)
  with video.VideoReader(path) as reader:
    frames = list(reader)
    size = reader.size
  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30,
                           size)
  for frame in frames[:-3]:
    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
  writer.release()
  out = tmp_path / "out"
  with caplog.at_level(logging.WARNING):
    _prepare(root, out, sensor, max_clips=1)
  (record,) = helpers.read_records(
      str(out / "train-00000-of-00001.tfrecord"))
  assert int(record["num_frames"]) == len(frames) - 3
  assert record["xyz"].shape[0] == len(frames) - 3
  assert int(record["skeleton_frames"]) == len(frames)
  assert any(name in r.getMessage() and "keeping the first" in r.getMessage()
             for r in caplog.records)


class _Killed(BaseException):
  """Stands for SIGKILL: not an Exception, so nothing may swallow it."""


def test_killed_run_resumes_to_identical_files(dataset_root, sensor, tmp_path,
                                               monkeypatch):
  reference = tmp_path / "reference"
  _prepare(dataset_root, reference, sensor)

  out = tmp_path / "resumed"
  real_load = synthetic_dataset.load_clip
  loads = []

  def dying_load(root, name):
    loads.append(name)
    if len(loads) == 5:  # the 2nd clip of test-00000 (after 3 train clips)
      raise _Killed()
    return real_load(root, name)

  monkeypatch.setattr(synthetic_dataset, "load_clip", dying_load)
  with pytest.raises(BaseException) as info:
    _prepare(dataset_root, out, sensor)
  # tf.data re-raises what the decode thread hit as a tf.errors.UnknownError.
  assert "_Killed" in str(info.value) or isinstance(info.value, _Killed)
  # The train files are complete; the interrupted one is a temp file.
  assert sorted(helpers.tfrecord_bytes(out)) == [
      "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"]
  assert [p.name for p in out.glob("*.tmp")] == [
      "test-00000-of-00002.tfrecord.tmp"]
  first_file = out / "train-00000-of-00002.tfrecord"
  first_mtime = first_file.stat().st_mtime_ns

  monkeypatch.setattr(synthetic_dataset, "load_clip", real_load)
  # A stale temp file of a later shard must not survive either.
  (out / "test-00001-of-00002.tfrecord.tmp").write_bytes(b"half a file")
  summary = _prepare(dataset_root, out, sensor)
  assert summary["files_skipped"] == 2 and summary["files_written"] == 2
  assert first_file.stat().st_mtime_ns == first_mtime
  assert helpers.tfrecord_bytes(out) == helpers.tfrecord_bytes(reference)
  assert not list(out.glob("*.tmp"))
  manifest = json.loads((out / "manifest.json").read_text())
  assert manifest["complete"] and manifest["counts"]["ok"] == 6

  # Everything done: a third run writes nothing.
  assert _prepare(dataset_root, out, sensor)["files_written"] == 0


def test_workers_share_files_without_coordination(dataset_root, tmp_path):
  single = tmp_path / "single"
  prepare.prepare_dataset(dataset_root, single, dataset="synthetic",
                          protocol="synthetic_cs", store="none",
                          clips_per_file=CLIPS_PER_FILE)
  sharded = tmp_path / "sharded"
  first = prepare.prepare_dataset(
      dataset_root, sharded, dataset="synthetic", protocol="synthetic_cs",
      store="none", clips_per_file=CLIPS_PER_FILE, num_shards=3,
      shard_index=1)
  assert first["files_written"] == 1
  assert not first["manifest"]["complete"]
  for shard in (0, 2):
    last = prepare.prepare_dataset(
        dataset_root, sharded, dataset="synthetic", protocol="synthetic_cs",
        store="none", clips_per_file=CLIPS_PER_FILE, num_shards=3,
        shard_index=shard)
  assert last["manifest"]["complete"]
  assert helpers.tfrecord_bytes(sharded) == helpers.tfrecord_bytes(single)
  record = helpers.read_records(
      str(single / "test-00000-of-00002.tfrecord"))[0]
  assert record["store"] == b"none" and int(record["video_frames"]) == -1


def test_real_ntu_files(ntu_samples, sensor, tmp_path, caplog):
  # The real skeletons have no video here except one, which we pair with the
  # A011 skeleton: real Full-HD decoding with 82 skeleton vs 103 frames.
  root = tmp_path / "ntu"
  (root / "nturgb+d_skeletons").mkdir(parents=True)
  (root / "nturgb+d_rgb").mkdir()
  for path in ntu_samples.glob("*.skeleton"):
    shutil.copy(path, root / "nturgb+d_skeletons" / path.name)
  shutil.copy(ntu_samples / "S001C001P001R001A001_rgb.avi",
              root / "nturgb+d_rgb" / "S001C001P001R001A011_rgb.avi")
  out = tmp_path / "out"
  with caplog.at_level(logging.WARNING):
    summary = prepare.prepare_dataset(
        root, out, dataset="ntu60", protocol="ntu60_cv", clips_per_file=4,
        sensor=sensor, batch_size=128,
        allow_empty_split=True)  # the samples are all camera 1: test
  assert summary["clips"] == {"ok": 1, "error": 2, "skipped": 0,
                              "degraded": 0}
  entries = {e["name"]: e for e in summary["manifest"]["clips"]}
  ok = entries["S001C001P001R001A011"]
  assert ok["split"] == "test"  # camera 1 is the cross-view test view
  assert (ok["skeleton_frames"], ok["container_frames"], ok["frames"]) == (
      82, 103, 82)
  assert "does not exist" in entries["S002C001P003R001A003"]["reason"]
  (record,) = helpers.read_records(str(out / "test-00000-of-00001.tfrecord"))
  assert record["glimpse_features"].shape == (82, 4, 2048)
  assert float(record["crop_size_px"]) == registry.NTU_CROP_SIZE_PX
  assert record["image_size"].tolist() == [1920, 1080]


def test_tool_main_parses_gin_and_writes_operative_config(dataset_root,
                                                          tmp_path):
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
      "--gin_bindings=prepare_dataset.clips_per_file = 4",
  ])
  try:
    prepare_data.main([])
  finally:
    flags.FLAGS.unparse_flags()
  config = (out / "operative_config-0.gin").read_text()
  assert "prepare_dataset.store = 'none'" in config
  assert "prepare_dataset.clips_per_file = 4" in config
  # camera 1 only -> every clip is in the cross-view test split.
  assert sorted(p.name for p in out.glob("*.tfrecord")) == [
      "test-00000-of-00002.tfrecord", "test-00001-of-00002.tfrecord"]
