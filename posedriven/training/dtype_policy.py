"""The Keras dtype policy a training stage runs under (``mixed_precision``).

The stages take ``mixed_precision`` as a gin-bound argument; these helpers
check its value and set Keras' global dtype policy for the stage only, so a
mixed-precision run leaves the next one in float32.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import keras

# None leaves the current Keras policy as it is.
PRECISIONS = (None, "float32", "mixed_bfloat16", "mixed_float16")


def check_precision(policy: str | None) -> None:
  """Raises ValueError naming ``mixed_precision`` unless it is known."""
  if policy not in PRECISIONS:
    raise ValueError(f"mixed_precision must be one of {PRECISIONS[1:]} or "
                     f"None; got {policy!r}")


@contextlib.contextmanager
def precision(policy: str | None) -> Iterator[None]:
  """Sets the Keras dtype policy for the block, restoring the previous one."""
  check_precision(policy)
  previous = keras.config.dtype_policy()
  if policy is not None:
    keras.config.set_dtype_policy(policy)
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)
