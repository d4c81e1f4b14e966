"""Export -> predict for an SBU and an MSR model, on synthetic sets written
in the real datasets' file layouts (SBU: ``sXXsYY/AA/SSS`` directories of
``skeleton_pos.txt`` and ``rgb_*.png`` frames; MSR:
``aXX_sYY_eZZ_skeleton.txt`` beside its ``_rgb.avi``).

Each model is trained (tiny), exported, and asked to classify one raw test
clip with ``predict``, given only the skeleton path; its answer is checked
against what ``evaluate`` gives the same clip from the prepared data: the
dataset's class names, probabilities that sum to 1, and the same fused
logits within a tolerance derived from what differs between the two paths
(the glimpse features: the exported sensor against preparation's). SBU runs
on its native skeleton layout, MSR on NTU's ``kinect_v2`` one (the layout
``export_info.json`` records and predict builds its pose tensors in).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

from posedriven import prepare
from posedriven.data import pipeline
from posedriven.data import pose_tensor
from posedriven.data import prepared_data
from posedriven.data import skeleton_layouts
from posedriven.data import skeletons
from posedriven.data.formats import msr
from posedriven.data.formats import registry
from posedriven.data.synthetic import sbu_msr
from posedriven.export import export_dir as export_dir_lib
from posedriven.export import predict
from posedriven.export import saved_model
from posedriven.training import evaluate
from posedriven.training import run_dir
from posedriven.training import train_pose
from posedriven.training import train_rgb
from tests import numerics
from tests.export.conftest import GLIMPSE_INPUT_SIZE
from tests.export.conftest import SMALL_POSE
from tests.export.conftest import SMALL_RGB

# Slow: prepares, trains, exports and evaluates tiny runs.
pytestmark = pytest.mark.slow


@dataclasses.dataclass
class _Model:
  """A trained pair, its export and its evaluation on the test split."""
  data_dir: Path
  pose_dir: Path
  rgb_dir: Path
  export_dir: Path
  evaluated: dict[str, np.ndarray]  # evaluate's logits.npz
  loaded: Any  # the export, verified and loaded


def _train_export_evaluate(out: Path, data_dir: Path, sensor_weights: Path,
                           layout: str) -> _Model:
  pose_dir, rgb_dir = out / "pose", out / "rgb"
  train_pose.train_pose(pose_dir, data_dir,
                        **dict(SMALL_POSE, skeleton_layout=layout))
  train_rgb.train_rgb(rgb_dir, data_dir, pose_dir, **SMALL_RGB)
  export_dir = saved_model.export_model(
      out / "export", pose_dir=pose_dir, rgb_dir=rgb_dir,
      glimpse_weights=str(sensor_weights), precisions=("float32",))
  evaluate.evaluate(out / "eval", data_dir, pose_dir, rgb_dir,
                    num_attention_images=0)
  evaluated = dict(np.load(out / "eval" / run_dir.LOGITS_FILE))
  loaded = export_dir_lib.load_export(export_dir)[1]
  return _Model(data_dir, pose_dir, rgb_dir, export_dir, evaluated, loaded)


def _prepare(root: Path, dataset: str, protocol: str, max_clips: int,
             sensor_weights: Path, out: Path) -> Path:
  prepare.prepare_dataset(root, out, dataset=dataset, protocol=protocol,
                          glimpse_input_size=GLIMPSE_INPUT_SIZE,
                          glimpse_weights=str(sensor_weights),
                          max_clips=max_clips, log_every_s=1e9)
  clips = prepared_data.load_prepared(out).manifest["clips"]
  splits = [c["split"] for c in clips if c["status"] == "ok"]
  assert splits.count("train") >= 4 and splits.count("test") >= 2, splits
  return out


@pytest.fixture(scope="module")
def sbu_data(calibrated_sensor_weights, tmp_path_factory):
  """``(raw root, prepared)``: the fold-1 test set s01s02 (8 sequences,
  first by name) and 4 of the training set s02s03's."""
  root = tmp_path_factory.mktemp("sbu_raw")
  sbu_msr.generate_sbu(root, sets=("s02s03", "s01s02"))
  return root, _prepare(root, "sbu", "sbu_fold1", 12,
                        calibrated_sensor_weights,
                        tmp_path_factory.mktemp("sbu_prepared"))


@pytest.fixture(scope="module")
def msr_data(calibrated_sensor_weights, tmp_path_factory):
  """``(raw root, prepared)``: actions 1-5 of subject 1 (training under
  msr_cs) and subject 2 (test), first by name."""
  root = tmp_path_factory.mktemp("msr_raw")
  sbu_msr.generate_msr(root, num_subjects=2, environments=(1,))
  return root, _prepare(root, "msr", "msr_cs", 10, calibrated_sensor_weights,
                        tmp_path_factory.mktemp("msr_prepared"))


def _stored_inputs(model: _Model, name: str):
  """The pose tensors and stored glimpse features evaluation gave ``name``."""
  info = run_dir.read_stage_info(model.rgb_dir)
  pattern = prepared_data.load_prepared(model.data_dir).pattern("test")
  for inputs, _ in pipeline.eval_dataset(
      pattern, batch_size=1, joint_order=info["joint_order"],
      skeleton_layout=info.get("skeleton_layout", "native"),
      with_names=True):
    if inputs["name"][0].numpy().decode() == name:
      return inputs["pose"].numpy(), inputs["glimpses"].numpy()
  raise AssertionError(f"{name} is not in {pattern}")


