"""Records copied from another protocol's preparation (prepare.record_reuse)."""

from __future__ import annotations

import json

import pytest
import tensorflow as tf

from posedriven import prepare
from posedriven.data.synthetic import sbu_msr
from posedriven.models import glimpse
from posedriven.prepare import record_reuse
from posedriven.prepare import sensor_pass

SETTINGS = {"dataset": "sbu", "protocol": "sbu_fold1", "store": "features",
            "crop_size_px": 100.0, "crop_output_size": 100,
            "clips_per_file": 4, "max_clips": None, "glimpse_input_size": 75,
            "glimpse_weights": "/w.h5"}


def _records(directory) -> dict[str, bytes]:
  """Clip name -> its record's bytes, over every TFRecord file."""
  out = {}
  for path in sorted(directory.glob("*.tfrecord")):
    for raw in tf.data.TFRecordDataset(str(path)):
      example = tf.train.Example.FromString(raw.numpy())
      name = example.features.feature["name"].bytes_list.value[0].decode()
      out[name] = raw.numpy()
  return out


def _source_dir(tmp_path, **settings):
  source = tmp_path / "fold1"
  source.mkdir()
  (source / "manifest.json").write_text(json.dumps(
      {"settings": {**SETTINGS, **settings}, "clips": [], "complete": True}))
  return source


def test_the_protocol_and_file_layout_are_not_record_settings(tmp_path):
  source = _source_dir(tmp_path, protocol="sbu_fold3", clips_per_file=64,
                       max_clips=5)
  reuse = record_reuse.RecordSource(source, SETTINGS, tmp_path / "fold2")
  assert "s01s02_a01_001" not in reuse


@pytest.mark.parametrize("setting, value", [
    ("glimpse_weights", "/other.h5"), ("glimpse_input_size", 299),
    ("crop_size_px", 50.0), ("store", "none"), ("dataset", "msr")])
def test_other_record_settings_are_refused_by_name(tmp_path, setting, value):
  source = _source_dir(tmp_path, **{setting: value})
  with pytest.raises(record_reuse.RecordReuseError,
                     match=f"{setting} {value!r} there"):
    record_reuse.RecordSource(source, SETTINGS, tmp_path / "fold2")


def test_a_random_sensor_and_the_output_dir_itself_are_refused(tmp_path):
  source = _source_dir(tmp_path, glimpse_weights=None)
  with pytest.raises(record_reuse.RecordReuseError, match="random sensor"):
    record_reuse.RecordSource(source, {**SETTINGS, "glimpse_weights": None},
                              tmp_path / "fold2")
  with pytest.raises(record_reuse.RecordReuseError, match="itself"):
    record_reuse.RecordSource(source, SETTINGS, source)
  with pytest.raises(record_reuse.RecordReuseError, match="no manifest"):
    record_reuse.RecordSource(tmp_path / "none", SETTINGS, source)


def test_a_beam_runner_is_refused_before_anything_runs(tmp_path):
  with pytest.raises(ValueError, match="records_from needs the direct path"):
    prepare.prepare_dataset(tmp_path, tmp_path / "out", dataset="sbu",
                            protocol="sbu_fold2", runner="DirectRunner",
                            records_from=str(tmp_path / "fold1"))
  assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_fold_2_from_fold_1_records_calls_no_sensor_and_equals_scratch(
    calibrated_sensor_weights, sensor, tmp_path, monkeypatch):
  # One set, fold 1's test set and a training set of fold 2; its first 3
  # clips keep the sensor work small.
  root = tmp_path / "sbu"
  sbu_msr.generate_sbu(root, sets=("s01s02",))
  calls = []
  real_fn = sensor_pass.glimpse_fn

  def counting_fn(*args):
    fn = real_fn(*args)
    return lambda *batch: calls.append(1) or fn(*batch)

  monkeypatch.setattr(sensor_pass, "glimpse_fn", counting_fn)
  # One frame per sensor batch: a clip's features then do not depend on
  # which clips share its file (another batch shape may round differently
  # in the sensor's kernels), so fold 2 from scratch must give fold 1's
  # bytes.
  common = dict(dataset="sbu", glimpse_input_size=75, batch_size=4,
                glimpse_weights=str(calibrated_sensor_weights), max_clips=3,
                allow_empty_split=True, log_every_s=1e9)
  prepare.prepare_dataset(root, tmp_path / "fold1", protocol="sbu_fold1",
                          clips_per_file=1, sensor=sensor, **common)
  assert calls
  fold1 = _records(tmp_path / "fold1")
  assert len(fold1) == 3

  del calls[:]
  # No sensor is even built when fold 1 holds every clip.
  monkeypatch.setattr(glimpse, "GlimpseSensor", None)
  summary = prepare.prepare_dataset(
      root, tmp_path / "fold2", protocol="sbu_fold2", clips_per_file=2,
      records_from=str(tmp_path / "fold1"), **common)
  assert calls == []
  manifest = summary["manifest"]
  assert manifest["complete"] and manifest["settings"]["protocol"] == (
      "sbu_fold2")
  assert manifest["records_from"] == [str(tmp_path / "fold1")]
  assert [c["split"] for c in manifest["clips"]] == ["train"] * 3
  assert all(c["records_from"] == str(tmp_path / "fold1")
             and c["status"] == "ok" for c in manifest["clips"])
  copied = _records(tmp_path / "fold2")
  assert copied == fold1

  monkeypatch.undo()
  monkeypatch.setattr(sensor_pass, "glimpse_fn", counting_fn)
  scratch = tmp_path / "fold2_scratch"
  prepare.prepare_dataset(root, scratch, protocol="sbu_fold2",
                          clips_per_file=2, sensor=sensor, **common)
  assert calls
  assert _records(scratch) == copied
  # Entries equal but for the copy's source.
  fresh = json.loads((scratch / "manifest.json").read_text())["clips"]
  assert [{k: v for k, v in c.items() if k != "records_from"}
          for c in manifest["clips"]] == fresh
  # File by file too: the same clips in the same order.
  for path in sorted(scratch.glob("*.tfrecord")):
    assert (tmp_path / "fold2" / path.name).read_bytes() == path.read_bytes()


def test_clips_the_source_lacks_are_prepared_and_a_rerun_resumes(tmp_path):
  root = tmp_path / "sbu"
  sbu_msr.generate_sbu(root, sets=("s01s02", "s02s03"), write_frames=False)
  common = dict(dataset="sbu", store="none", clips_per_file=4,
                log_every_s=1e9)
  # The source holds the first 5 clips only (all of fold 1's test set
  # s01s02 but not all of it: max_clips cuts by name).
  prepare.prepare_dataset(root, tmp_path / "part", protocol="sbu_fold1",
                          max_clips=5, allow_empty_split=True, **common)
  out = tmp_path / "fold2"
  summary = prepare.prepare_dataset(root, out, protocol="sbu_fold2",
                                    records_from=str(tmp_path / "part"),
                                    **common)
  clips = summary["manifest"]["clips"]
  copied = sorted(c["name"] for c in clips if "records_from" in c)
  assert copied == sorted(c["name"] for c in clips)[:5]
  assert len(clips) == 16 and summary["files_written"] == 4
  scratch = tmp_path / "scratch"
  prepare.prepare_dataset(root, scratch, protocol="sbu_fold2", **common)
  assert _records(out) == _records(scratch)
  again = prepare.prepare_dataset(root, out, protocol="sbu_fold2",
                                  records_from=str(tmp_path / "part"),
                                  **common)
  assert again["files_written"] == 0 and again["files_skipped"] == 4
