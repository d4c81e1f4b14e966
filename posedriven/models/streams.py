"""The pose stream, the RGB stream, their fusion (paper, sections 3 and 4).

Every model takes a dict of inputs and returns a dict of outputs:

* pose stream (``build_pose_stream``): ``{"pose": [B, T, W, 3]}`` ->
  ``{"logits": [B, C]}``.
* RGB stream (``build_rgb_stream``): ``{"pose": [B, T, W, 3], "glimpses":
  [B, T, N, D]}`` -> ``{"logits": [B, C], "spatial_attention": [B, T, N],
  "temporal_attention": [B, T]}``. Variants without an attention emit uniform
  weights so that all variants share one signature; variants that do not use
  pose still accept (and ignore) ``"pose"``.
* two-stream (``build_two_stream``): the RGB stream's inputs -> its outputs
  with fused ``"logits"`` plus ``"pose_logits"`` and ``"rgb_logits"``.

Logits, softmaxes and attention weights are float32 under a mixed policy.

The paper's order of training (section 3.4)::

  pose_model = build_pose_stream(60)                       # train it first
  rgb_model = build_rgb_stream(60, pose_network=pose_model.pose_network)
  # rgb_model holds a frozen copy of the trained f_sk; train it, then
  model = build_two_stream(pose_model, rgb_model)

The RGB stream copies f_sk rather than sharing the instance: a layer shared
by two nested models is saved once but loaded twice by Keras 3 (the second
copy then finds no weights and ``load_model`` fails), and a copy leaves the
pose stream trainable.

The Table 6 rows are configurations of ``build_rgb_stream`` (``ABLATIONS``);
the two-stream rows are ``build_two_stream(pose_stream, rgb_stream)`` with
A = the pose stream: H = A+B, I = A+E, K = A+G. Table 2's "not conditional to
pose" is ``conditioning="hidden"``.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import keras
from keras import ops

from posedriven.models import fusion
from posedriven.models.attention_cell import DEFAULT_UNROLL
from posedriven.models.attention_cell import SpatialAttentionLSTM
from posedriven.models.pose_cnn import PoseClassifier, PoseConvNet
from posedriven.models.temporal_attention import TemporalAttention

INTEGRATIONS = ("attention", "sum", "concat")
TEMPORAL_POOLINGS = ("attention", "mean")
# The RGB stream's output layer: the one layer a transfer to another class
# list re-initialises, and the one "no fine-tuning" trains.
RGB_CLASS_LAYER = "rgb_logits"

# Table 6, RGB-only rows, as build_rgb_stream keyword arguments.
ABLATIONS: dict[str, dict[str, str]] = {
    "B": {"integration": "sum", "temporal": "mean"},
    "C": {"integration": "concat", "temporal": "mean"},
    "E": {"integration": "attention", "temporal": "mean"},
    "G": {"integration": "attention", "temporal": "attention"},
}



@keras.saving.register_keras_serializable(package="posedriven")
class IntegrateHands(keras.layers.Layer):
  """Attention-free integration of the hands' glimpses (Table 6, B and C).

  Args:
    mode: ``"sum"`` over hands (``[B, T, D]``) or ``"concat"`` (``[B, T,
      N*D]``).
    **kwargs: Base layer arguments.
  """

  def __init__(self, mode: str = "sum", **kwargs):
    super().__init__(**kwargs)
    if mode not in ("sum", "concat"):
      raise ValueError(f"mode must be 'sum' or 'concat', got {mode!r}")
    self.mode = mode

  def call(self, glimpses):
    """Args: glimpses ``[B, T, N, D]``.

    Returns: ``(context [B, T, D or N*D], spatial_attention [B, T, N])``, the
    latter uniform (1/N) float32.
    """
    _, time_steps, num_hands, dim = glimpses.shape
    if self.mode == "sum":
      context = ops.sum(glimpses, axis=2)
    else:
      context = ops.reshape(glimpses, (-1, time_steps, num_hands * dim))
    uniform = ops.ones_like(ops.cast(glimpses[..., 0], "float32")) / num_hands
    return context, uniform

  def get_config(self) -> dict[str, Any]:
    config = super().get_config()
    config.update(mode=self.mode)
    return config


def build_pose_stream(num_classes: int,
                      input_width: int = 300,
                      *,
                      num_steps: int = 20,
                      filters: Sequence[int] = (64, 64),
                      kernel_size: Sequence[int] = (8, 3),
                      features: int = 1024,
                      dropout: float = 0.5,
                      name: str = "pose_stream") -> PoseClassifier:
  """The pose stream f_sk + dropout + linear, built for ``[B, T, W, 3]``.

  Args:
    num_classes: Activity classes.
    input_width: W, pose tensor columns (300 NTU, 180 SBU, 240 MSR).
    num_steps: T, frames per sub-sequence.
    filters, kernel_size, features, dropout: see ``PoseClassifier``.
    name: Model name.

  Returns:
    A built ``PoseClassifier``; ``.pose_network`` is f_sk.
  """
  model = PoseClassifier(num_classes, filters=filters, kernel_size=kernel_size,
                         features=features, dropout=dropout, name=name)
  model.build({"pose": (None, num_steps, input_width, 3)})
  return model


def _pose_input_shape(pose_network: PoseConvNet | None, num_steps: int,
                      pose_width: int) -> tuple[int, int, int]:
  if pose_network is not None and pose_network.built:
    return tuple(pose_network.input_spec.shape[1:])
  return (num_steps, pose_width, 3)


def _frozen_copy(pose_network: PoseConvNet,
                 input_shape: Sequence[int | None]) -> PoseConvNet:
  copy = PoseConvNet.from_config(pose_network.get_config())
  copy.build(input_shape)
  if pose_network.built:
    copy.set_weights(pose_network.get_weights())
  # After build: sublayers made in build would not see an earlier flag.
  copy.trainable = False
  return copy


def build_rgb_stream(num_classes: int,
                     *,
                     pose_network: PoseConvNet | None = None,
                     integration: str = "attention",
                     temporal: str = "attention",
                     conditioning: str = "pose",
                     dropout: float = 0.5,
                     lstm_units: int = 1024,
                     glimpse_dim: int = 2048,
                     num_steps: int = 20,
                     num_hands: int = 4,
                     pose_width: int = 300,
                     spatial_attention_units: int = 256,
                     temporal_attention_units: int = 512,
                     feature_units: int = 1024,
                     unroll: bool = DEFAULT_UNROLL,
                     name: str = "rgb_stream") -> keras.Model:
  """The RGB stream (paper, sections 3.1 and 3.2) or one of its ablations.

  Args:
    num_classes: Activity classes.
    pose_network: Trained f_sk giving ``s``. The stream holds a frozen copy
      (same config and weights, ``trainable=False``); the instance passed is
      left untouched. Needed when ``s`` is used (``conditioning="pose"`` with
      an attention); ignored otherwise.
    integration: Hands -> LSTM input: ``"attention"`` (eq. 3-4), ``"sum"`` or
      ``"concat"`` (Table 6, B and C; a plain LSTM then runs on the result).
    temporal: ``"attention"`` (eq. 5-6) or ``"mean"`` pooling over time.
    conditioning: ``"pose"``: attentions see ``s``; ``"hidden"``: the spatial
      attention sees ``h_{t-1}`` only and the temporal attention ``P`` only
      (Table 2).
    dropout: Rate on the pooled features before the output layer.
    lstm_units: LSTM width (paper: 1024).
    glimpse_dim: D, glimpse features per hand (paper: 2048, Inception V3).
    num_steps: T (paper: 20).
    num_hands: N (paper: 4).
    pose_width: W of the ``"pose"`` input when ``pose_network`` is unbuilt or
      None; a built pose network fixes it.
    spatial_attention_units: Hidden units of f_p (paper: 256).
    temporal_attention_units: Hidden units of f_p' (paper: 512).
    feature_units: Width of f_u.
    unroll: Unroll the recurrence (see ``benchmarks/rnn_recurrence.py``).
    name: Model name.

  Returns:
    A functional ``keras.Model`` (see module docstring for its signature).
  """
  if integration not in INTEGRATIONS:
    raise ValueError(f"integration must be one of {INTEGRATIONS}, got "
                     f"{integration!r}")
  if temporal not in TEMPORAL_POOLINGS:
    raise ValueError(f"temporal must be one of {TEMPORAL_POOLINGS}, got "
                     f"{temporal!r}")
  if conditioning not in ("pose", "hidden"):
    raise ValueError(f"conditioning must be 'pose' or 'hidden', got "
                     f"{conditioning!r}")
  uses_pose = conditioning == "pose" and (integration == "attention" or
                                          temporal == "attention")
  if uses_pose and pose_network is None:
    raise ValueError(
        f"build_rgb_stream(integration={integration!r}, temporal={temporal!r}"
        ", conditioning='pose') needs the pose network for s; pass "
        "pose_network= or use conditioning='hidden'")
  if pose_network is not None and not uses_pose:
    logging.info("build_rgb_stream(%s, %s, %s): pose network not used",
                 integration, temporal, conditioning)

  pose = keras.Input(_pose_input_shape(pose_network, num_steps, pose_width),
                     name="pose")
  glimpses = keras.Input((num_steps, num_hands, glimpse_dim), name="glimpses")
  pose_features = None
  if uses_pose:
    frozen = _frozen_copy(pose_network, pose.shape)
    # training=False: f_sk is a fixed feature extractor in this stream.
    pose_features = frozen(pose, training=False)

  if integration == "attention":
    recurrence = SpatialAttentionLSTM(lstm_units, num_hands,
                                      spatial_attention_units, conditioning,
                                      unroll=unroll,
                                      name="spatial_attention_lstm")
    hidden, spatial_attention = recurrence(
        [glimpses] if pose_features is None else [glimpses, pose_features])
  else:
    context, spatial_attention = IntegrateHands(
        integration, name="integrate_hands")(glimpses)
    hidden = keras.layers.LSTM(lstm_units, return_sequences=True,
                               unroll=unroll, name="lstm")(context)

  pooling = TemporalAttention(feature_units, temporal_attention_units,
                              pooling=temporal, name="temporal_attention")
  pooling_inputs = [hidden, spatial_attention]
  if pose_features is not None:
    pooling_inputs.append(pose_features)
  pooled, temporal_attention = pooling(pooling_inputs)
  pooled = keras.layers.Dropout(dropout, name="dropout")(pooled)
  logits = keras.layers.Dense(num_classes, dtype="float32",
                              name=RGB_CLASS_LAYER)(pooled)
  return keras.Model(
      inputs={"pose": pose, "glimpses": glimpses},
      outputs={"logits": logits,
               "spatial_attention": spatial_attention,
               "temporal_attention": temporal_attention},
      name=name)


def build_two_stream(pose_model: keras.Model,
                     rgb_model: keras.Model,
                     *,
                     pose_weight: float = fusion.PAPER_POSE_WEIGHT,
                     name: str = "two_stream") -> keras.Model:
  """Fuses a pose stream and an RGB stream at logit level (section 3.4).

  Args:
    pose_model: ``{"pose"} -> {"logits"}`` (``build_pose_stream``).
    rgb_model: An RGB stream (``build_rgb_stream``).
    pose_weight: Weight of the pose logits; the RGB logits get
      ``1 - pose_weight``. 0.5 is the paper's average
      (:func:`fusion.fuse_logits`).
    name: Model name.

  Returns:
    A model with ``rgb_model``'s inputs and outputs ``{"logits" (fused),
    "pose_logits", "rgb_logits", "spatial_attention",
    "temporal_attention"}``.
  """
  inputs = {
      key: keras.Input(tensor.shape[1:], dtype=tensor.dtype, name=key)
      for key, tensor in rgb_model.input.items()
  }
  pose_logits = pose_model({"pose": inputs["pose"]})["logits"]
  rgb_outputs = rgb_model(inputs)
  logits = fusion.LogitFusion(pose_weight, name="fusion")(
      [pose_logits, rgb_outputs["logits"]])
  return keras.Model(
      inputs=inputs,
      outputs={"logits": logits,
               "pose_logits": pose_logits,
               "rgb_logits": rgb_outputs["logits"],
               "spatial_attention": rgb_outputs["spatial_attention"],
               "temporal_attention": rgb_outputs["temporal_attention"]},
      name=name)
