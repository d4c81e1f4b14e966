"""Lets Keras 3's ``fit`` run on ``MultiWorkerMirroredStrategy``; deletable.

Keras 3.15's TensorFlow trainer fails with more than one worker, twice:

* ``_maybe_symbolic_build`` (every ``fit``) averages the first distributed
  batch with ``strategy.reduce`` to learn its shapes, which cannot reduce a
  nest ("Attempt to convert a value ({'pose': PerReplica..."). Shapes need
  no reduction: :func:`build_from_local_batch` builds the model once from a
  local batch, and :func:`multi_worker_fit` skips that step.
* ``reduce_per_replica`` averages each scalar metric with
  ``strategy.reduce("MEAN", v, axis=0)`` ("Invalid reduction dimension 0 for
  input with 0 dimensions"): across workers it must be ``axis=None``.

Both patches go through private Keras API, so they are confined here: the
Keras version is checked (:func:`check_keras_version`), and
:func:`multi_worker_fit` patches only for the duration of one ``fit`` and
restores everything when it ends, however it ends. Nothing is patched on a
single worker or at import.

When ``tests/training/test_keras_compat.py::test_keras_still_has_the_bugs``
fails, the installed Keras has fixed them: delete this module and its three
uses in ``training/loop.py``.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import re
from typing import Any, Iterator

import keras
import tensorflow as tf

# Both bugs are reproduced on this version by the test above.
LAST_CHECKED_VERSION = (3, 15, 1)
# The private module patched; it has this path in every Keras 3 so far.
_TRAINER_MODULE = "keras.src.backend.tensorflow.trainer"


def parse_version(version: str) -> tuple[int, ...]:
  """``"3.15.1"`` -> ``(3, 15, 1)``; pre-release tails are dropped."""
  match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
  if match is None:
    raise ValueError(f"cannot parse the Keras version {version!r}")
  return tuple(int(part) for part in match.groups() if part is not None)


def check_keras_version(version: str | None = None) -> tuple[int, ...]:
  """Checks that the workaround fits ``version`` (default: installed Keras).

  Keras 3 is required: the patched functions are Keras 3's. A Keras 3 newer
  than :data:`LAST_CHECKED_VERSION` is patched too (a fix would make the
  patches redundant, not wrong) but logged, so that the test that tells
  whether they are still needed is run.

  Returns:
    The parsed version.

  Raises:
    RuntimeError: not Keras 3.
  """
  version = keras.__version__ if version is None else version
  parsed = parse_version(version)
  if parsed[0] != LAST_CHECKED_VERSION[0]:
    raise RuntimeError(
        f"posedriven's multi-worker training patches Keras 3's TensorFlow "
        f"trainer (checked on {_dotted(LAST_CHECKED_VERSION)}); Keras "
        f"{version} is installed: recheck posedriven/training/"
        "keras_compat.py against it")
  if parsed > LAST_CHECKED_VERSION:
    logging.warning(
        "Keras %s is newer than %s, the last version the multi-worker "
        "workaround was checked on: run tests/training/test_keras_compat.py;"
        " if test_keras_still_has_the_bugs fails, delete "
        "posedriven/training/keras_compat.py", version,
        _dotted(LAST_CHECKED_VERSION))
  return parsed


def _dotted(version: tuple[int, ...]) -> str:
  return ".".join(str(part) for part in version)


def _trainer_module() -> Any:
  check_keras_version()
  return importlib.import_module(_TRAINER_MODULE)


def build_from_local_batch(model: keras.Model,
                           strategy: tf.distribute.Strategy,
                           dataset: tf.data.Dataset) -> None:
  """Builds ``model`` (variables, optimizer, metrics) from a local batch.

  What ``fit`` would do before its first step, without the reduction that
  fails across workers. Call it once before the first
  :func:`multi_worker_fit`.

  Args:
    model: A compiled model.
    strategy: The strategy ``model`` was created under.
    dataset: Not distributed; its first batch gives the shapes.
  """
  check_keras_version()
  with strategy.scope():
    model._symbolic_build(data_batch=next(iter(dataset)))  # pylint: disable=protected-access


@contextlib.contextmanager
def multi_worker_fit(model: keras.Model) -> Iterator[None]:
  """Inside the block, ``model.fit`` works across workers.

  Patches ``model``'s ``_maybe_symbolic_build`` (to do nothing: see
  :func:`build_from_local_batch`) and Keras' ``reduce_per_replica`` (to
  average across workers with ``axis=None``), and restores both when the
  block ends. A ``fit`` traced inside keeps the patched reduction in its
  graph; one that retraces outside would hit the bug again, so every
  ``fit`` of a multi-worker run goes inside.

  Args:
    model: The model whose ``fit`` runs in the block.
  """
  trainer = _trainer_module()
  original = trainer.reduce_per_replica
  # pylint: disable=protected-access
  multi_worker = trainer._collective_all_reduce_multi_worker

  def reduce_per_replica(values, strategy, reduction):
    if reduction in ("auto", "mean") and multi_worker(strategy):
      return keras.tree.map_structure(
          lambda v: strategy.reduce("MEAN", v, axis=None)
          if isinstance(v, tf.distribute.DistributedValues) else v, values)
    return original(values, strategy, reduction)

  trainer.reduce_per_replica = reduce_per_replica
  model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
  try:
    yield
  finally:
    trainer.reduce_per_replica = original
    # The instance attribute shadowed the class's method; removing it
    # brings that back.
    del model._maybe_symbolic_build
