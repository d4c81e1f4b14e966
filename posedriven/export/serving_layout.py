"""The serving layout: CPU-friendly weights for batch-1 inference.

At batch 1 the fused model is bound by reading its weights: the attention
LSTM's 50 MB kernel at each of the 20 steps and the pose network's 98 MB
last kernel (once per pose network). The serving copy
(:func:`posedriven.export.serving_copy.serving_model`) stores and computes
them differently (``BUILD_NOTES.md``, "Serving speed", has the figures):

* :class:`FusedLSTMCell`: the LSTM's input and recurrent kernels as one
  transposed gate kernel ``[4 units, D + units]``, so that each step is one
  matrix-vector product over contiguous rows (1.5-2.5x faster on CPU than
  ``x @ W``'s strided columns). Its gate kernel is converted from
  ``keras.layers.LSTMCell``'s kernels by :func:`fused_gate_kernel`.
* :class:`ServingSpatialAttentionLSTM` (``projected_inputs``): the LSTM's
  input product taken out of the recurrence (once per glimpse instead of
  once per step, :class:`ProjectedLSTMCell`), so the 20 steps read only the
  recurrent kernel; faster at batch 1, slower at large batches.
* :class:`WholeMapConv2D`: the pose network's last convolution, whose kernel
  covers the whole map, as one matmul of the flattened map with the
  reshaped kernel (2x faster in float32 and 7x in bfloat16 at batch 1). Same
  weights as the ``Conv2D``.

Same weights, same sums, summed in another order. ``posedriven.models``
keeps the training layout, the one checkpoints hold; the serving classes
below subclass the model classes only to swap these two sublayers in, and
:func:`use_serving_class` points a saved config's training classes at
them. A copy is built at export time and is never trained.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import keras
from keras import ops

from posedriven.models import attention_cell
from posedriven.models import pose_cnn


@keras.saving.register_keras_serializable(package="posedriven")
class FusedLSTMCell(keras.layers.Layer):
  """``keras.layers.LSTMCell``'s step (eq. 2) on one fused gate kernel.

  Same gates (i, f, c, o) and activations (sigmoid, tanh) as ``LSTMCell``
  with its defaults; no dropout (serving only).

  Args:
    units: LSTM units.
    **kwargs: Base layer arguments.
  """

  def __init__(self, units: int, **kwargs):
    super().__init__(**kwargs)
    self.units = int(units)
    self.state_size = [self.units, self.units]
    self.output_size = self.units

  def build(self, input_shape: Sequence[int | None]) -> None:
    self.gate_kernel = self.add_weight(
        shape=(4 * self.units, int(input_shape[-1]) + self.units),
        initializer="glorot_uniform", name="gate_kernel")
    self.gate_bias = self.add_weight(shape=(4 * self.units,),
                                     initializer="zeros", name="gate_bias")

  def call(self, inputs, states, training=None):
    """One step: ``[B, D]``, ``[h, c]`` each ``[B, units]`` -> ``(h, [h, c])``."""
    del training  # no dropout
    hidden, carry = states
    inputs = ops.concatenate([inputs, ops.cast(hidden, inputs.dtype)],
                             axis=-1)
    # [4U, D+U] @ [D+U, B]: contiguous rows of the kernel per output.
    gates = ops.transpose(ops.matmul(self.gate_kernel, ops.transpose(inputs)))
    return lstm_update(gates + self.gate_bias, carry)

  def get_config(self) -> dict[str, Any]:
    config = super().get_config()
    config.update(units=self.units)
    return config


def fused_gate_kernel(kernel, recurrent_kernel):
  """``LSTMCell``'s two kernels -> :class:`FusedLSTMCell`'s gate kernel.

  Args:
    kernel: ``[D, 4 units]``.
    recurrent_kernel: ``[units, 4 units]``.

  Returns:
    ``[4 units, D + units]``. The bias is the same in both layouts.
  """
  return ops.transpose(ops.concatenate([kernel, recurrent_kernel], axis=0))


def lstm_update(gates, carry):
  """``LSTMCell``'s update from its gate pre-activations (i, f, c, o)."""
  z_i, z_f, z_c, z_o = ops.split(gates, 4, axis=-1)
  carry = (ops.sigmoid(z_f) * carry) + ops.sigmoid(z_i) * ops.tanh(z_c)
  hidden = ops.sigmoid(z_o) * ops.tanh(carry)
  return hidden, [hidden, carry]


