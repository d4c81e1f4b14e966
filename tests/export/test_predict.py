"""Clip prediction from skeleton + video with the exported model."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf

from posedriven.data.formats import msr
from posedriven.data.formats import ntu
from posedriven.data import pipeline
from posedriven import prepare
from posedriven.data.formats import sbu
from posedriven.data import synthetic
from posedriven.data.synthetic import render as synthetic_render
from posedriven.data import video
from posedriven.export import export_dir as export_dir_lib
from posedriven.export import predict
from posedriven.export import saved_model
from tests.conftest import NTU_SAMPLES
from tests.conftest import REPO_ROOT
from tests import helpers
from tests import numerics
from tests.faults import corpus


# Slow: builds and exports trained runs, predicts in subprocesses.
# Left out of the inner loop, `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

# The shipped video is A001's; no A001 skeleton ships, and A011 is the same
# setup, camera, performer and replication (82 skeleton frames, 103 video).
REAL_SKELETON = NTU_SAMPLES / "S001C001P001R001A011.skeleton"
REAL_VIDEO = NTU_SAMPLES / "S001C001P001R001A001_rgb.avi"


def _clip_files(root, index=0):
  name = sorted(synthetic.load_meta(root)["clips"])[index]
  return (name, synthetic.skeleton_path(root, name),
          synthetic.video_path(root, name))


def test_predict_synthetic_clip(exported, loaded, tiny_synthetic, tmp_path):
  name, skeleton, video_path = _clip_files(tiny_synthetic)
  png = tmp_path / "attention.png"
  result = predict.predict_clip(exported, skeleton, video_path,
                                attention_png=png, loaded=loaded)
  info = export_dir_lib.read_export_info(exported)
  assert result.clip_name == name
  assert len(result.top_k) == 5
  names = [n for n, _ in result.top_k]
  assert len(set(names)) == 5 and set(names) <= set(info["class_names"])
  probs = [p for _, p in result.top_k]
  assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
  assert all(p > 0 for p in probs)
  np.testing.assert_allclose(result.probabilities.sum(), 1.0, atol=1e-5)
  assert result.spatial_attention.shape == (10, 20, 4)
  np.testing.assert_allclose(result.spatial_attention.sum(-1), 1.0,
                             atol=1e-5)
  assert result.temporal_attention.shape == (10, 20)
  image = cv2.imread(str(png))
  assert image is not None and image.shape[0] > 100 and image.shape[1] > 100


def test_predict_times_each_stage_and_serves_bfloat16(exported, loaded,
                                                      tiny_synthetic):
  _, skeleton, video_path = _clip_files(tiny_synthetic, index=1)
  results = {p: predict.predict_clip(exported, skeleton, video_path,
                                     loaded=loaded, precision=p)
             for p in ("float32", "bfloat16")}
  stages = ("skeleton", "decode", "crops", "inception_v3", "model")
  for name, result in results.items():
    seconds = result.stage_seconds
    assert result.precision == name
    assert set(seconds) == {*stages, "total"}, seconds
    assert all(value > 0 for value in seconds.values()), seconds
    # The stages are the call's work: little happens outside them.
    covered = sum(seconds[stage] for stage in stages)
    assert 0.8 * seconds["total"] <= covered <= seconds["total"], seconds
  scale = float(np.abs(results["float32"].logits).max())
  # bfloat16: see test_serving_copy.BFLOAT16_RELATIVE.
  np.testing.assert_allclose(results["bfloat16"].logits,
                             results["float32"].logits,
                             atol=0.05 * scale, rtol=0.05)


class _CountingSensor:
  """The export's glimpse_features signature, counting the crops it gets."""

  def __init__(self, signature):
    self._signature = signature
    self.structured_input_signature = signature.structured_input_signature
    self.crops_sensed = 0

  def __call__(self, crops):
    self.crops_sensed += int(np.prod(crops.shape[:3]))
    return self._signature(crops=crops)


class _CountingExport:
  """A loaded export for predict_clip whose sensor counts its crops."""

  def __init__(self, loaded):
    self.signatures = dict(loaded.signatures)
    self.sensor = _CountingSensor(self.signatures["glimpse_features"])
    self.signatures["glimpse_features"] = self.sensor


def _features_of_every_place(loaded, inputs):
  """The features as predict computed them before the sensor ran once per
  distinct crop: the crops of 2 sub-sequences per sensor call."""
  sensor = loaded.signatures["glimpse_features"]
  return np.concatenate([
      sensor(crops=tf.constant(inputs.crops[k:k + 2]))[
          "glimpse_features"].numpy() for k in range(0, len(inputs.pose), 2)])


