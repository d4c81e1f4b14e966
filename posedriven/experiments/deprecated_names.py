"""The demo's gin names before experiments (``run_demo.*``), for one release.

Until the experiments runner, the demo's settings were keywords of
``run_demo``, ``run_full`` and ``select_hyperparameters``. Those names still
parse (the configurables below take any keyword) and are translated to
their new bindings with a ``DeprecationWarning``; a setting that is now part
of an experiment's declaration (its rows, its grid) is refused with the
file to edit instead.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Mapping

import gin

# run_demo keyword -> the binding that replaces it.
_RENAMED = {
    **{k: f"generate_dataset.{k}" for k in (
        "num_subjects", "cameras", "image_size", "num_frames_range",
        "replications", "uniform_appearance", "counter_object_probability",
        "paired_objects")},
    "protocol": "prepare_dataset.protocol",
    "glimpse_input_size": "prepare_dataset.glimpse_input_size",
}
# Keywords that are now part of an experiment's declaration.
_DECLARED = {
    "ablations": "the runs and rows of gin_configs/experiments/demo.gin",
    "extended_rows": "tools/demo.py --full (experiments/demo_full.gin)",
    "export": "experiment.export (experiments/demo.gin)",
    "pose_grid": "experiment.grid (experiments/demo_selection.gin)",
    "rgb_grid": "experiment.grid (experiments/demo_selection.gin)",
}
LEGACY_CONFIGURABLES = ("run_demo", "run_full", "select_hyperparameters")


@gin.configurable("run_demo")
def _run_demo(**kwargs):
  return kwargs


@gin.configurable("run_full")
def _run_full(**kwargs):
  return kwargs


@gin.configurable("select_hyperparameters")
def _select_hyperparameters(**kwargs):
  return kwargs


def translate(legacy: Mapping[str, Mapping[str, Any]]) -> list[str]:
  """New bindings for ``{configurable: {keyword: value}}`` of old names.

  Raises:
    ValueError: a keyword that an experiment now declares, naming where.
  """
  out = []
  for configurable, values in legacy.items():
    for key, value in values.items():
      old = f"{configurable}.{key}"
      if key == "overwrite":
        new = []  # --overwrite does it
      elif key in ("pose_config", "rgb_config"):
        stage = "train_pose" if key == "pose_config" else "train_rgb"
        new = [f"{stage}.{k} = {v!r}" for k, v in dict(value).items()]
      elif key == "seed":
        new = [f"experiment.seeds = [{int(value)}]"]
      elif key == "seeds":
        new = [f"experiment.seeds = {[int(s) for s in value]!r}"]
      elif key in _RENAMED:
        new = [f"{_RENAMED[key]} = {value!r}"]
      elif key in _DECLARED:
        raise ValueError(f"{old} is no longer a setting: it is declared in"
                         f" {_DECLARED[key]}")
      else:
        raise ValueError(f"{old} is not a setting (it never was)")
      message = (f"{old} is deprecated and will be removed in the next"
                 f" release; use {' and '.join(new) or '--overwrite'}")
      # Python hides DeprecationWarning outside __main__: log it too.
      logging.warning(message)
      warnings.warn(message, DeprecationWarning, stacklevel=2)
      out += new
  return out


def bound_legacy_names() -> dict[str, dict[str, Any]]:
  """The old names bound in the parsed configuration."""
  return {name: gin.get_bindings(name) for name in LEGACY_CONFIGURABLES
          if gin.get_bindings(name)}
