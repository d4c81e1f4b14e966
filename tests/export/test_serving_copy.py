"""Serving copies: the CPU layout computes the same, bfloat16 nearly so."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from posedriven.export import serving_copy
from posedriven.export import serving_layout
from posedriven.models import pose_cnn
from posedriven.models import streams

# bfloat16 keeps 8 significant bits: each rounding is off by up to 2^-9
# (0.2%) of the value. Weights, inputs and every layer's output are
# rounded, and the LSTM carries its state through 20 steps, so a few percent
# of the logits' scale is what bfloat16 inference gives (measured here: 1-2%
# at these sizes); float32 accumulation in the matmuls keeps it from growing
# with the sums' lengths.
BFLOAT16_RELATIVE = 0.05


def _model(conditioning="pose", **ablation):
  keras.utils.set_random_seed(3)
  pose = streams.build_pose_stream(5, 60, filters=(4, 4), features=16)
  rgb = streams.build_rgb_stream(
      5, pose_network=pose.pose_network, lstm_units=12, glimpse_dim=24,
      pose_width=60, feature_units=8, spatial_attention_units=8,
      temporal_attention_units=8, conditioning=conditioning, **ablation)
  return streams.build_two_stream(pose, rgb)


def _inputs(batch=6, seed=0):
  rng = np.random.default_rng(seed)
  glimpses = rng.uniform(0, 2, size=(batch, 20, 4, 24)).astype(np.float32)
  glimpses[0, :, 3] = 0  # an absent hand
  return {"pose": rng.normal(size=(batch, 20, 60, 3)).astype(np.float32),
          "glimpses": glimpses}


def _outputs(model, inputs):
  return {k: np.asarray(keras.ops.cast(v, "float32"))
          for k, v in model(inputs, training=False).items()}


@pytest.mark.parametrize("conditioning", ["pose", "hidden"])
def test_float32_serving_layout_computes_the_same(conditioning):
  model = _model(conditioning)
  served = serving_copy.serving_model(model, "float32")
  cells = [w.path for w in served.weights if w.path.endswith("/gate_kernel")]
  assert len(cells) == 1  # the fused layout is really in use
  heads = _pose_heads(served)
  assert len(heads) == (2 if conditioning == "pose" else 1)
  for head in heads:
    assert isinstance(head, serving_layout.WholeMapConv2D)
  x = _inputs()
  expected, actual = _outputs(model, x), _outputs(served, x)
  for key, value in expected.items():
    np.testing.assert_allclose(actual[key], value, rtol=1e-5, atol=1e-6,
                               err_msg=key)


@pytest.mark.parametrize("projected_inputs", [False, True],
                         ids=["per_step", "projected"])
def test_bfloat16_copy_is_close_and_keeps_the_classes(projected_inputs):
  model = _model()
  served = serving_copy.serving_model(model, "bfloat16",
                                      projected_inputs=projected_inputs)
  dtypes = {w.path: w.dtype for w in served.weights}
  lstm_kernel = ("input_gate_kernel" if projected_inputs else "gate_kernel")
  assert dtypes[f"spatial_attention_lstm/rnn/cell/lstm/{lstm_kernel}"] == (
      "bfloat16")
  assert dtypes["pose_stream/pose_cnn/conv3/kernel"] == "bfloat16"
  assert dtypes["rgb_logits/kernel"] == "float32"
  x = _inputs(batch=16, seed=1)
  expected, actual = _outputs(model, x), _outputs(served, x)
  for key, value in expected.items():
    scale = float(np.abs(value).max())
    np.testing.assert_allclose(actual[key], value, rtol=BFLOAT16_RELATIVE,
                               atol=BFLOAT16_RELATIVE * scale, err_msg=key)
  # Outputs that must stay exact distributions do.
  np.testing.assert_allclose(actual["spatial_attention"].sum(-1), 1,
                             atol=1e-5)
  assert np.all(actual["spatial_attention"][0, :, 3] == 0)
  # Same top-1 wherever float32's margin exceeds bfloat16's error.
  logits = expected["logits"]
  top2 = np.sort(logits, axis=-1)[:, -2:]
  clear = top2[:, 1] - top2[:, 0] > 2 * BFLOAT16_RELATIVE * np.abs(
      logits).max()
  assert clear.sum() >= 4
  np.testing.assert_array_equal(actual["logits"][clear].argmax(-1),
                                logits[clear].argmax(-1))


def test_ablation_without_attention_cell_is_copied():
  model = _model(integration="sum", temporal="mean")
  for name in serving_copy.PRECISIONS:
    served = serving_copy.serving_model(model, name)
    assert len(served.weights) == len(model.weights)


def test_training_model_is_left_in_the_training_layout():
  model = _model()
  before = [w.path for w in model.weights]
  config = keras.saving.serialize_keras_object(model)
  serving_copy.serving_model(model, "bfloat16")
  assert [w.path for w in model.weights] == before
  assert keras.saving.serialize_keras_object(model) == config
  assert [type(h) for h in _pose_heads(model)] == [keras.layers.Conv2D] * 2
  lstm = model.get_layer("rgb_stream").get_layer("spatial_attention_lstm")
  assert type(lstm.cell.lstm) is keras.layers.LSTMCell


def test_unknown_precision_is_refused():
  with pytest.raises(ValueError, match="precision"):
    serving_copy.serving_model(_model(), "int4")


def test_check_precision_names_the_choices():
  for name in serving_copy.PRECISIONS:
    assert serving_copy.check_precision(name) == name
  with pytest.raises(ValueError, match=r"one of \('float32', 'bfloat16'\),"
                     " got 'int8'"):
    serving_copy.check_precision("int8")


def _pose_heads(model):
  """The last convolution of the pose stream's f_sk and of its RGB copy."""
  copies = [l for l in model.get_layer("rgb_stream").layers
            if isinstance(l, pose_cnn.PoseConvNet)]
  return [model.get_layer("pose_stream").pose_network.conv3] + [
      copy.conv3 for copy in copies]


