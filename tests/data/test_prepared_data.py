"""What a prepared data directory holds (PreparedData), on fake manifests."""

from __future__ import annotations

import json

import pytest

from posedriven.data import prepared_data
from posedriven.data import protocols
from posedriven.data.formats import registry
from posedriven.prepare import sharding

# 40 names: at fraction 0.5 both sides of the validation split are non-empty
# (each side is empty with probability 2^-40 for a fixed hash).
_NAMES = [f"a{a:02d}_s{s:02d}_e01" for a in range(1, 11) for s in range(1, 5)]


def _manifest(complete=True):
  clips = [{"name": n, "split": "train", "status": "ok"} for n in _NAMES]
  clips += [{"name": "t1", "split": "test", "status": "ok"},
            {"name": "t2", "split": "test", "status": "degraded"},
            {"name": "t3", "split": "test", "status": "failed"}]
  return {"complete": complete, "settings": {"dataset": "msr3d"},
          "clips": clips}


def _write(tmp_path, manifest):
  (tmp_path / "manifest.json").write_text(json.dumps(manifest))
  return tmp_path


def test_load_prepared_reads_dataset_classes_and_patterns(tmp_path):
  data = prepared_data.load_prepared(_write(tmp_path, _manifest()))
  assert data.data_dir == tmp_path and data.dataset == "msr3d"
  assert data.class_names == registry.class_names("msr3d")
  assert data.num_classes == len(registry.class_names("msr3d"))
  assert data.pattern("test") == str(tmp_path / "test-*.tfrecord")


def test_unprepared_or_unfinished_directory_is_refused(tmp_path):
  with pytest.raises(FileNotFoundError, match="has no manifest.json"):
    prepared_data.load_prepared(tmp_path)
  _write(tmp_path, _manifest(complete=False))
  with pytest.raises(ValueError, match="preparation is incomplete"):
    prepared_data.load_prepared(tmp_path)


def test_clips_are_the_written_ones_by_default(tmp_path):
  data = prepared_data.load_prepared(_write(tmp_path, _manifest()))
  assert [c["name"] for c in data.clips("test")] == ["t1", "t2"]
  assert [c["name"] for c in data.clips("test", status="failed")] == ["t3"]
  assert len(data.clips("train")) == len(_NAMES)


def test_written_statuses_are_the_preparers():
  # The data layer cannot import the preparer: the two lists are kept equal.
  assert prepared_data.WRITTEN_STATUSES == sharding.WRITTEN


def test_validation_clips_follow_the_protocol_hash(tmp_path):
  data = prepared_data.load_prepared(_write(tmp_path, _manifest()))
  held_out = {c["name"] for c in data.clips("train", validation=True,
                                             validation_fraction=0.5)}
  kept = {c["name"] for c in data.clips("train", validation=False,
                                         validation_fraction=0.5)}
  assert held_out == {n for n in _NAMES if protocols.is_validation(n, 0.5)}
  assert held_out and kept and held_out | kept == set(_NAMES)
  assert data.training_sizes(0.5) == (len(kept), len(held_out))
  assert data.training_sizes(0.0) == (len(_NAMES), 0)
