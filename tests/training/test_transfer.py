"""NTU -> SBU / MSR weight transfer (paper, section 4: fine-tuning)."""

import numpy as np
import pytest

from posedriven.data import pose_tensor
from posedriven.data import skeletons
from posedriven.models import streams
from posedriven.training import run_dir
from posedriven.training import transfer

SMALL = dict(filters=(4, 4), features=16)
NTU_WIDTH = pose_tensor.pose_tensor_width(skeletons.KINECT_V2)
SBU_WIDTH = pose_tensor.pose_tensor_width(skeletons.SBU)


def _pose_model(num_classes, width):
  return streams.build_pose_stream(num_classes, width, **SMALL)


def _transfer(source, target, **kwargs):
  return transfer.transfer_weights(source, target, source_run="/runs/ntu",
                                   class_layer="pose_logits", **kwargs)


def _values(model):
  return {v.path: np.asarray(v) for v in model.weights}


def test_adapted_width_copies_every_layer_but_the_class_layer():
  source, target = _pose_model(60, NTU_WIDTH), _pose_model(8, NTU_WIDTH)
  before = _values(target)
  records = _transfer(source, target, copy_class_layer=False)
  status = {r["layer"].rpartition("/")[2]: r["status"] for r in records}
  assert status == {"conv1": "copied", "conv2": "copied", "conv3": "copied",
                    "pose_logits": "reinitialised"}
  assert all(r["source_run"] == "/runs/ntu" for r in records)
  conv3 = next(r for r in records if r["layer"].endswith("conv3"))
  assert conv3["shapes"] == [[5, 75, 4, 16], [16]]
  src = _values(source)
  for path, value in _values(target).items():
    expected = before[path] if "pose_logits" in path else src[path]
    np.testing.assert_array_equal(value, expected)


def test_same_classes_copies_the_class_layer_too():
  source, target = _pose_model(8, NTU_WIDTH), _pose_model(8, NTU_WIDTH)
  records = _transfer(source, target, copy_class_layer=True)
  assert {r["status"] for r in records} == {"copied"}
  for a, b in zip(source.weights, target.weights):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_native_sbu_width_is_an_error_unless_conv3_is_named():
  assert (NTU_WIDTH, SBU_WIDTH) == (300, 180)
  source, target = _pose_model(60, NTU_WIDTH), _pose_model(8, SBU_WIDTH)
  with pytest.raises(transfer.TransferError, match="conv3.*reinitialise"):
    _transfer(source, target, copy_class_layer=False)
  before = _values(target)
  records = _transfer(source, target, copy_class_layer=False,
                      reinitialise=["conv3"])
  conv3 = next(r for r in records if r["layer"].endswith("conv3"))
  assert conv3["status"] == "reinitialised"
  for path, value in _values(target).items():
    if "conv3" in path:
      np.testing.assert_array_equal(value, before[path])


def test_rgb_stream_keeps_its_pose_network():
  pose = _pose_model(8, NTU_WIDTH)
  rgb_kwargs = dict(lstm_units=8, glimpse_dim=16, spatial_attention_units=8,
                    temporal_attention_units=8, feature_units=8)
  source = streams.build_rgb_stream(60, pose_network=_pose_model(
      60, NTU_WIDTH).pose_network, **rgb_kwargs)
  target = streams.build_rgb_stream(8, pose_network=pose.pose_network,
                                    **rgb_kwargs)
  pose_before = {k: v for k, v in _values(target).items()
                 if k.startswith("pose_cnn/")}
  records = transfer.transfer_weights(
      source, target, source_run="/runs/ntu_rgb", class_layer="rgb_logits",
      copy_class_layer=False, keep=("pose_cnn",))
  assert not any(r["layer"].startswith("pose_cnn") for r in records)
  copied = {r["layer"] for r in records if r["status"] == "copied"}
  assert "spatial_attention_lstm/rnn/cell/lstm" in copied
  assert [r["layer"] for r in records if r["status"] != "copied"] == [
      "rgb_logits"]
  for path, value in _values(target).items():
    if path in pose_before:
      np.testing.assert_array_equal(value, pose_before[path])


# What an NTU-layout topological pose run's stage.json says it read.
NTU_POSE = {"stage": "pose", "joint_order": "topological",
            "tensor_skeleton": "kinect_v2", "pose_width": NTU_WIDTH}


def _finished_run(path, **info):
  path.mkdir()
  run_dir.write_stage_info(path, info)
  return path


@pytest.fixture
def sbu_run(tmp_path):
  """A finished pose run on SBU: ``stage.json`` and ``best.keras``."""
  run = _finished_run(tmp_path / "sbu_run", **NTU_POSE, dataset="sbu",
                      params={"learning_rate": 1e-3})
  source = _pose_model(8, NTU_WIDTH)
  source.save(run / run_dir.BEST_MODEL)
  return run, _values(source)