def _clip_logits(loaded, pose, features):
  """The fused model on 2 sub-sequences per call, logits averaged."""
  model = loaded.signatures["from_features"]
  logits = np.concatenate([
      model(pose=tf.constant(pose[k:k + 2]),
            glimpse_features=tf.constant(features[k:k + 2]))[
                "logits"].numpy() for k in range(0, len(pose), 2)])
  return pipeline.average_logits_per_clip(logits, len(pose))[0]


def test_sensor_runs_once_per_distinct_crop_with_the_same_logits(
    exported, loaded, runs, tiny_synthetic):
  _, skeleton, video_path = _clip_files(tiny_synthetic, index=2)
  counting = _CountingExport(loaded)
  result = predict.predict_clip(exported, skeleton, video_path,
                                loaded=counting)
  distinct = len(np.unique(result.frame_indices))
  # 10 sub-sequences of 20 steps from a clip of a few dozen frames.
  assert result.frame_indices.size >= 4 * distinct
  assert counting.sensor.crops_sensed == 4 * distinct

  info = export_dir_lib.read_export_info(exported)
  inputs = predict.clip_inputs(info, skeleton, video_path)
  np.testing.assert_array_equal(inputs.frame_indices, result.frame_indices)
  features = _features_of_every_place(loaded, inputs)
  expected = _clip_logits(loaded, inputs.pose, features)
  # Both ways run the same model on the same batches; only the sensor's
  # batches differ (distinct frames vs every place), so its float32 features
  # may differ by kernel re-ordering (INCEPTION_FLOAT32_RELATIVE, far below a
  # float16 step) and, once rounded to float16, by one float16 step in any
  # element. float16_step_bound carries one step per feature through the
  # model (per sub-sequence: each one's logits read only its own features);
  # the clip's logits are the mean of the K sub-sequences', whose change is
  # at most the mean of their bounds.
  model = saved_model.load_two_stream(*runs)
  bound = numerics.float16_step_bound(
      model, {"pose": inputs.pose, "glimpses": features}, "glimpses",
      outputs=("logits",))["logits"].mean(axis=0)
  numerics.assert_within(result.logits, expected, bound, "clip logits")
  # Features gathered from the wrong frames (each sub-sequence's steps
  # reversed) move the logits by more than the bound, which therefore means
  # something.
  reversed_steps = _clip_logits(loaded, inputs.pose, features[:, ::-1])
  assert np.any(np.abs(reversed_steps - expected) > bound)


def test_bfloat16_on_an_export_without_it_says_so(exported, tiny_synthetic,
                                                  tmp_path):
  info = export_dir_lib.read_export_info(exported)
  info["precisions"] = ["float32"]  # as exports before the option
  (tmp_path / export_dir_lib.EXPORT_INFO).write_text(json.dumps(info))
  _, skeleton, video_path = _clip_files(tiny_synthetic)
  with pytest.raises(ValueError, match="no bfloat16 signature.*re-export"):
    predict.predict_clip(tmp_path, skeleton, video_path,
                         precision="bfloat16")


def test_inputs_are_those_of_preparation(exported, tiny_synthetic, tmp_path):
  """Pose tensors and crops equal the ones prepared TFRecords give."""
  info = export_dir_lib.read_export_info(exported)
  prepare.prepare_dataset(tiny_synthetic, tmp_path, dataset="synthetic",
                          protocol="synthetic_cs", store="crops",
                          max_clips=1, clips_per_file=1, log_every_s=1e9)
  name, skeleton, video_path = _clip_files(tiny_synthetic)
  files = sorted(str(p) for p in tmp_path.glob("*.tfrecord"))
  rows, _ = next(iter(pipeline.eval_dataset(files, batch_size=1,
                                            features="crops")))
  inputs = predict.clip_inputs(info, skeleton, video_path)
  assert inputs.crops.shape[-3:] == (info["crop_output_size"],) * 2 + (3,)
  np.testing.assert_array_equal(inputs.crops, rows["crops"].numpy())
  np.testing.assert_array_equal(inputs.pose, rows["pose"].numpy())


def _random_frames(n, seed):
  rng = np.random.default_rng(seed)
  return [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
          for _ in range(n)]


def _sbu_root(root):
  seq_dir = root / "s01s02" / "03" / "001"
  seq_dir.mkdir(parents=True)
  (seq_dir / sbu.SKELETON_FILE).write_text("\n".join(corpus.sbu_rows(3)))
  for t, frame in enumerate(_random_frames(3, 1)):
    cv2.imwrite(str(sbu.frame_path(seq_dir, t + 1)), frame)
  return seq_dir


