"""Loading the best model of a finished training run (``best.keras``)."""

from __future__ import annotations

import logging
from pathlib import Path

import keras

# Registers the custom layers that saved models reference.
from posedriven.models import streams  # pylint: disable=unused-import
from posedriven.training import run_dir


def load_best_model(run: str | Path) -> keras.Model:
  """The model ``run`` kept as best on validation.

  Raises:
    FileNotFoundError: naming the run, when it has no ``best.keras``.
  """
  path = Path(run) / run_dir.BEST_MODEL
  if not path.is_file():
    raise FileNotFoundError(
        f"{run} has no {run_dir.BEST_MODEL}; train it first")
  logging.info("Loading %s", path)
  # safe_mode: a .keras file may not run Python code (README, "Trust model").
  return keras.models.load_model(path, safe_mode=True)
