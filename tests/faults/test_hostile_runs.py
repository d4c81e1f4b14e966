"""Hostile conditions around whole runs (issue 17): labels training cannot
take, degraded clips, empty roots, output paths that must not be replaced,
video paths that are not videos, records whose error would surface deep in
tf.data. Each gives an error that says what is wrong and where, or a status
of its own in the manifest; nothing is recorded ``ok`` that is not."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf

from posedriven import atomic
from posedriven import prepare
from posedriven.data import clip as clip_lib
from posedriven.data import pipeline
from posedriven.data import tfrecords
from posedriven.data import video
from posedriven.data.formats import ntu
from posedriven.export import predict
from posedriven.prepare import preparer
from posedriven.prepare import sharding
from posedriven.training import run_dir
from tests import helpers
from tests.faults import corpus

GOOD = "S001C001P001R001A001"
VIDEO_SIZE = (384, 216)  # a fifth of NTU's 1920x1080: 10 px hand crops


def _ntu_root(tmp_path: Path, names_and_faults: dict) -> Path:
  root = tmp_path / "ntu"
  (root / "nturgb+d_skeletons").mkdir(parents=True)
  (root / "nturgb+d_rgb").mkdir()
  for name, fault in names_and_faults.items():
    path = corpus.write_valid_skeleton(root / "nturgb+d_skeletons", name,
                                       num_frames=27)
    if fault is not None:
      corpus.break_skeleton(path, fault)
  return root


def _video(root: Path, name: str, num_frames: int) -> Path:
  frames = [np.full((VIDEO_SIZE[1], VIDEO_SIZE[0], 3), 40 + 5 * t, np.uint8)
            for t in range(num_frames)]
  return helpers.write_video_rgb(root / "nturgb+d_rgb" / f"{name}_rgb.avi",
                                 frames)


def _prepare(root, out, **kwargs):
  # The roots here hold subject 1 only: the training split of ntu60_cs.
  settings = dict(dataset="ntu60", protocol="ntu60_cs", store="none",
                  clips_per_file=4, log_every_s=1e9, allow_empty_split=True)
  return prepare.prepare_dataset(root, out, **{**settings, **kwargs})


def _entries(summary):
  return {e["name"]: e for e in summary["manifest"]["clips"]}


# -- labels and degraded clips -----------------------------------------------


def test_label_outside_the_classes_is_an_error_not_a_record(tmp_path):
  root = _ntu_root(tmp_path, {GOOD: None, "S001C001P001R001A000": None})
  with helpers.capture_logs() as logs:
    summary = _prepare(root, tmp_path / "out")
  entry = _entries(summary)["S001C001P001R001A000"]
  assert entry["status"] == "error"
  # Logged as an error with its reason; "skipped" is the official missing
  # lists' word (README).
  assert logs.messages("S001C001P001R001A000", "error", entry["reason"])
  assert not logs.messages("S001C001P001R001A000", "skipped")
  assert "label -1 is outside the 60 classes of ntu60" in entry["reason"]
  assert "S001C001P001R001A000.skeleton" in entry["reason"]
  records = helpers.records_by_name(tmp_path / "out")
  assert sorted(records) == [GOOD]
  assert summary["manifest"]["counts"] == {"ok": 1, "degraded": 0,
                                           "skipped": 0, "error": 1}


def test_skeleton_without_a_tracked_joint_is_degraded(tmp_path):
  # Untracked joints keep their positions: the pose is there, the glimpses
  # are blank.
  bad = "S001C001P001R001A002"
  root = _ntu_root(tmp_path, {GOOD: None, bad: corpus.every_joint_untracked})
  with helpers.capture_logs() as logs:
    summary = _prepare(root, tmp_path / "out")
  entries = _entries(summary)
  assert entries[GOOD]["status"] == "ok" and entries[GOOD]["reason"] == ""
  assert entries[bad]["status"] == "degraded"
  assert "no hand is tracked and valid in any frame" in entries[bad]["reason"]
  assert summary["clips"] == {"ok": 1, "degraded": 1, "skipped": 0,
                              "error": 0}
  assert logs.messages(bad, "degraded")
  # Written like an ok clip: training readers use it (README).
  assert sorted(helpers.records_by_name(tmp_path / "out")) == [GOOD, bad]


def _msr_root(tmp_path: Path, names_and_texts: dict[str, str]) -> Path:
  root = tmp_path / "msr"
  root.mkdir()
  for name, content in names_and_texts.items():
    (root / f"{name}_skeleton.txt").write_text(content)
  return root


def _all_nan_msr() -> str:
  lines = corpus.msr_text().splitlines()
  return "\n".join(line if len(line.split()) != 4 else "nan nan nan 1"
                   for line in lines) + "\n"


@pytest.mark.parametrize("dataset", ["ntu60", "msr"])
def test_skeleton_without_a_usable_joint_is_an_error(tmp_path, dataset):
  """All joints NaN is no skeleton, as 0 frames is: an error in every
  dataset, never a record with an all-zero pose tensor (issue 25)."""
  if dataset == "ntu60":
    bad = "S001C001P001R001A002"
    root = _ntu_root(tmp_path, {GOOD: None, bad: corpus.every_joint_nan,
                                "S001C001P001R001A003": corpus.zero_frames})
    empty = "S001C001P001R001A003"
    settings = {}
  else:
    good, bad, empty = "a01_s01_e01", "a02_s01_e01", "a03_s01_e01"
    root = _msr_root(tmp_path, {good: corpus.msr_text(), bad: _all_nan_msr(),
                                empty: "0 20\n"})
    settings = dict(dataset="msr", protocol="msr_cs")
  with helpers.capture_logs() as logs:
    summary = _prepare(root, tmp_path / "out", **settings)
  entries = _entries(summary)
  assert entries[bad]["status"] == "error"
  assert "EmptySkeletonError" in entries[bad]["reason"]
  assert "no usable joint in any of its" in entries[bad]["reason"]
  assert f"{bad}" in entries[bad]["reason"]  # names the file
  # The same outcome as a skeleton without frames.
  assert entries[empty]["status"] == "error"
  assert "EmptySkeletonError" in entries[empty]["reason"]
  assert summary["clips"] == {"ok": 1, "degraded": 0, "skipped": 0,
                              "error": 2}
  assert logs.messages(bad, "error", "no usable joint")
  assert sorted(helpers.records_by_name(tmp_path / "out")) == sorted(
      n for n, e in entries.items() if e["status"] == "ok")


def test_prediction_refuses_a_skeleton_without_a_usable_joint(tmp_path):
  """Prediction reads a skeleton as preparation does: all joints NaN is an
  error naming the file, not logits from an all-zero pose tensor."""
  path = corpus.write_valid_skeleton(tmp_path)
  path.write_text(corpus.every_joint_nan(path.read_text()))
  with pytest.raises(clip_lib.EmptySkeletonError,
                     match=f"{path.name}: no usable joint"):
    predict.load_skeleton_clip(path)


@pytest.mark.parametrize("video_kind", ["one_frame", "png_named_avi"])
def test_video_with_too_few_frames_is_degraded(tmp_path, video_kind):
  bad = "S001C001P001R001A002"
  root = _ntu_root(tmp_path, {GOOD: None, bad: None})
  _video(root, GOOD, 27)
  if video_kind == "one_frame":
    _video(root, bad, 1)
  else:
    png = root / "nturgb+d_rgb" / "frame.png"
    cv2.imwrite(str(png), np.full((VIDEO_SIZE[1], VIDEO_SIZE[0], 3), 90,
                                  np.uint8))
    png.rename(root / "nturgb+d_rgb" / f"{bad}_rgb.avi")
  summary = _prepare(root, tmp_path / "out", store="crops")
  entries = _entries(summary)
  assert entries[GOOD]["status"] == "ok" and entries[GOOD]["frames"] == 27
  assert entries[bad]["status"] == "degraded"
  assert entries[bad]["frames"] == 1
  assert "only 1 of the skeleton's 27 frames decode" in entries[bad]["reason"]
  assert summary["manifest"]["counts"]["degraded"] == 1


# -- what a run is given -------------------------------------------------------


def test_root_without_skeletons_is_an_error(tmp_path):
  root = _ntu_root(tmp_path, {})
  with pytest.raises(ValueError, match=f"{root}: no ntu60 clip to prepare"):
    _prepare(root, tmp_path / "out")
  assert not (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.parametrize("max_clips", [0, -1])
def test_max_clips_below_one_is_refused(tmp_path, max_clips):
  root = _ntu_root(tmp_path, {GOOD: None})
  with pytest.raises(ValueError, match=f"max_clips must be >= 1.*"
                     f"got {max_clips}"):
    _prepare(root, tmp_path / "out", max_clips=max_clips)


def test_other_protocol_into_the_same_output_needs_overwrite(tmp_path):
  names = {f"S001C00{c}P001R001A00{a}": None for c in (1, 2) for a in (1, 2)}
  root = _ntu_root(tmp_path, names)
  out = tmp_path / "out"
  _prepare(root, out)
  before = helpers.tfrecord_bytes(out)
  with pytest.raises(atomic.OutputExistsError) as info:
    _prepare(root, out, protocol="ntu60_cv")
  message = str(info.value)
  assert str(out) in message and "protocol 'ntu60_cs' (now 'ntu60_cv')" in (
      message) and "--overwrite" in message
  assert helpers.tfrecord_bytes(out) == before  # nothing touched
  # The same settings resume as before.
  assert _prepare(root, out)["files_written"] == 0
  summary = _prepare(root, out, protocol="ntu60_cv", overwrite=True)
  assert summary["manifest"]["settings"]["protocol"] == "ntu60_cv"
  parts = [json.loads(p.read_text()) for p in
           (out / sharding.MANIFEST_PARTS).glob("*.json")]
  assert {p["settings"]["protocol"] for p in parts if "settings" in p} == {
      "ntu60_cv"}
  # Only the new protocol's files remain (cross-view: camera 1 tests).
  assert sorted(helpers.tfrecord_bytes(out)) == sorted(
      summary["manifest"]["files"]["train"] +
      summary["manifest"]["files"]["test"])


def test_protocol_with_an_empty_split_is_refused_before_the_sensor(
    tmp_path, monkeypatch):
  names = {f"S001C001P00{p}R001A001": None for p in (1, 2)}
  names["S003C001P019R001A055"] = None  # on the official missing list
  root = _ntu_root(tmp_path, names)
  out = tmp_path / "out"

  def no_sensor(*args, **kwargs):
    raise AssertionError("the sensor was built before the split check")

  monkeypatch.setattr(preparer.glimpse, "GlimpseSensor", no_sensor)
  with pytest.raises(sharding.EmptySplitError) as info:
    _prepare(root, out, protocol="ntu60_cv", store="features",
             allow_empty_split=False)
  message = str(info.value)
  assert message.startswith(f"{root}: protocol 'ntu60_cv' leaves the train"
                            " split empty")
  assert "train 0, test 2, left out 1" in message
  assert "allow_empty_split" in message
  assert not out.exists()
  # Said on purpose, one split is prepared.
  summary = _prepare(root, out, protocol="ntu60_cv", allow_empty_split=True)
  assert summary["manifest"]["files"]["train"] == []
  assert len(summary["manifest"]["files"]["test"]) == 1
  # The whole root counts, not a smoke run's max_clips subset.
  both = _ntu_root(tmp_path / "both", {GOOD: None,
                                       "S001C002P001R001A001": None})
  summary = _prepare(both, tmp_path / "smoke", protocol="ntu60_cv",
                     max_clips=1, allow_empty_split=False)
  assert summary["clips"]["ok"] == 1


@pytest.mark.parametrize("under_a_file", [False, True])
def test_output_dir_that_is_a_file_is_named_as_such(tmp_path, under_a_file):
  root = _ntu_root(tmp_path, {GOOD: None})
  existing = tmp_path / "out.txt"
  existing.write_text("keep me")
  out = existing / "sub" if under_a_file else existing
  with pytest.raises(NotADirectoryError) as info:
    _prepare(root, out)
  assert f"{existing} is a file, not a directory" in str(info.value)
  assert sharding.MANIFEST_PARTS not in str(info.value)
  assert existing.read_text() == "keep me"


@pytest.mark.slow
def test_prepare_tool_says_the_output_dir_is_a_file(tmp_path):
  root = _ntu_root(tmp_path, {GOOD: None})
  existing = tmp_path / "out.txt"
  existing.write_text("keep me")
  result = subprocess.run(
      [sys.executable, str(helpers.REPO_ROOT / "tools" / "prepare_data.py"),
       f"--dataset_root={root}", f"--output_dir={existing}",
       "--gin_bindings=prepare_dataset.store = 'none'"],
      capture_output=True, text=True, env=helpers.subprocess_env(),
      timeout=300, check=False)
  assert result.returncode != 0
  assert f"output_dir {existing} is a file, not a directory" in (
      result.stderr)
  assert existing.read_text() == "keep me"


def test_prepare_tool_has_the_overwrite_flag():
  from tools import prepare_data  # pylint: disable=g-import-not-at-top
  assert prepare_data.FLAGS["overwrite"].default is None


# -- videos that are not videos ------------------------------------------------


@pytest.mark.parametrize("kind,words", [
    ("fifo", "is a FIFO (named pipe), not a regular file"),
    ("directory", "is a directory, not a regular file"),
    ("symlink_loop", "is a symlink loop"),
    ("missing", "does not exist"),
])
def test_video_path_that_is_not_a_file_says_what_it_is(tmp_path, kind,
                                                       words):
  path = tmp_path / "S001C001P001R001A001_rgb.avi"
  if kind == "fifo":
    os.mkfifo(path)
  elif kind == "directory":
    path.mkdir()
  elif kind == "symlink_loop":
    os.symlink(path.name, path)
  with pytest.raises(video.VideoError) as info:
    video.VideoReader(path).open()
  assert str(path) in str(info.value) and words in str(info.value)


def test_one_pixel_video_is_too_small_to_crop_from(tmp_path):
  root = _ntu_root(tmp_path, {GOOD: None})
  path = root / "nturgb+d_rgb" / f"{GOOD}_rgb.avi"
  helpers.write_video_rgb(path, [np.zeros((1, 1, 3), np.uint8)] * 27)
  summary = _prepare(root, tmp_path / "out", store="crops")
  reason = _entries(summary)[GOOD]["reason"]
  assert _entries(summary)[GOOD]["status"] == "error"
  assert str(path) in reason and "frames are 1x1 pixels, too small" in reason
  assert "crop_size_px must be" not in reason


# -- output paths -------------------------------------------------------------


def test_predict_refuses_a_bad_figure_path_before_any_work(tmp_path):
  # No model, no skeleton: the path check must come first.
  with pytest.raises(IsADirectoryError, match=str(tmp_path)):
    predict.predict_clip(tmp_path / "no_model", tmp_path / "x.skeleton",
                         attention_png=tmp_path)
  figure = tmp_path / "fig.png"
  figure.write_bytes(b"old")
  with pytest.raises(atomic.OutputExistsError, match="--overwrite"):
    predict.predict_clip(tmp_path / "no_model", tmp_path / "x.skeleton",
                         attention_png=figure)
  assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]


def test_finished_training_run_uses_the_one_wording(tmp_path):
  run_dir.prepare_run_dir(tmp_path)
  run_dir.mark_finished(tmp_path, {})
  with pytest.raises(atomic.OutputExistsError) as info:
    run_dir.prepare_run_dir(tmp_path)
  assert isinstance(info.value, run_dir.RunExistsError)
  assert str(info.value) == str(atomic.OutputExistsError(
      tmp_path, f"a finished run ({tmp_path / run_dir.FINISHED})"))


# -- errors inside tf.data name the clip --------------------------------------


def _record_file(tmp_path, label=3, xyz_value=None) -> str:
  clip = ntu.load_clip(corpus.write_valid_skeleton(tmp_path))
  clip = dataclasses.replace(clip, label=label)
  if xyz_value is not None:
    clip.xyz[1, 0, 3, 0] = xyz_value
  path = tmp_path / "train-00000-of-00001.tfrecord"
  with tf.io.TFRecordWriter(str(path)) as writer:
    writer.write(tfrecords.serialize_clip(clip))
  return str(path)


@pytest.mark.parametrize("label,xyz_value,words", [
    (-1, None, "label -1 is negative"),
    (3, np.inf, "non-finite joint coordinates"),
])
def test_bad_record_in_training_names_the_clip(tmp_path, label, xyz_value,
                                               words):
  files = _record_file(tmp_path, label, xyz_value)
  ds = pipeline.train_dataset(files, batch_size=1, features="none",
                              validation=None, seed=0)
  with pytest.raises(tf.errors.InvalidArgumentError) as info:
    next(iter(ds))
  assert f"clip {corpus.SAMPLE_NAME}" in str(info.value)
  assert words in str(info.value)