def _msr_root(root):
  root.mkdir()
  skeleton = root / "a01_s01_e01_skeleton.txt"
  skeleton.write_text(corpus.msr_text())
  helpers.write_video_rgb(msr.video_path(skeleton), _random_frames(3, 2))
  return skeleton


@pytest.mark.parametrize("dataset,protocol,make", [
    ("sbu", "sbu_fold1", _sbu_root), ("msr", "msr_cs", _msr_root)])
def test_sbu_and_msr_inputs_are_those_of_preparation(dataset, protocol, make,
                                                     tmp_path):
  skeleton_path = make(tmp_path / dataset)
  out = tmp_path / "prepared"
  prepare.prepare_dataset(tmp_path / dataset, out, dataset=dataset,
                          protocol=protocol, store="crops", log_every_s=1e9,
                          allow_empty_split=True)  # one clip: one split
  files = sorted(str(p) for p in out.glob("*.tfrecord"))
  rows, _ = next(iter(pipeline.eval_dataset(files, batch_size=1,
                                            features="crops")))
  clip = predict.load_skeleton_clip(skeleton_path)
  info = {"skeleton": clip.skeleton, "crop_size_px": 100.0,
          "crop_output_size": 100, "num_steps": 20, "num_subsequences": 10,
          "subsequence_mode": "segments", "joint_order": "topological"}
  # The video (SBU: the sequence's images) is found beside the skeleton.
  inputs = predict.clip_inputs(info, skeleton_path)
  assert inputs.clip.num_frames == 3
  assert inputs.crops.shape == (10, 20, 4, 100, 100, 3)
  assert inputs.crops.any()
  np.testing.assert_array_equal(inputs.crops, rows["crops"].numpy())
  np.testing.assert_array_equal(inputs.pose, rows["pose"].numpy())


def test_ntu_skeleton_needs_its_video(exported, tiny_synthetic, tmp_path):
  _, skeleton, video_path = _clip_files(tiny_synthetic)
  info = export_dir_lib.read_export_info(exported)
  # Outside its synthetic dataset the file is an NTU skeleton, whose video
  # lives in another folder.
  alone = tmp_path / skeleton.name
  shutil.copy(skeleton, alone)
  with pytest.raises(ValueError, match="give the clip's video"):
    predict.clip_inputs(info, alone, skeleton_image_size=(480, 270))
  # Inside it, the registry knows where the synthetic set keeps videos.
  clip = predict.load_skeleton_clip(skeleton)
  assert predict.default_video(skeleton, clip) == video_path


def test_short_video_uses_the_frames_it_has(exported, tiny_synthetic,
                                            tmp_path, caplog):
  _, skeleton, video_path = _clip_files(tiny_synthetic, 1)
  capture = cv2.VideoCapture(str(video_path))
  frames = [capture.read()[1] for _ in range(12)]
  capture.release()
  short = tmp_path / "short_rgb.avi"
  synthetic_render.write_video(short, frames, frames[0].shape[1::-1])
  info = export_dir_lib.read_export_info(exported)
  with caplog.at_level(logging.WARNING):
    inputs = predict.clip_inputs(info, skeleton, short)
  assert inputs.clip.num_frames == 12 and inputs.frame_indices.max() == 11
  assert inputs.crops.shape[:3] == (10, 20, 4)
  assert str(short) in caplog.text and "decodes only 12" in caplog.text


def test_bad_inputs_name_the_file(exported, loaded, tiny_synthetic, tmp_path):
  _, skeleton, video_path = _clip_files(tiny_synthetic)
  missing = tmp_path / "missing_rgb.avi"
  with pytest.raises(video.VideoError, match="missing_rgb.avi"):
    predict.predict_clip(exported, skeleton, missing, loaded=loaded)
  garbage = tmp_path / "garbage_rgb.avi"
  garbage.write_bytes(b"not a video" * 100)
  with pytest.raises(video.VideoError, match="garbage_rgb.avi"):
    predict.predict_clip(exported, skeleton, garbage, loaded=loaded)
  with pytest.raises(ntu.SkeletonFormatError, match="nope.skeleton"):
    predict.predict_clip(exported, tmp_path / "nope.skeleton", video_path,
                         loaded=loaded)
  with pytest.raises(FileNotFoundError, match="export_info.json"):
    predict.predict_clip(tmp_path, skeleton, video_path)