@keras.saving.register_keras_serializable(package="posedriven")
class ProjectedLSTMCell(FusedLSTMCell):
  """:class:`FusedLSTMCell`'s step with the input part computed apart.

  The input and recurrent kernels are stored transposed and apart,
  ``[4 units, D]`` and ``[4 units, units]``, so that the input part can be
  applied to every glimpse of a sequence at once (:meth:`input_gates`, by
  :class:`ServingSpatialAttentionLSTM` with ``projected_inputs``) and each
  step reads only the recurrent kernel (:meth:`step`).

  Args:
    units: LSTM units.
    **kwargs: Base layer arguments.
  """

  def build(self, input_shape: Sequence[int | None]) -> None:
    self.input_gate_kernel = self.add_weight(
        shape=(4 * self.units, int(input_shape[-1])),
        initializer="glorot_uniform", name="input_gate_kernel")
    self.recurrent_gate_kernel = self.add_weight(
        shape=(4 * self.units, self.units), initializer="glorot_uniform",
        name="recurrent_gate_kernel")
    self.gate_bias = self.add_weight(shape=(4 * self.units,),
                                     initializer="zeros", name="gate_bias")

  def input_gates(self, inputs):
    """``x W`` of eq. 2 without bias: ``[..., D]`` -> ``[..., 4 units]``."""
    return ops.einsum("...d,gd->...g", inputs, self.input_gate_kernel)

  def step(self, input_gates, states):
    """The step from precomputed ``input_gates`` ``[B, 4 units]``."""
    hidden, carry = states
    # [4U, U] @ [U, B]: contiguous kernel rows per output (batch 1).
    gates = input_gates + ops.transpose(ops.matmul(
        self.recurrent_gate_kernel,
        ops.transpose(ops.cast(hidden, input_gates.dtype))))
    return lstm_update(gates + self.gate_bias, carry)

  def call(self, inputs, states, training=None):
    """One step: ``[B, D]``, ``[h, c]`` each ``[B, units]`` -> ``(h, [h, c])``."""
    del training  # no dropout
    return self.step(self.input_gates(inputs), states)


@keras.saving.register_keras_serializable(package="posedriven")
class WholeMapConv2D(keras.layers.Conv2D):
  """A 'valid' ``Conv2D`` whose kernel covers its whole input, as a matmul.

  Output ``[B, 1, 1, filters]`` as the convolution's; same weights.
  """

  def build(self, input_shape: Sequence[int | None]) -> None:
    if (tuple(input_shape[1:3]) != tuple(self.kernel_size) or
        self.padding != "valid" or self.strides != (1, 1) or
        self.data_format != "channels_last"):
      raise ValueError(
          f"{self.name}: WholeMapConv2D needs a 'valid', stride-1, "
          f"channels-last kernel covering the input; got kernel "
          f"{self.kernel_size} on input {input_shape}")
    super().build(input_shape)

  def call(self, inputs):
    # HWIO kernel -> [H*W*I, O]: the flattened NHWC map's order.
    x = ops.matmul(ops.reshape(inputs, (-1, math.prod(inputs.shape[1:]))),
                   ops.reshape(self.kernel, (-1, self.filters)))
    if self.use_bias:
      x = x + self.bias
    return ops.reshape(self.activation(x), (-1, 1, 1, self.filters))


@keras.saving.register_keras_serializable(package="posedriven")
class ServingAttentionLSTMCell(attention_cell.AttentionLSTMCell):
  """``AttentionLSTMCell`` with :class:`FusedLSTMCell` as its LSTM."""

  lstm_cell_class = FusedLSTMCell


@keras.saving.register_keras_serializable(package="posedriven")
class ProjectedAttentionLSTMCell(attention_cell.AttentionLSTMCell):
  """``AttentionLSTMCell`` with :class:`ProjectedLSTMCell` as its LSTM."""

  lstm_cell_class = ProjectedLSTMCell