def _logit_bound(model: _Model, pose: np.ndarray, features: np.ndarray,
                 evaluated: np.ndarray) -> np.ndarray:
  """How far predict's clip logits may sit from evaluate's, per class.

  The pose tensors are the same (checked by the caller). The features are
  not: preparation ran its sensor (a Keras layer, its own batches), predict
  the export's ``glimpse_features`` signature (a graph, other batches). In
  float32 the two agree to INCEPTION_FLOAT32_RELATIVE of the features'
  scale; each is then rounded to float16, so an element may differ by one
  float16 step more: numerics.float16_step_bound carries both through the
  model, per sub-sequence. The clip's logits are the mean of the K
  sub-sequences', so their change is at most the mean of the sub-sequences'
  bounds. The fused model itself runs in other batches (evaluate's 16 clips,
  predict's 2 sub-sequences): float32 re-ordering, FLOAT32_RELATIVE of the
  logits' scale.
  """
  bounds = numerics.float16_step_bound(
      saved_model.load_two_stream(model.pose_dir, model.rgb_dir),
      {"pose": pose, "glimpses": features}, "glimpses",
      float32_relative=numerics.INCEPTION_FLOAT32_RELATIVE,
      outputs=("logits",))["logits"]
  return (bounds.mean(axis=0) +
          numerics.FLOAT32_RELATIVE * float(np.abs(evaluated).max()))


def _evaluation_of(model: _Model, skeleton_path: Path, name: str
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """``(logits, bound, others)``: evaluate's fused logits of ``name``, how
  far predict's may sit from them (:func:`_logit_bound`) and the other test
  clips' logits; asserts that predict reads the clip as preparation did."""
  info = export_dir_lib.read_export_info(model.export_dir)
  inputs = predict.clip_inputs(info, skeleton_path)
  pose, stored = _stored_inputs(model, name)
  # The same pose tensors, to the bit: the same reader, sampling and layout.
  assert inputs.pose.shape[2] == info["pose_width"]
  np.testing.assert_array_equal(inputs.pose, pose)
  # The exported sensor's features against preparation's (premise of the
  # logit bound): float32 re-ordering, then one float16 step. Sensed once
  # per distinct frame, as predict does.
  frames, places = np.unique(inputs.frame_indices, return_inverse=True)
  sensed = model.loaded.signatures["glimpse_features"](
      crops=tf.constant(inputs.frame_crops[frames][None]))[
          "glimpse_features"].numpy()[0][places.reshape(
              inputs.frame_indices.shape)]
  scale = float(np.abs(stored).max())
  assert scale > 1e-3, scale  # calibrated sensor: features of order 1
  numerics.assert_within(
      sensed, stored, numerics.float16_step(stored) +
      numerics.INCEPTION_FLOAT32_RELATIVE * scale, f"{name} features")
  row = list(model.evaluated["names"]).index(name)
  logits = model.evaluated["fused"][row]
  others = np.delete(model.evaluated["fused"], row, axis=0)
  assert len(others), "the test split has one clip: no control"
  return logits, _logit_bound(model, pose, stored, logits), others


# Two models cover both datasets and both layouts: SBU on its own 15
# joints, MSR on NTU's Kinect v2 tensor (data/skeleton_layouts.py: the
# layout NTU-trained layers read; the other pairings run the same code).
# Each clip is a test clip of its protocol: SBU fold 1 tests on s01s02
# (sbu.SBU_FOLDS[0]), msr_cs on even subjects. The raw clip is given as the
# skeleton alone: predict finds SBU's frames in the sequence directory and
# MSR's _rgb.avi beside the skeleton file.
@pytest.mark.parametrize("dataset,skeleton,layout,clip", [
    ("sbu", skeletons.SBU, "native", "s01s02/03/001"),
    ("msr", skeletons.KINECT_V1, "kinect_v2",
     f"a05_s02_e01{msr.SKELETON_SUFFIX}")])
def test_exported_model_predicts_a_raw_clip_as_evaluation_does(
    dataset, skeleton, layout, clip, request,
    calibrated_sensor_weights, tmp_path):
  root, prepared = request.getfixturevalue(f"{dataset}_data")
  model = _train_export_evaluate(tmp_path, prepared,
                                 calibrated_sensor_weights, layout)
  info = export_dir_lib.read_export_info(model.export_dir)
  class_names = registry.class_names(dataset)
  assert (info["dataset"], info["skeleton"], info["skeleton_layout"]) == (
      dataset, skeleton.name, layout)
  assert info["class_names"] == list(class_names)
  assert info["pose_width"] == pose_tensor.pose_tensor_width(
      skeleton_layouts.tensor_skeleton(skeleton, layout),
      info["joint_order"])
  result = predict.predict_clip(model.export_dir, root / clip,
                                top_k=len(class_names), loaded=model.loaded)
  assert sorted(n for n, _ in result.top_k) == sorted(class_names)
  # A float32 softmax of C classes: exp (Eigen's: within 2 units of
  # roundoff u), a sum of C terms (C - 1 roundings) and a division (one):
  # each p_i within (C + 2) u of its exact value, relative, so their sum
  # within (C + 2) u of 1 (summed here in float64).
  assert abs(result.probabilities.astype(np.float64).sum() - 1.0) <= (
      (len(class_names) + 2) * numerics.FLOAT32_UNIT_ROUNDOFF)
  assert result.spatial_attention.shape == (10, 20, 4)
  expected, bound, others = _evaluation_of(model, root / clip,
                                           result.clip_name)
  numerics.assert_within(result.logits, expected, bound, "clip logits")
  # Every other test clip's logits are further away than the bound, which
  # therefore tells clips apart.
  assert np.all(np.any(np.abs(others - result.logits) > bound, axis=1))