def test_predict_binary_on_real_ntu_sample(exported, tmp_path):
  for path in (REAL_SKELETON, REAL_VIDEO):
    assert path.is_file(), f"real NTU sample {path} is missing"
  png = tmp_path / "real.png"
  report = tmp_path / "real.json"
  cmd = [sys.executable, str(REPO_ROOT / "tools" / "predict.py"),
         f"--model={exported}", f"--skeleton={REAL_SKELETON}",
         f"--video={REAL_VIDEO}", f"--attention_png={png}",
         f"--output_json={report}", "--precision=bfloat16"]
  out = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                       env=helpers.subprocess_env())
  assert out.returncode == 0, out.stderr[-3000:]
  assert "Traceback" not in out.stderr
  lines = out.stdout.strip().splitlines()
  assert lines[0].startswith("S001C001P001R001A011 (82 frames)")
  ranked = [line for line in lines if line[:2] in {f"{i}." for i in
                                                   range(1, 6)}]
  assert len(ranked) == 5, out.stdout
  probs = [float(line.split()[1]) for line in ranked]
  assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-3
  assert cv2.imread(str(png)) is not None
  written = json.loads(report.read_text())
  assert written["precision"] == "bfloat16"
  assert [p for _, p in written["top_k"]] == pytest.approx(probs, abs=1e-4)
  seconds = written["stage_seconds"]
  assert set(seconds) == {"load_model", "skeleton", "decode", "crops",
                          "inception_v3", "model", "attention_png", "total"}
  covered = sum(v for k, v in seconds.items() if k != "total")
  assert 0.8 * seconds["total"] <= covered <= seconds["total"], seconds
  assert any(line.startswith("seconds: load_model") for line in lines)


def test_export_records_the_fingerprint_of_its_files(exported):
  info = export_dir_lib.read_export_info(exported)
  assert info["fingerprint"]["sha256"] == export_dir_lib.fingerprint(
      exported)
  assert info["fingerprint"]["covers"] == ["saved_model.pb", "variables",
                                           "assets"]


@pytest.mark.parametrize("tamper,words", [
    ("variables", "differ from what export recorded"),
    ("graph", "differ from what export recorded"),
    ("no_fingerprint", "records no fingerprint"),
])
def test_tampered_export_is_refused_before_loading(exported, tiny_synthetic,
                                                   tmp_path, monkeypatch,
                                                   tamper, words):
  copy = tmp_path / "model"
  shutil.copytree(exported, copy)
  if tamper == "variables":
    data = next((copy / "variables").glob("variables.data-*"))
    content = bytearray(data.read_bytes())
    content[len(content) // 2] ^= 1
    data.write_bytes(bytes(content))
  elif tamper == "graph":
    with open(copy / "saved_model.pb", "ab") as f:
      f.write(b"\0")
  else:
    info = export_dir_lib.read_export_info(copy)
    del info["fingerprint"]
    (copy / export_dir_lib.EXPORT_INFO).write_text(json.dumps(info))
  loads = []
  monkeypatch.setattr(tf.saved_model, "load",
                      lambda *a, **k: loads.append(a))
  _, skeleton, video_path = _clip_files(tiny_synthetic)
  with pytest.raises(export_dir_lib.ExportVerificationError, match=words):
    predict.predict_clip(copy, skeleton, video_path)
  with pytest.raises(export_dir_lib.ExportVerificationError, match=words):
    export_dir_lib.load_export(copy)
  assert not loads


def test_figure_that_cannot_be_written_keeps_the_prediction(
    exported, loaded, tiny_synthetic, tmp_path, monkeypatch):
  _, skeleton, video_path = _clip_files(tiny_synthetic)
  out = tmp_path / "figures"
  monkeypatch.setattr(cv2, "imwrite", lambda *a, **k: False)  # disk full
  result = predict.predict_clip(exported, skeleton, video_path,
                                attention_png=out / "a.png", loaded=loaded)
  assert len(result.top_k) == 5 and result.attention_png is None
  assert "could not write" in result.attention_error
  assert list(out.iterdir()) == []  # no temporary PNG left


def test_predict_binary_refuses_a_directory_figure_before_predicting(
    exported, tmp_path):
  cmd = [sys.executable, str(REPO_ROOT / "tools" / "predict.py"),
         f"--model={exported}", f"--skeleton={REAL_SKELETON}",
         f"--video={REAL_VIDEO}", f"--attention_png={tmp_path}"]
  out = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                       env=helpers.subprocess_env())
  assert out.returncode != 0
  assert f"{tmp_path} is a directory" in out.stderr
  assert "(82 frames)" not in out.stdout  # nothing was computed
  assert list(tmp_path.iterdir()) == []
