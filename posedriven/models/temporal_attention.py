"""Temporal attention: adaptive pooling of LSTM features (paper, section 3.2).

With hidden states ``h_t`` ``[B, T, H]``, spatial attention ``P`` ``[B, T, N]``
and pose features ``s`` ``[B, S]``::

  u_t = ReLU(W_u h_t + b_u)                          eq. (5), f_u
  p'  = softmax_t(f_p'([vec(P), s]))                 eq. (6), over the T steps
  u~  = sum_t p'_t u_t                               U x p'

f_p' is an MLP with one hidden layer (512 sigmoid units) and T outputs: it
sees the whole sub-sequence's attention maps at once, which is why the paper
can do without a bidirectional network here. f_u's width is not given in the
paper; the default 1024 keeps the LSTM's width (a square re-featurisation, no
bottleneck before the classifier) and puts f_u at 1.05M parameters, in line
with the paper's 38M total.

``pooling="mean"`` is the no-temporal-attention baseline of Table 6 (rows B,
C, E): the same f_u, uniform ``p' = 1/T``, and no f_p'.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

POOLINGS = ("attention", "mean")


@keras.saving.register_keras_serializable(package="posedriven")
class TemporalAttention(keras.layers.Layer):
  """f_u + f_p' + pooling over time.

  Args:
    feature_units: Width of f_u (u_t).
    attention_units: Hidden sigmoid units of f_p' (paper: 512).
    pooling: ``"attention"`` (paper) or ``"mean"`` (ablation).
    **kwargs: Base layer arguments.
  """

  def __init__(self,
               feature_units: int = 1024,
               attention_units: int = 512,
               pooling: str = "attention",
               **kwargs):
    super().__init__(**kwargs)
    if pooling not in POOLINGS:
      raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    self.feature_units = int(feature_units)
    self.attention_units = int(attention_units)
    self.pooling = pooling
    self.features = keras.layers.Dense(self.feature_units, activation="relu",
                                       dtype=self.dtype_policy,
                                       name="features")
    if pooling == "attention":
      self.attention_hidden = keras.layers.Dense(
          self.attention_units, activation="sigmoid", dtype=self.dtype_policy,
          name="attention_hidden")

  @staticmethod
  def _split(inputs):
    # A list of tensors (or of shapes in build), or one tensor (or shape).
    if not isinstance(inputs, (list, tuple)) or all(
        d is None or isinstance(d, int) for d in inputs):
      return inputs, None, None
    parts = list(inputs) + [None, None]
    return parts[0], parts[1], parts[2]

  def build(self, input_shape) -> None:
    hidden_shape, attention_shape, pose_shape = self._split(input_shape)
    if len(hidden_shape) != 3 or hidden_shape[1] is None:
      raise ValueError(f"{self.name}: hidden states must be [B, T, H] with a "
                       f"static T, got {hidden_shape}")
    self.features.build(tuple(hidden_shape))
    if self.pooling == "attention":
      self._build_attention(hidden_shape, attention_shape, pose_shape)
    # Sublayers do not inherit a trainable=False given to __init__ (from_config
    # of a frozen layer), and re-assigning an equal `trainable` is a no-op on
    # the TF backend, so freeze them one by one.
    if not self.trainable:
      layers = [self.features]
      if self.pooling == "attention":
        layers += [self.attention_hidden, self.attention_scores]
      for layer in layers:
        layer.trainable = False

  def _build_attention(self, hidden_shape, attention_shape, pose_shape):
    if attention_shape is None:
      raise ValueError(f"{self.name}: pooling='attention' needs inputs "
                       "[hidden, spatial_attention(, pose_features)]")
    time_steps = int(hidden_shape[1])
    query_dim = time_steps * int(attention_shape[-1])
    if pose_shape is not None:
      query_dim += int(pose_shape[-1])
    # T outputs, known only here; float32 for the softmax over time.
    self.attention_scores = keras.layers.Dense(time_steps, dtype="float32",
                                               name="attention_scores")
    self.attention_hidden.build((None, query_dim))
    self.attention_scores.build((None, self.attention_units))

  def call(self, inputs):
    """Pools the sequence.

    Args:
      inputs: ``[hidden [B, T, H], spatial_attention [B, T, N], pose_features
        [B, S]]``; ``pose_features`` may be left out (attention on ``P``
        only) and, for ``pooling="mean"``, so may everything but ``hidden``.

    Returns:
      ``(pooled u~ [B, feature_units], temporal_attention p' [B, T] float32)``.
    """
    hidden, spatial_attention, pose_features = self._split(inputs)
    features = self.features(hidden)
    time_steps = hidden.shape[1]
    if self.pooling == "mean":
      weights = ops.ones_like(ops.cast(hidden[..., 0], "float32")) / time_steps
    else:
      query = ops.reshape(spatial_attention,
                          (-1, time_steps * spatial_attention.shape[-1]))
      if pose_features is not None:
        query = ops.concatenate(
            [ops.cast(query, self.compute_dtype),
             ops.cast(pose_features, self.compute_dtype)], axis=-1)
      scores = self.attention_scores(self.attention_hidden(query))
      weights = ops.softmax(ops.cast(scores, "float32"), axis=-1)
    pooled = ops.einsum("bt,btf->bf", ops.cast(weights, features.dtype),
                        features)
    return pooled, weights

  def get_config(self) -> dict[str, Any]:
    config = super().get_config()
    config.update(feature_units=self.feature_units,
                  attention_units=self.attention_units,
                  pooling=self.pooling)
    return config
