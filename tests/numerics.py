"""Tolerances derived from the arithmetic a comparison crosses.

A test that compares two computations of the same thing allows for what
differs between them, and nothing tuned on one machine:

* **float32 re-ordering.** Two kernels (oneDNN's choice for another batch
  size, another CPU, a graph rewritten by Grappler) sum the same terms in
  another order. Each partial sum is rounded to float32 (unit roundoff
  ``u = 2**-24``); for a dot product of ``n`` terms the result moves by at
  most ``n u`` of the sum of the absolute terms (Higham, *Accuracy and
  Stability of Numerical Algorithms*, 3.1), and by about ``sqrt(n) u`` of it
  when the rounding errors are independent. The models' widest sums are a
  few thousand terms (2048 glimpse features, 3x3 convolutions over 300
  joint columns), so ``sqrt(n) u`` is ~3e-6 of the values' scale per layer;
  a handful of layers stays below :data:`FLOAT32_RELATIVE` = 1e-5 of the
  output's scale.
* **float16 storage.** Glimpse features are stored as float16 (10 stored
  significand bits): one rounding moves a value by at most half a step,
  and the step is at most ``2**-10`` of the value (:func:`float16_step`).
  Two float32 values that differ by a little can round to neighbouring
  float16 values, so two computations that each end in a float16 rounding
  may differ by one whole step in any element, whatever their float32
  agreement (:data:`FLOAT16_RELATIVE_STEP`).
* **float16 steps through a network.** A one-step disagreement in some of
  the features reaches an output through the network's Jacobian ``J``. The
  steps fall where a float32 value lies close to a rounding boundary, so
  their elements and signs are independent of ``J``: the change of output
  ``i`` is a sum of independent terms ``J_ij s_j step_j`` with ``s_j`` in
  {-1, 0, +1}, whose standard deviation is at most
  ``sqrt(sum_j (J_ij step_j)^2)`` (all ``s_j`` non-zero is the worst case).
  :func:`float16_step_bound` returns :data:`GAUSSIAN_SIGMAS` of those
  standard deviations per output element, computed on the very input the
  test compares (first order: a step is 2**-10 of a feature, so the
  second-order term is ~1e-3 of the first).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

FLOAT32_UNIT_ROUNDOFF = 2.0**-24
# A few layers of sums of a few thousand float32 terms (see the docstring).
FLOAT32_RELATIVE = 1e-5
# InceptionV3 is ~95 layers of sums of up to 2,880 terms (3x3x320): at
# sqrt(n) u ~ 1e-6..3e-6 of the scale per layer, independent across layers,
# the features of two kernels (another batch size, graph vs eager) agree to
# ~3e-5 of their scale; batch normalisation rescales but does not compound
# it. 1e-4 allows three times that.
INCEPTION_FLOAT32_RELATIVE = 1e-4
# float16 keeps 10 significand bits: neighbouring values are at most 2**-10
# of the value apart (exactly 2**-10 just above a power of two).
FLOAT16_RELATIVE_STEP = 2.0**-10
# A sum of many independent bounded terms is near-Gaussian; beyond 6 standard
# deviations lies ~2e-9 of it, for any of the ~150 outputs a test checks.
GAUSSIAN_SIGMAS = 6.0


def float16_step(values: np.ndarray) -> np.ndarray:
  """Distance from each value to the next float16 value away from zero."""
  magnitude = np.abs(np.asarray(values, np.float32)).astype(np.float16)
  return np.spacing(magnitude).astype(np.float32)


def float16_step_bound(model, inputs: Mapping[str, np.ndarray], key: str,
                       float32_relative: float = 0.0,
                       outputs: Sequence[str] | None = None
                       ) -> dict[str, np.ndarray]:
  """Per output element: how far one float16 step in ``inputs[key]`` moves it.

  Args:
    model: A Keras model taking the dict ``inputs`` and returning a dict of
      outputs with a leading batch axis, run in inference mode: each row of
      an output reads only the same row of the inputs (no batch statistics),
      so the rows' Jacobians are computed together (``batch_jacobian``), one
      call for any number of rows.
    inputs: The inputs the compared computations share; ``inputs[key]`` is
      the float16-rounded tensor whose elements may differ by one step.
    key: The input stored as float16.
    float32_relative: Where the two computations of ``inputs[key]`` also
      differ in float32 before the rounding (e.g. two sensors' kernels,
      :data:`INCEPTION_FLOAT32_RELATIVE`): that fraction of the input's
      scale is added to each element's step.
    outputs: The outputs to bound (each costs a Jacobian); None: all.

  Returns:
    ``{output name: bound}``, each bound of the output's shape:
    :data:`GAUSSIAN_SIGMAS` standard deviations of the output's change when
    every element of ``inputs[key]`` moves by one step in an independent
    random direction (module docstring).
  """
  watched = tf.constant(inputs[key], tf.float32)
  constants = {k: tf.constant(v) for k, v in inputs.items() if k != key}
  step = tf.constant(
      float16_step(inputs[key]) +
      np.float32(float32_relative * float(np.abs(inputs[key]).max())))[:, None]
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(watched)
    results = model({**constants, key: watched}, training=False)
  bounds = {}
  for name in results if outputs is None else outputs:
    value = results[name]
    jacobian = tape.batch_jacobian(value, watched)  # [B, *out, *in]
    if jacobian is None:  # the output does not read this input
      bounds[name] = np.zeros(value.shape, np.float32)
      continue
    flat = tf.reshape(jacobian, [value.shape[0], -1, *watched.shape[1:]])
    axes = list(range(2, len(flat.shape)))
    variance = tf.reduce_sum(tf.square(flat * step), axis=axes)
    bounds[name] = GAUSSIAN_SIGMAS * np.sqrt(
        variance.numpy()).reshape(value.shape)
  return bounds


def assert_within(actual, expected, bound, what: str) -> None:
  """``|actual - expected| <= bound`` elementwise, with the worst excess."""
  actual = np.asarray(actual, np.float64)
  expected = np.asarray(expected, np.float64)
  error = np.abs(actual - expected)
  excess = error - np.broadcast_to(bound, error.shape)
  worst = np.unravel_index(np.argmax(excess), excess.shape)
  assert excess[worst] <= 0, (
      f"{what}: |difference| {error[worst]:.3g} exceeds its bound "
      f"{np.broadcast_to(bound, error.shape)[worst]:.3g} at {worst}")
