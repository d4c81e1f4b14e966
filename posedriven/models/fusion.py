"""Logit-level fusion of the pose and RGB streams (paper, section 3.4).

One function, :func:`fuse_logits`, is the fusion everywhere: evaluation
calls it on clip-level numpy logits, :class:`LogitFusion` on tensors inside
the exported model (which prediction runs). Its one parameter is the weight
of the pose stream; the paper averages the two streams (0.5).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

PAPER_POSE_WEIGHT = 0.5


def check_pose_weight(pose_weight: float) -> float:
  """``pose_weight`` as a float in [0, 1]; anything else is a ValueError."""
  pose_weight = float(pose_weight)
  if not 0.0 <= pose_weight <= 1.0:
    raise ValueError(f"pose_weight must be in [0, 1], got {pose_weight}")
  return pose_weight


def fuse_logits(pose_logits, rgb_logits,
                pose_weight: float = PAPER_POSE_WEIGHT):
  """``pose_weight * pose_logits + (1 - pose_weight) * rgb_logits``.

  Args:
    pose_logits: ``[..., C]`` numpy array or tensor.
    rgb_logits: Same shape and type.
    pose_weight: Weight of the pose stream, in [0, 1].
  """
  pose_weight = check_pose_weight(pose_weight)
  return pose_weight * pose_logits + (1.0 - pose_weight) * rgb_logits


@keras.saving.register_keras_serializable(package="posedriven")
class LogitFusion(keras.layers.Layer):
  """:func:`fuse_logits` as a layer, computed in float32.

  Args:
    pose_weight: Weight of the pose stream (paper: 0.5).
    **kwargs: Base layer arguments.
  """

  def __init__(self, pose_weight: float = PAPER_POSE_WEIGHT, **kwargs):
    # Models saved before the parameter was renamed.
    pose_weight = kwargs.pop("fusion_weight", pose_weight)
    kwargs.setdefault("dtype", "float32")
    super().__init__(**kwargs)
    self.pose_weight = check_pose_weight(pose_weight)

  def call(self, inputs):
    """Args: inputs ``[pose_logits [B, C], rgb_logits [B, C]]``."""
    pose_logits, rgb_logits = inputs
    return fuse_logits(ops.cast(pose_logits, "float32"),
                       ops.cast(rgb_logits, "float32"), self.pose_weight)

  def get_config(self) -> dict[str, Any]:
    config = super().get_config()
    config.update(pose_weight=self.pose_weight)
    return config