@keras.saving.register_keras_serializable(package="posedriven")
class ServingSpatialAttentionLSTM(attention_cell.SpatialAttentionLSTM):
  """``SpatialAttentionLSTM`` over :class:`ServingAttentionLSTMCell`.

  The recurrence is unrolled here rather than run by ``keras.layers.RNN``,
  so that the LSTM's input product can leave the loop
  (``projected_inputs``): the step's input is the attended context
  ``sum_n p_n v_n`` (eq. 1), and ``W (sum_n p_n v_n) = sum_n p_n (W v_n)``,
  so ``W v_n`` of every hand and step is one matmul before the loop (``T N``
  columns: arithmetic near the matmul peak) and each step reads only the
  recurrent kernel. That is ``N`` times the input product's arithmetic,
  which pays at batch 1 (the input kernel is read once instead of ``T``
  times) and not at large batches, where the products are arithmetic-bound
  already. Measured in ``BUILD_NOTES.md`` ("Serving speed").

  Args:
    projected_inputs: Take the input product out of the loop.
    *args, **kwargs: As ``SpatialAttentionLSTM``.
  """

  cell_class = ServingAttentionLSTMCell

  def __init__(self, *args, projected_inputs: bool = False, **kwargs):
    super().__init__(*args, **kwargs)
    self.projected_inputs = bool(projected_inputs)
    if self.projected_inputs:
      self.cell_class = ProjectedAttentionLSTMCell

  def call(self, inputs, training=None):
    del training  # serving only
    glimpses, pose_features = self._split_inputs(inputs)
    if pose_features is not None:
      pose_features = ops.cast(pose_features, glimpses.dtype)
    return self._recurrence(glimpses, pose_features, self.projected_inputs)

  def get_config(self) -> dict[str, Any]:
    config = super().get_config()
    config.update(projected_inputs=self.projected_inputs)
    return config

  def _recurrence(self, glimpses, pose_features, projected: bool):
    """``(hidden [B, T, units], spatial_attention [B, T, N] float32)``."""
    cell, lstm = self.cell, self.cell.lstm
    present = attention_cell.hand_presence(glimpses)
    if projected:
      hand_gates = lstm.input_gates(glimpses)  # [B, T, N, 4 units]
    states = cell.get_initial_state(ops.shape(glimpses)[0])
    hidden, attention = [], []
    for t in range(glimpses.shape[1]):
      weights = cell.attention(states[0], pose_features, present[:, t])
      mix = ops.cast(weights, glimpses.dtype)
      if projected:
        output, states = lstm.step(
            ops.einsum("bn,bng->bg", mix, hand_gates[:, t]), states)
      else:
        output, states = lstm(ops.einsum("bn,bnd->bd", mix, glimpses[:, t]),
                              states)
      hidden.append(output)
      attention.append(weights)
    return (ops.cast(ops.stack(hidden, axis=1), self.compute_dtype),
            ops.stack(attention, axis=1))


@keras.saving.register_keras_serializable(package="posedriven")
class ServingPoseConvNet(pose_cnn.PoseConvNet):
  """``PoseConvNet`` with its last convolution as :class:`WholeMapConv2D`."""

  head_class = WholeMapConv2D


@keras.saving.register_keras_serializable(package="posedriven")
class ServingPoseClassifier(pose_cnn.PoseClassifier):
  """``PoseClassifier`` over :class:`ServingPoseConvNet`."""

  pose_network_class = ServingPoseConvNet


# Training class -> serving class, by registered name (as in a saved config).
# Only classes that appear in a config are mapped: the others are created by
# their parents (a cell by its recurrent layer, f_sk by its classifier).
_SERVING_CLASSES = {
    keras.saving.get_registered_name(training): serving
    for training, serving in (
        (pose_cnn.PoseConvNet, ServingPoseConvNet),
        (pose_cnn.PoseClassifier, ServingPoseClassifier),
        (attention_cell.SpatialAttentionLSTM, ServingSpatialAttentionLSTM),
    )
}


def use_serving_class(config: dict[str, Any]) -> None:
  """Points one node of a serialized config at its serving class, if any.

  The config is edited rather than deserialized under a
  ``custom_object_scope``: Keras 3.15 lets registered classes override the
  scope's in nested configs.
  """
  serving = _SERVING_CLASSES.get(config.get("registered_name"))
  if serving is not None:
    config.update(class_name=serving.__name__, module=serving.__module__,
                  registered_name=keras.saving.get_registered_name(serving))


def serving_weight(path: str, take: Callable[[str], Any]) -> Any:
  """The value of the serving copy's weight ``path``, from training weights.

  Args:
    path: A weight path of the serving copy
      (``.../cell/lstm/input_gate_kernel``).
    take: Training weight path -> its value; each is taken once.
  """
  layer, _, name = path.rpartition("/")
  if name == "gate_kernel":  # FusedLSTMCell
    return fused_gate_kernel(take(f"{layer}/kernel"),
                             take(f"{layer}/recurrent_kernel"))
  if name == "input_gate_kernel":  # ProjectedLSTMCell
    return ops.transpose(take(f"{layer}/kernel"))
  if name == "recurrent_gate_kernel":
    return ops.transpose(take(f"{layer}/recurrent_kernel"))
  if name == "gate_bias":
    return take(f"{layer}/bias")
  return take(path)