@pytest.mark.parametrize("dataset,class_layer_copied", [
    ("sbu", True),
    # Same number of classes, other names: the class layer starts afresh.
    ("synthetic", False)])
def test_transfer_from_run_copies_the_class_layer_of_the_same_classes(
    sbu_run, dataset, class_layer_copied):
  run, source = sbu_run
  target = _pose_model(8, NTU_WIDTH)
  before = _values(target)
  records = transfer.transfer_from_run(run, target, dataset=dataset,
                                       class_layer="pose_logits",
                                       target=NTU_POSE)
  assert {r["source_run"] for r in records} == {str(run)}
  for path, value in _values(target).items():
    copied = class_layer_copied or "pose_logits" not in path
    np.testing.assert_array_equal(value, source[path] if copied else
                                  before[path])


def test_transfer_from_an_unfinished_run_names_it(tmp_path):
  with pytest.raises(FileNotFoundError, match="not a finished training run"):
    transfer.transfer_from_run(tmp_path, _pose_model(8, NTU_WIDTH),
                               dataset="sbu", class_layer="pose_logits",
                               target=NTU_POSE)


@pytest.mark.parametrize("key,source_value,target_value", [
    # Both 150 wide on NTU: shapes alone would copy conv3 across.
    ("joint_order", "random:0", "topological_no_double"),
    ("joint_order", "random:0", "random:1"),  # other permutations
    ("stage", "rgb", "pose"),
    ("tensor_skeleton", "kinect_v2", "sbu"),
    ("pose_width", 300, 180)])
def test_a_source_of_other_inputs_is_refused_naming_both(
    sbu_run, key, source_value, target_value):
  run, _ = sbu_run
  run_dir.write_stage_info(run, {**NTU_POSE, key: source_value,
                                 "dataset": "sbu"})
  target = _pose_model(8, NTU_WIDTH)
  before = _values(target)
  with pytest.raises(transfer.SourceMismatchError) as error:
    transfer.transfer_from_run(run, target, dataset="sbu",
                               class_layer="pose_logits",
                               target={**NTU_POSE, key: target_value})
  assert f"{key} {source_value!r} in the source" in str(error.value)
  assert f"{target_value!r} here" in str(error.value)
  assert str(run) in str(error.value)
  # Refused before any weight was touched.
  for path, value in _values(target).items():
    np.testing.assert_array_equal(value, before[path])


def test_a_layout_change_passes_only_when_its_layers_are_reinitialised(
    tmp_path):
  run = _finished_run(tmp_path / "ntu", **NTU_POSE, dataset="ntu60")
  native_sbu = {**NTU_POSE, "tensor_skeleton": "sbu",
                "pose_width": SBU_WIDTH}
  with pytest.raises(transfer.SourceMismatchError, match="tensor_skeleton"):
    transfer.check_source(run, native_sbu)
  assert not transfer.layout_change_allowed(["conv1"])
  assert transfer.layout_change_allowed(["conv3"])
  assert transfer.check_source(run, native_sbu, allow_layout_change=True)[
      "dataset"] == "ntu60"
  # The joint order is checked all the same.
  with pytest.raises(transfer.SourceMismatchError, match="joint_order"):
    transfer.check_source(run, {**native_sbu, "joint_order": "random:0"},
                          allow_layout_change=True)


def test_a_key_an_older_source_lacks_is_not_checked(tmp_path, caplog):
  run = _finished_run(tmp_path / "old", stage="pose",
                      joint_order="topological", dataset="ntu60")
  transfer.check_source(run, NTU_POSE)
  assert "tensor_skeleton not recorded" in caplog.text


def test_fine_tuning_rate_defaults_to_a_tenth_of_the_source(tmp_path):
  recorded = _finished_run(tmp_path / "a", **NTU_POSE, learning_rate=3e-4,
                           params={"learning_rate": None})
  bound_only = _finished_run(tmp_path / "b", **NTU_POSE,
                             params={"learning_rate": 1e-3})
  # 3e-4 / 10 in float64 is 3e-5 to within one rounding (1e-16 relative);
  # approx's 1e-6 default is far above it.
  assert transfer.resolve_learning_rate(None, recorded) == (
      pytest.approx(3e-5), "init_from / 10")
  # A run older than the recorded rate: its bound parameter.
  assert transfer.resolve_learning_rate(None, bound_only) == (
      pytest.approx(1e-4), "init_from / 10")
  # A binding wins, with or without a source.
  assert transfer.resolve_learning_rate(2e-5, recorded) == (2e-5, "bound")
  assert transfer.resolve_learning_rate(1e-4, None) == (1e-4, "bound")
  with pytest.raises(ValueError, match="needs|bind init_from"):
    transfer.resolve_learning_rate(None, None)
  unknown = _finished_run(tmp_path / "c", **NTU_POSE)
  with pytest.raises(ValueError, match="records no learning rate"):
    transfer.resolve_learning_rate(None, unknown)
