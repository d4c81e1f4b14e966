"""Pose-conditioned spatial attention over the hands (paper, section 3.1).

At each step t, with glimpse features ``V_t`` ``[N=4, D=2048]`` (one row per
hand, order ``skeletons.HAND_NAMES``) and pose features ``s`` ``[S=1024]``::

  p_t = softmax(f_p([h_{t-1}, s]))        eq. (3), over the N hands
  v~_t = V_t^T p_t                        eq. (4), [D]
  h_t, c_t = LSTM(v~_t, h_{t-1}, c_{t-1})  eq. (2), not conditioned on s

f_p is an MLP with one hidden layer (256 sigmoid units) and N outputs. Eq. (3)
gives f_p only ``h`` and ``s``, not the glimpses, so a hand is identified by its
slot: output i scores hand slot i (person 1 left, person 1 right, person 2
left, person 2 right). The slots mean the same thing in every clip because
the pose pipeline orders people and hands consistently, and ``s`` tells f_p
where each hand is and how it moves. A shared per-hand scorer on ``v_{t,i}``
would instead attend by appearance, which is what the paper argues against
(unconstrained attention on RGB, [33]).

Keras 3's ``keras.layers.RNN`` takes one tensor per step and has no
``constants=`` argument, so the constant ``s`` is concatenated to every step's
input: the cell's step input is ``[V_t flattened (N*D), s (S)]``. This works
with ``unroll`` either way and under XLA; the cost (a [B, S] slice per step)
is small next to the LSTM's matmuls.

The cell's output is ``[h_t, p_t]`` (``units + N``), a single tensor because
``keras.layers.RNN`` requires an integer ``output_size``;
``SpatialAttentionLSTM`` runs the cell and splits the two. The cell emits that
output in float32 and ``SpatialAttentionLSTM`` runs its ``keras.layers.RNN``
in float32, so that under ``mixed_bfloat16`` the attention weights are not
rounded to bfloat16 on the way out (``h_t`` is exact in float32; the cell
itself computes in the policy's dtype).
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
from keras import ops

CONDITIONINGS = ("pose", "hidden")

# T=20 is short and fixed: unrolled straight-line ops beat the symbolic
# while-loop for a training step, with or without XLA
# (benchmarks/rnn_recurrence.py, paper sizes, batch 64, figures in
# BUILD_NOTES.md). XLA on top (the trainers' ``jit_compile``) is faster still
# once compiled; it is a training option, on in the paper-size configs.
DEFAULT_UNROLL = True


def _check_conditioning(conditioning: str) -> str:
  if conditioning not in CONDITIONINGS:
    raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got "
                     f"{conditioning!r}")
  return conditioning


def hand_presence(glimpses):
  """``[..., N, D]`` glimpse features -> ``[..., N]`` bool: hand seen.

  An absent hand (second person missing, joint untracked, no frame) has an
  all-zero crop, which ``GlimpseSensor`` maps to an all-zero feature vector;
  a seen hand's pooled ReLU features are never all zero.
  """
  return ops.any(ops.not_equal(glimpses, 0), axis=-1)


def masked_softmax(scores, present):
  """Softmax over the last axis restricted to ``present`` entries.

  Absent entries get exactly 0. Where nothing is present the softmax is
  left unmasked (the attended input is all zeros then anyway), so weights
  always sum to 1 and never become NaN.
  """
  scores = ops.cast(scores, "float32")
  present = ops.logical_or(
      present, ops.logical_not(ops.any(present, axis=-1, keepdims=True)))
  return ops.softmax(ops.where(present, scores, -1e9), axis=-1)


def _is_shape(value) -> bool:
  return all(d is None or isinstance(d, int) for d in value)


@keras.saving.register_keras_serializable(package="posedriven")
class AttentionLSTMCell(keras.layers.Layer):
  """One step of the spatially attended LSTM.

  Args:
    units: LSTM units (paper: 1024).
    glimpse_dim: D, features per hand glimpse (paper: 2048).
    num_hands: N, attention points (paper: 4).
    attention_units: Hidden sigmoid units of f_p (paper: 256).
    conditioning: ``"pose"``: f_p sees ``[h_{t-1}, s]`` (paper); ``"hidden"``:
      f_p sees ``h_{t-1}`` only and any ``s`` in the input is ignored
      (Table 2 ablation).
    **kwargs: Base layer arguments.

  The step input is ``[B, N*D + S]``; ``S`` is inferred in ``build`` and may
  be 0 when ``conditioning="hidden"``.

  Attributes:
    lstm_cell_class: The layer of eq. (2)'s step, ``keras.layers.LSTMCell``
      (what checkpoints hold). Serving copies swap in another weight layout
      of the same step (``posedriven.export.serving_layout``).
  """

  lstm_cell_class = keras.layers.LSTMCell

  def __init__(self,
               units: int = 1024,
               glimpse_dim: int = 2048,
               num_hands: int = 4,
               attention_units: int = 256,
               conditioning: str = "pose",
               **kwargs):
    super().__init__(**kwargs)
    self.units = int(units)
    self.glimpse_dim = int(glimpse_dim)
    self.num_hands = int(num_hands)
    self.attention_units = int(attention_units)
    self.conditioning = _check_conditioning(conditioning)
    self.state_size = [self.units, self.units]
    self.output_size = self.units + self.num_hands
    self.attention_hidden = keras.layers.Dense(
        self.attention_units, activation="sigmoid", dtype=self.dtype_policy,
        name="attention_hidden")
    # float32 scores: the softmax over hands runs in float32.
    self.attention_scores = keras.layers.Dense(self.num_hands, dtype="float32",
                                               name="attention_scores")
    self.lstm = self.lstm_cell_class(self.units, dtype=self.dtype_policy,
                                     name="lstm")

  def build(self, input_shape: Sequence[int | None]) -> None:
    glimpses = self.num_hands * self.glimpse_dim
    self.pose_dim = int(input_shape[-1]) - glimpses
    min_pose_dim = 1 if self.conditioning == "pose" else 0
    if self.pose_dim < min_pose_dim:
      raise ValueError(
          f"{self.name}: step input has {input_shape[-1]} features; expected "
          f"{self.num_hands} hands x {self.glimpse_dim} glimpse features + "
          f"at least {min_pose_dim} pose features "
          f"(conditioning={self.conditioning!r})")
    query_dim = self.units + (self.pose_dim
                              if self.conditioning == "pose" else 0)
    self.attention_hidden.build((None, query_dim))
    self.attention_scores.build((None, self.attention_units))
    self.lstm.build((None, self.glimpse_dim))
    # Sublayers do not inherit a trainable=False given to __init__ (from_config
    # of a frozen layer), and re-assigning an equal `trainable` is a no-op on
    # the TF backend, so freeze them one by one.
    if not self.trainable:
      for layer in (self.attention_hidden, self.attention_scores, self.lstm):
        layer.trainable = False

  def attention(self, hidden, pose_features=None, present=None):
    """p_t (eq. 3): ``[B, units]``, ``[B, S]`` -> ``[B, N]`` float32.

    ``present`` (``[B, N]`` bool, optional) restricts the softmax to the
    hands that are seen (see :func:`hand_presence`), so attention cannot
    settle on an absent person's empty crops.
    """
    query = hidden
    if self.conditioning == "pose":
      query = ops.concatenate(
          [hidden, ops.cast(pose_features, hidden.dtype)], axis=-1)
    scores = self.attention_scores(self.attention_hidden(query))
    if present is None:
      return ops.softmax(ops.cast(scores, "float32"), axis=-1)
    return masked_softmax(scores, present)

  def call(self, inputs, states, training=None):
    """One step.

    Args:
      inputs: ``[B, N*D + S]``: flattened ``V_t`` then ``s``.
      states: ``[h_{t-1}, c_{t-1}]``, each ``[B, units]``.
      training: Passed to the LSTM cell.

    Returns:
      ``([h_t, p_t] as [B, units + N] float32, [h_t, c_t])``.
    """
    hidden, _ = states
    split = self.num_hands * self.glimpse_dim
    glimpses = ops.reshape(inputs[:, :split],
                           (-1, self.num_hands, self.glimpse_dim))
    pose_features = inputs[:, split:] if self.pose_dim else None
    weights = self.attention(hidden, pose_features, hand_presence(glimpses))
    context = ops.einsum("bn,bnd->bd", ops.cast(weights, glimpses.dtype),
                         glimpses)
    output, new_states = self.lstm(context, list(states), training=training)
    output = ops.concatenate([ops.cast(output, "float32"), weights], axis=-1)
    return output, new_states

  def get_initial_state(self, batch_size=None):
    return [
        ops.zeros((batch_size, self.units), dtype=self.compute_dtype),
        ops.zeros((batch_size, self.units), dtype=self.compute_dtype),
    ]

  def get_config(self) -> dict[str, Any]:
    config = super().get_config()
    config.update(units=self.units,
                  glimpse_dim=self.glimpse_dim,
                  num_hands=self.num_hands,
                  attention_units=self.attention_units,
                  conditioning=self.conditioning)
    return config


@keras.saving.register_keras_serializable(package="posedriven")
class SpatialAttentionLSTM(keras.layers.Layer):
  """``keras.layers.RNN`` over ``AttentionLSTMCell`` for a whole sequence.

  Args:
    units, num_hands, attention_units, conditioning: Cell sizes (see
      ``AttentionLSTMCell``); D is read from the glimpse input.
    unroll: Unroll the T-step recurrence into straight-line ops instead of a
      symbolic while-loop (see ``benchmarks/rnn_recurrence.py``).
    **kwargs: Base layer arguments.

  Attributes:
    cell_class: The step, ``AttentionLSTMCell`` (serving copies swap in a
      subclass: ``posedriven.export.serving_layout``).
  """

  cell_class = AttentionLSTMCell

  def __init__(self,
               units: int = 1024,
               num_hands: int = 4,
               attention_units: int = 256,
               conditioning: str = "pose",
               unroll: bool = DEFAULT_UNROLL,
               **kwargs):
    super().__init__(**kwargs)
    self.units = int(units)
    self.num_hands = int(num_hands)
    self.attention_units = int(attention_units)
    self.conditioning = _check_conditioning(conditioning)
    self.unroll = bool(unroll)

  def _split_inputs(self, inputs):
    # A list of tensors (or of shapes in build), or one tensor (or shape).
    if isinstance(inputs, (list, tuple)) and not _is_shape(inputs):
      glimpses, pose_features = (list(inputs) + [None])[:2]
    else:
      glimpses, pose_features = inputs, None
    if self.conditioning == "hidden":
      pose_features = None
    elif pose_features is None:
      raise ValueError(f"{self.name}: conditioning='pose' needs inputs "
                       "[glimpses, pose_features]")
    return glimpses, pose_features

  def build(self, input_shape) -> None:
    glimpses_shape, pose_shape = self._split_inputs(input_shape)
    if len(glimpses_shape) != 4 or glimpses_shape[2] != self.num_hands:
      raise ValueError(f"{self.name}: glimpses must be [B, T, "
                       f"{self.num_hands}, D], got {glimpses_shape}")
    _, time_steps, _, glimpse_dim = glimpses_shape
    pose_dim = 0 if pose_shape is None else int(pose_shape[-1])
    self.cell = self.cell_class(self.units, glimpse_dim, self.num_hands,
                                self.attention_units, self.conditioning,
                                dtype=self.dtype_policy, name="cell")
    # float32 so the RNN does not cast the cell's float32 output (which holds
    # the attention weights) down to the compute dtype; no autocast so that
    # its input reaches the cell in the compute dtype without a round trip.
    self.rnn = keras.layers.RNN(self.cell, return_sequences=True,
                                unroll=self.unroll, dtype="float32",
                                autocast=False, name="rnn")
    self.rnn.build((None, time_steps,
                    self.num_hands * glimpse_dim + pose_dim))
    # Sublayers do not inherit a trainable=False given to __init__ (from_config
    # of a frozen layer), and re-assigning an equal `trainable` is a no-op on
    # the TF backend, so freeze them one by one.
    if not self.trainable:
      self.rnn.trainable = False

  def call(self, inputs, training=None):
    """Runs the recurrence.

    Args:
      inputs: ``[glimpses [B, T, N, D], pose_features [B, S]]``, or the
        glimpses alone when ``conditioning="hidden"``.
      training: Passed to the cell.

    Returns:
      ``(hidden [B, T, units], spatial_attention [B, T, N] float32)``.
    """
    glimpses, pose_features = self._split_inputs(inputs)
    time_steps = glimpses.shape[1]
    flat = ops.reshape(glimpses,
                       (-1, time_steps, self.num_hands * glimpses.shape[-1]))
    if pose_features is not None:
      repeated = ops.repeat(ops.expand_dims(pose_features, 1), time_steps,
                            axis=1)
      flat = ops.concatenate([flat, ops.cast(repeated, flat.dtype)], axis=-1)
    outputs = self.rnn(flat, training=training)
    hidden = ops.cast(outputs[..., :self.units], self.compute_dtype)
    return hidden, outputs[..., self.units:]

  def get_config(self) -> dict[str, Any]:
    config = super().get_config()
    config.update(units=self.units,
                  num_hands=self.num_hands,
                  attention_units=self.attention_units,
                  conditioning=self.conditioning,
                  unroll=self.unroll)
    return config
