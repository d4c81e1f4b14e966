"""prepare_dataset end to end (posedriven.prepare.preparer) and
tools/prepare_data.py."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from posedriven import prepare
from posedriven.data import glimpse_crops
from posedriven.data import synthetic
from posedriven.data import video
from posedriven.data.formats import registry
from posedriven.data.synthetic import dataset as synthetic_dataset
from posedriven.prepare import clip_quality
from posedriven.prepare import file_writer
from posedriven.prepare import output_dir
from posedriven.prepare import preparer
from tests import helpers
from tests import numerics
from tests.prepare.conftest import CLIPS_PER_FILE
from tests.prepare.conftest import prepare_synthetic


def _decoded_crops(root, name, size):
  clip = synthetic.load_clip(root, name)
  with video.VideoReader(synthetic.video_path(root, name)) as reader:
    frames = np.stack(list(reader))
  return glimpse_crops.crop_hands(frames, clip.hand_xy_px, clip.hand_valid,
                                  size, size).numpy()


def test_features_are_the_sensor_on_the_hand_crops(dataset_root, sensor,
                                                  tmp_path):
  summary = prepare_synthetic(dataset_root, tmp_path, sensor)
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
  summary = prepare_synthetic(dataset_root, tmp_path, None, store="crops")
  assert summary["clips"]["ok"] == 6
  size = synthetic.load_meta(dataset_root)["crop_size_px"]
  for path in sorted(tmp_path.glob("*.tfrecord")):
    for record in helpers.read_records(str(path)):
      crops = _decoded_crops(dataset_root, record["name"].decode(), size)
      np.testing.assert_array_equal(record["crops"], crops)
      assert record["glimpse_features"].shape[-1] == 0


class _Killed(BaseException):
  """Stands for SIGKILL: not an Exception, so nothing may swallow it."""


def test_killed_run_resumes_to_identical_files(dataset_root, sensor, tmp_path,
                                               monkeypatch):
  reference = tmp_path / "reference"
  prepare_synthetic(dataset_root, reference, sensor)

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
    prepare_synthetic(dataset_root, out, sensor)
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
  summary = prepare_synthetic(dataset_root, out, sensor)
  assert summary["files_skipped"] == 2 and summary["files_written"] == 2
  assert first_file.stat().st_mtime_ns == first_mtime
  assert helpers.tfrecord_bytes(out) == helpers.tfrecord_bytes(reference)
  assert not list(out.glob("*.tmp"))
  manifest = json.loads((out / "manifest.json").read_text())
  assert manifest["complete"] and manifest["counts"]["ok"] == 6

  # Everything done: a third run writes nothing.
  assert prepare_synthetic(dataset_root, out, sensor)["files_written"] == 0


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


def test_preparer_keeps_the_names_it_held():
  for module, names in [
      (clip_quality, ("MIN_VIDEO_FRAME_FRACTION", "degradation",
                      "label_problem")),
      (file_writer, ("WriterConfig", "decode_defaults", "make_preparer",
                     "write_assignment")),
      (output_dir, ("output_dir_problem",))]:
    for name in names:
      assert getattr(preparer, name) is getattr(module, name), name
