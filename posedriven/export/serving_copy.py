"""Serving copies of the fused model: CPU-friendly layout, lower precision.

:func:`serving_model` rebuilds a trained model from its config for serving
and copies its weights. What changes (``BUILD_NOTES.md``, "Serving speed",
has the measurements):

* **Layout** (every precision): :mod:`posedriven.export.serving_layout`
  (the LSTM's kernels transposed, the pose network's last convolution as
  one matmul; in the bfloat16 copy the attention LSTM's input product out
  of its loop, :data:`PROJECTED_INPUTS`). Same weights, same sums, summed
  in another order.
* **Precision** (``"bfloat16"``). Every layer's dtype policy becomes
  ``bfloat16``: variables *and* computation, so half the bytes are read (a
  ``mixed_bfloat16`` policy would keep float32 variables and cast them at
  every call, reading more bytes, not fewer). Kept in float32: the layers the
  model code pins to float32 (the pose classifier, both attention score
  layers and the softmaxes over hands and time) and the logit layers named in
  :data:`FLOAT32_LAYERS`, so logits and attention weights are not rounded to
  8 mantissa bits on the way out.

int8 is not offered: TensorFlow 2.21 has no int8 matmul that a Keras model
reaches on CPU outside TFLite, and Keras 3's ``quantize("int8")`` stores
int8 weights but dequantises them to the compute dtype at every call.
"""

from __future__ import annotations

import collections
import contextlib
import copy
from typing import Any

import keras
from keras import ops

from posedriven.export import serving_layout

PRECISIONS = ("float32", "bfloat16")

# Top-level layers of build_rgb_stream / build_two_stream whose outputs are
# logits: kept float32 as the pose classifier already is (model code).
FLOAT32_LAYERS = ("rgb_logits", "fusion")

# Whether a precision's copy takes the LSTM's input product out of the loop
# (serving_layout.ServingSpatialAttentionLSTM): the bfloat16 copy is the
# latency one (batch 1 at paper size, BUILD_NOTES "Serving speed": 35 ->
# ~20 ms); float32 keeps the per-step product, the faster one at batch 10
# and above, which predict and batched serving use. One path per copy: a
# cond choosing by batch size doubled the graph, and a fresh process's first
# call and SavedModel load took ~1.4 s longer.
PROJECTED_INPUTS = {"float32": False, "bfloat16": True}


def check_precision(precision: str) -> str:
  if precision not in PRECISIONS:
    raise ValueError(f"precision must be one of {PRECISIONS}, got"
                     f" {precision!r}")
  return precision


def _serving_config(config: Any, dtype: str, projected_inputs: bool) -> None:
  """Sets the serving classes and ``dtype`` policies in a serialized config."""
  if isinstance(config, dict):
    serving_layout.use_serving_class(config)
    if config.get("class_name") == (
        serving_layout.ServingSpatialAttentionLSTM.__name__):
      config["config"]["projected_inputs"] = projected_inputs
    policy = config.get("dtype")
    if (isinstance(policy, dict) and policy.get("class_name") == "DTypePolicy"
        and policy["config"].get("name") == "float32"
        and config.get("name") not in FLOAT32_LAYERS):
      policy["config"]["name"] = dtype
    for value in config.values():
      _serving_config(value, dtype, projected_inputs)
  elif isinstance(config, list):
    for value in config:
      _serving_config(value, dtype, projected_inputs)


@contextlib.contextmanager
def _orthogonal_in_float32():
  """Lets LSTMs be built in bfloat16: ``tf.linalg.qr`` has no bfloat16 kernel.

  The initial values are overwritten by :func:`serving_model` anyway.
  """
  original = keras.initializers.Orthogonal.__call__

  def call(self, shape, dtype=None):
    return ops.cast(original(self, shape, "float32"), dtype)

  keras.initializers.Orthogonal.__call__ = call
  try:
    yield
  finally:
    keras.initializers.Orthogonal.__call__ = original


def serving_model(model: keras.Model, precision: str = "float32", *,
                  projected_inputs: bool | None = None) -> keras.Model:
  """A serving copy of ``model`` (see the module docstring).

  Args:
    model: A built model of this project (``build_two_stream`` or a stream)
      with float32 weights, in the training layout.
    precision: One of :data:`PRECISIONS`.
    projected_inputs: The attention LSTM's input product out of its loop
      (``serving_layout.ServingSpatialAttentionLSTM``); default
      :data:`PROJECTED_INPUTS` of ``precision``.

  Returns:
    A new model with the same inputs and outputs and ``model``'s weights,
    re-laid out and rounded to ``precision`` (float32 layers: copied).

  Raises:
    ValueError: unknown precision, or the copy's weights do not match.
  """
  check_precision(precision)
  if projected_inputs is None:
    projected_inputs = PROJECTED_INPUTS[precision]
  config = copy.deepcopy(keras.saving.serialize_keras_object(model))
  _serving_config(config, precision, projected_inputs)
  with _orthogonal_in_float32():
    served = keras.saving.deserialize_keras_object(config, safe_mode=True)
    if not served.built:
      served.build({k: t.shape for k, t in model.input.items()})
  sources = collections.defaultdict(collections.deque)
  for weight in model.weights:
    sources[weight.path].append(weight.value)

  def take(path: str):
    if not sources[path]:
      raise ValueError(f"{model.name}: the serving copy's {path} has no"
                       " source weight")
    return sources[path].popleft()

  for weight in served.weights:
    value = serving_layout.serving_weight(weight.path, take)
    weight.assign(ops.cast(value, weight.dtype))
  left = [path for path, values in sources.items() if values]
  if left:
    raise ValueError(f"{model.name}: weights not in the serving copy: {left}")
  return served
