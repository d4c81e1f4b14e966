"""The Keras dtype policy of a training stage (``mixed_precision``)."""

from __future__ import annotations

import keras
import pytest

from posedriven.training import dtype_policy


def _policy() -> str:
  return keras.config.dtype_policy().name


def test_known_policies_pass_and_others_name_the_argument():
  for policy in dtype_policy.PRECISIONS:
    dtype_policy.check_precision(policy)
  with pytest.raises(ValueError, match="mixed_precision must be one of"
                     r" \('float32', 'mixed_bfloat16', 'mixed_float16'\) or"
                     " None; got 'float16'"):
    dtype_policy.check_precision("float16")


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_policy_holds_inside_the_block_only(policy):
  before = _policy()
  with dtype_policy.precision(policy):
    assert _policy() == policy
    assert keras.layers.Dense(2).compute_dtype == policy.split("_")[1]
  assert _policy() == before


def test_previous_policy_comes_back_after_an_error():
  before = _policy()
  with pytest.raises(RuntimeError, match="inside"):
    with dtype_policy.precision("mixed_bfloat16"):
      raise RuntimeError("inside")
  assert _policy() == before


def test_none_leaves_the_current_policy():
  with dtype_policy.precision("mixed_float16"):
    with dtype_policy.precision(None):
      assert _policy() == "mixed_float16"
    assert _policy() == "mixed_float16"


def test_unknown_policy_changes_nothing():
  before = _policy()
  with pytest.raises(ValueError, match="mixed_precision"):
    with dtype_policy.precision("bfloat16"):
      pass
  assert _policy() == before
