"""Writing one TFRecord file (posedriven.prepare.file_writer): records and
manifest part, decoding in parallel, per-clip errors, frame alignment."""

from __future__ import annotations

import json
import logging
import os
import shutil

import cv2
import numpy as np
import pytest
import tensorflow as tf

from posedriven.data import synthetic
from posedriven.data import tfrecords
from posedriven.data import video
from posedriven.data.formats import registry
from posedriven.prepare import file_writer
from posedriven.prepare import sharding
from tests import helpers
from tests.prepare.conftest import CLIPS_PER_FILE
from tests.prepare.conftest import prepare_synthetic


def test_write_assignment_writes_the_file_and_its_part(dataset_root,
                                                        tmp_path):
  assignments, _ = sharding.assign_files(
      registry.list_clips(dataset_root, "synthetic"), "synthetic_cs",
      CLIPS_PER_FILE)
  assignment = assignments[0]
  config = file_writer.WriterConfig(
      dataset="synthetic", store=tfrecords.STORE_NONE, crop_size_px=20.0,
      crop_output_size=20, batch_size=32, glimpse_input_size=75,
      glimpse_weights=None, mixed_precision=None, decode_threads=None,
      decode_workers=None, log_every_s=1e9)
  writer = file_writer.make_preparer(config, None, len(assignment.clips),
                                     "test")
  settings = {"store": tfrecords.STORE_NONE}
  (tmp_path / sharding.MANIFEST_PARTS).mkdir()
  entries = file_writer.write_assignment(writer, tmp_path, settings,
                                         assignment, "test")
  names = [s.name for s in assignment.clips]
  assert [e["name"] for e in entries] == names
  assert all(e["status"] == sharding.STATUS_OK for e in entries)
  assert all(e["file"] == assignment.filename for e in entries)
  records = helpers.read_records(str(tmp_path / assignment.filename))
  assert [r["name"].decode() for r in records] == names
  assert all(r["store"] == b"none" for r in records)
  part = json.loads(sharding.part_path(tmp_path, assignment).read_text())
  assert part["clips"] == entries
  assert part["settings"] == sharding.settings_key(settings, assignment)
  assert sharding.is_complete(tmp_path, assignment, part["settings"])
  assert not list(tmp_path.glob("*.tmp"))


def test_parallel_decoding_writes_the_same_bytes(dataset_root, sensor,
                                                 tmp_path):
  one = prepare_synthetic(dataset_root, tmp_path / "one", sensor,
                          decode_workers=1)
  four = prepare_synthetic(dataset_root, tmp_path / "four", sensor,
                           decode_workers=4)
  assert one["clips"] == four["clips"] == {"ok": 6, "error": 0, "skipped": 0,
                                          "degraded": 0}
  assert (helpers.tfrecord_bytes(tmp_path / "one") ==
          helpers.tfrecord_bytes(tmp_path / "four"))
  with pytest.raises(ValueError, match="decode_workers"):
    prepare_synthetic(dataset_root, tmp_path / "zero", sensor,
                      decode_workers=0)
  assert not (tmp_path / "zero").exists()


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
  prepare_synthetic(dataset_root, tmp_path / "cpu", None, store="crops",
                    max_clips=2)
  assert threads == [1, 1]
  # A GPU and one decode worker (2 cores): FFmpeg's own thread count.
  monkeypatch.setattr(tf.config, "list_physical_devices", devices(["GPU:0"]))
  monkeypatch.setattr(os, "cpu_count", lambda: 2)
  prepare_synthetic(dataset_root, tmp_path / "gpu", None, store="crops",
                    max_clips=2)
  assert threads[2:] == [0, 0]
  # A GPU and 8 cores: 4 workers decoding one thread each.
  monkeypatch.setattr(os, "cpu_count", lambda: 8)
  prepare_synthetic(dataset_root, tmp_path / "gpu8", None, store="crops",
                    max_clips=2)
  assert threads[4:] == [1, 1]
  prepare_synthetic(dataset_root, tmp_path / "set", None, store="crops",
                    max_clips=2, decode_threads=3)
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
  summary = prepare_synthetic(root, out, sensor, decode_workers=decode_workers)
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
    prepare_synthetic(root, out, sensor, max_clips=1)
  (record,) = helpers.read_records(
      str(out / "train-00000-of-00001.tfrecord"))
  assert int(record["num_frames"]) == len(frames) - 3
  assert record["xyz"].shape[0] == len(frames) - 3
  assert int(record["skeleton_frames"]) == len(frames)
  assert any(name in r.getMessage() and "keeping the first" in r.getMessage()
             for r in caplog.records)
