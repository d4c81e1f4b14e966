"""benchmarks/inference.py: the weight bytes its floors are computed from."""

from __future__ import annotations

import importlib.util

from absl import flags
import keras

from posedriven.export import serving_copy
from posedriven.models import streams
from tests.conftest import REPO_ROOT


def _model_costs(*args, **kwargs):
  """``model_costs`` of the benchmark, its absl flags removed afterwards
  (other modules of the test process define flags of the same names)."""
  before = set(flags.FLAGS)
  spec = importlib.util.spec_from_file_location(
      "inference_benchmark", REPO_ROOT / "benchmarks" / "inference.py")
  module = importlib.util.module_from_spec(spec)
  try:
    spec.loader.exec_module(module)
    return module.model_costs(*args, **kwargs)
  finally:
    for name in set(flags.FLAGS) - before:
      delattr(flags.FLAGS, name)


def test_layout_bytes_read_the_lstm_input_kernel_once():
  keras.utils.set_random_seed(0)
  pose = streams.build_pose_stream(5, 60, filters=(4, 4), features=16)
  rgb = streams.build_rgb_stream(
      5, pose_network=pose.pose_network, lstm_units=12, glimpse_dim=24,
      pose_width=60, feature_units=8, spatial_attention_units=8,
      temporal_attention_units=8)
  model = streams.build_two_stream(pose, rgb)
  costs = _model_costs(
      model, served=serving_copy.serving_model(model, "bfloat16"))
  input_kernel = 4 * 12 * 24  # [4 units, D] of the LSTM
  # The training layout reads every LSTM weight at each of the 20 steps, as
  # does the float32 serving copy; the bfloat16 one (projected_inputs)
  # reads its input kernel once: 19 fewer reads of it.
  assert costs["layout_bytes"] == costs["weight_bytes"]
  assert costs["served_weight_bytes"] - costs["served_layout_bytes"] == (
      19 * 2 * input_kernel)
  # bfloat16 halves every byte but the float32 layers' (logits, scores).
  assert costs["served_weight_bytes"] < 0.75 * costs["weight_bytes"]
  assert costs["flops"] > 0