@pytest.mark.parametrize("projected_inputs", [False, True])
def test_both_recurrences_compute_the_training_model(projected_inputs,
                                                     monkeypatch):
  """The LSTM's input product before the loop or at each step: each is the
  training model's step."""
  model = _model()
  served = serving_copy.serving_model(model, "float32",
                                      projected_inputs=projected_inputs)
  lstm = served.get_layer("rgb_stream").get_layer(
      "spatial_attention_lstm").cell.lstm
  assert type(lstm) is (serving_layout.ProjectedLSTMCell if projected_inputs
                        else serving_layout.FusedLSTMCell)
  ranks = []
  original = serving_layout.ProjectedLSTMCell.input_gates

  def spy(self, inputs):
    ranks.append(len(inputs.shape))
    return original(self, inputs)

  monkeypatch.setattr(serving_layout.ProjectedLSTMCell, "input_gates", spy)
  x = _inputs(batch=3, seed=4)
  expected, actual = _outputs(model, x), _outputs(served, x)
  # The [B, T, N, D] glimpses projected once before the loop, or each
  # step's context through the fused gate kernel.
  assert ranks == ([4] if projected_inputs else [])
  for key, value in expected.items():
    # float32, the same products summed in another order: W (sum p v)
    # against sum p (W v), each sum over 24 + 12 terms of order 1.
    np.testing.assert_allclose(actual[key], value, rtol=1e-5, atol=1e-6,
                               err_msg=key)


def test_each_precision_has_its_recurrence():
  model = _model()
  for precision, projected in serving_copy.PROJECTED_INPUTS.items():
    recurrence = serving_copy.serving_model(model, precision).get_layer(
        "rgb_stream").get_layer("spatial_attention_lstm")
    assert recurrence.projected_inputs is projected
  assert serving_copy.PROJECTED_INPUTS == {"float32": False,
                                           "bfloat16": True}
