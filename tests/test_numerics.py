"""The tolerance helpers against closed forms."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tests import numerics


class _Linear(tf.keras.Model):
  """``y = x W`` per row (and ``z = 2 y``), plus an output ``x`` does not
  reach."""

  def __init__(self, weights: np.ndarray):
    super().__init__()
    self.w = tf.constant(weights)

  def call(self, inputs, training=False):
    flat = tf.reshape(inputs["x"], [tf.shape(inputs["x"])[0], -1])
    y = flat @ self.w
    return {"y": y, "z": tf.reshape(2.0 * y, [-1, 2, y.shape[1] // 2]),
            "other": inputs["other"] * 3.0}


def _float32_rtol(terms: int, step_error_u: float = 0.0) -> float:
  """How far the helper's float32 bound may sit from the float64 closed
  form, relative. The Jacobian of a linear map is W, exact. Per term, the
  product with the step and its square: 3 roundings; the sum of ``terms``
  of them: ``terms - 1`` more, so the variance is within ``(terms + 2) u``;
  the square root halves that and rounds once, the factor GAUSSIAN_SIGMAS
  rounds once more. A step that differs between the two computations by
  ``step_error_u`` roundoff units moves the bound by as many."""
  return ((terms + 2) / 2 + 2 + step_error_u) * numerics.FLOAT32_UNIT_ROUNDOFF


def test_step_bound_is_the_closed_form_per_row():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(3, 2, 5)).astype(np.float16).astype(np.float32)
  w = rng.normal(size=(10, 4)).astype(np.float32)
  other = rng.normal(size=(3, 4)).astype(np.float32)
  bounds = numerics.float16_step_bound(_Linear(w), {"x": x, "other": other},
                                       "x")
  step = numerics.float16_step(x).reshape(3, 10)
  # Each row's output moves through W alone: sqrt(sum_j (W_ji step_j)^2).
  expected = numerics.GAUSSIAN_SIGMAS * np.sqrt(
      np.einsum("bj,ji->bi", step**2, w.astype(np.float64)**2))
  # float16 steps are powers of two: the same, exact, on both sides. z's
  # Jacobian 2W is exact too.
  np.testing.assert_allclose(bounds["y"], expected, rtol=_float32_rtol(10))
  np.testing.assert_allclose(bounds["z"], 2 * expected.reshape(3, 2, 2),
                             rtol=_float32_rtol(10))
  np.testing.assert_array_equal(bounds["other"], np.zeros((3, 4)))


def test_step_bound_adds_the_float32_part_to_every_step():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(2, 6)).astype(np.float16).astype(np.float32)
  w = rng.normal(size=(6, 4)).astype(np.float32)
  inputs = {"x": x, "other": np.zeros((2, 1), np.float32)}
  bounds = numerics.float16_step_bound(_Linear(w), inputs, "x",
                                       float32_relative=1e-3)
  step = numerics.float16_step(x) + 1e-3 * np.abs(x).max()
  expected = numerics.GAUSSIAN_SIGMAS * np.sqrt(
      np.einsum("bj,ji->bi", step.astype(np.float64)**2,
                w.astype(np.float64)**2))
  # Each side's step is a float32 sum of the float16 step and a rounded
  # product: up to 2 roundings each, so they may differ by 4 units.
  np.testing.assert_allclose(bounds["y"], expected,
                             rtol=_float32_rtol(6, step_error_u=4))
