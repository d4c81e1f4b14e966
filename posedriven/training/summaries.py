"""TensorBoard summaries of a run beyond its curves: hyper-parameters.

Every training run writes its hyper-parameters (``hp.hparams``) at the start
and the best epoch's metrics (``best/<metric>``) at the end, and every
evaluation writes the evaluated runs' hyper-parameters with its test
metrics: with ``--logdir`` above the runs, TensorBoard's HParams dashboard
lists every ablation (Table 6, Table 2's conditioning, Table 3's joint
order) with its settings and results in one table.
"""

from __future__ import annotations

from typing import Any, Mapping

import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

# Keywords that change nothing a reader compares runs by.
_NOT_HPARAMS = ("verbose", "overwrite")


def hparam_values(params: Mapping[str, Any]) -> dict[str, bool | int | float
                                                       | str]:
  """``params`` as HParams values: tuples and None become strings."""
  values = {}
  for key, value in params.items():
    if key in _NOT_HPARAMS:
      continue
    values[key] = (value if isinstance(value, (bool, int, float, str))
                   else str(value))
  return values


def write_hparams(params: Mapping[str, Any]) -> None:
  """Records ``params`` for the HParams dashboard (default writer)."""
  hp.hparams(hparam_values(params))


def write_final_metrics(metrics: Mapping[str, float], step: int,
                        prefix: str = "best") -> None:
  """``<prefix>/<metric>`` scalars: the HParams dashboard's metric columns."""
  for key, value in metrics.items():
    tf.summary.scalar(f"{prefix}/{key}", float(value), step=step)
