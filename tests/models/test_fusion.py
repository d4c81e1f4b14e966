"""The one logit-level fusion: numpy, tensors and the Keras layer agree."""

import keras
import numpy as np
import pytest

from posedriven.models import fusion


def _logits(seed):
  return np.random.default_rng(seed).normal(size=(5, 4)).astype(np.float32)


def test_pose_weight_weights_the_pose_stream():
  pose, rgb = _logits(0), _logits(1)
  np.testing.assert_allclose(fusion.fuse_logits(pose, rgb), (pose + rgb) / 2,
                             rtol=1e-6)
  np.testing.assert_allclose(fusion.fuse_logits(pose, rgb, 1.0), pose)
  np.testing.assert_allclose(fusion.fuse_logits(pose, rgb, 0.0), rgb)
  np.testing.assert_allclose(fusion.fuse_logits(pose, rgb, 0.3),
                             0.3 * pose + 0.7 * rgb, rtol=1e-6)


@pytest.mark.parametrize("weight", [-0.1, 1.5, float("nan")])
def test_weight_outside_unit_interval_is_refused(weight):
  with pytest.raises(ValueError, match="pose_weight"):
    fusion.fuse_logits(_logits(0), _logits(1), weight)
  with pytest.raises(ValueError, match="pose_weight"):
    fusion.LogitFusion(weight)


def test_layer_equals_function_and_round_trips():
  pose, rgb = _logits(2), _logits(3)
  layer = fusion.LogitFusion(0.3)
  out = keras.ops.convert_to_numpy(layer([pose, rgb]))
  np.testing.assert_allclose(out, fusion.fuse_logits(pose, rgb, 0.3),
                             rtol=1e-6)
  again = fusion.LogitFusion.from_config(layer.get_config())
  assert again.pose_weight == 0.3
  np.testing.assert_allclose(keras.ops.convert_to_numpy(again([pose, rgb])),
                             out, rtol=1e-6)


def test_models_saved_with_the_old_parameter_name_load():
  config = fusion.LogitFusion(0.2).get_config()
  config["fusion_weight"] = config.pop("pose_weight")
  assert fusion.LogitFusion.from_config(config).pose_weight == 0.2
