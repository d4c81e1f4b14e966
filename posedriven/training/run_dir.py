"""The layout of run directories, and reuse-or-run over them.

One module owns the file names of a stage's output directory, the marker
that says it is finished, and the decision to reuse finished work or run
it; the stages, the demo and the benchmarks all go through it.

A training run (``train_pose``, ``train_rgb``)::

  stage.json            what the run is: stage, dataset, joint order, its
                        arguments, the layers a transfer copied
  operative_config.gin  its gin configuration (``config``)
  backup/state.json     the resume point, with ``backup/model-NNN.keras``
                        (``loop.py`` owns what is inside ``backup/`` and
                        ``checkpoints/``)
  checkpoints/          the last epochs' weights
  best.keras            the best model on validation
  tensorboard/          event files
  FINISHED.json         its summary, written last: the run is finished

An evaluation (``evaluate``)::

  logits.npz            clip-level logits per stream, names and labels
  metrics.json          the results, written last: the evaluation is done
  tensorboard/, figures

A finished run is never silently replaced (``prepare_run_dir``); an
unfinished one resumes where it stopped. Rerunning an experiment reuses
every finished run and evaluation (``reuse_or_train``,
``reuse_or_evaluate``), so an interrupted experiment is recovered by
running it again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np

from posedriven import atomic

# The marker of a finished training run (its summary).
FINISHED = "FINISHED.json"
# What a training run is (``write_stage_info``).
STAGE_FILE = "stage.json"
BEST_MODEL = "best.keras"
BACKUP_DIR = "backup"
# The loop's commit point, in BACKUP_DIR.
STATE_FILE = "state.json"
CHECKPOINTS_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"
# Clip-level logits of each stream, with clip names and labels.
LOGITS_FILE = "logits.npz"
# An evaluation's results; written last, so it marks a finished evaluation.
METRICS_FILE = "metrics.json"


class RunExistsError(atomic.OutputExistsError):
  """The output directory already holds a finished run."""

  def __init__(self, output_dir: str | os.PathLike, marker: Path):
    super().__init__(output_dir, f"a finished run ({marker})")


def prepare_run_dir(output_dir: str | os.PathLike, overwrite: bool = False,
                    chief: bool = True) -> Path:
  """Creates ``output_dir`` for a run, or resumes an unfinished one.

  A directory holding a finished run (``FINISHED.json``) is not silently
  overwritten: it raises unless ``overwrite`` is set, in which case the old
  run is deleted and the run starts from scratch. An unfinished run is
  resumed whatever ``overwrite`` says (rerunning the command is how a crash
  is recovered).

  Args:
    output_dir: The run directory.
    overwrite: Replace a finished run.
    chief: Whether this worker writes the run directory; the others only
      check it (and must wait for the chief before reading it:
      ``distribute.barrier``).

  Raises:
    RunExistsError: a finished run and no ``overwrite``.
  """
  output_dir = Path(output_dir)
  marker = output_dir / FINISHED
  if marker.exists():
    if not overwrite:
      raise RunExistsError(output_dir, marker)
    if chief:
      logging.warning("overwrite: deleting the finished run %s", output_dir)
      shutil.rmtree(output_dir)
  if chief:
    output_dir.mkdir(parents=True, exist_ok=True)
  return output_dir


def write_json(path: str | os.PathLike, value: Any, *,
               default: Callable[[Any], Any] | None = None) -> None:
  """A run directory's or an experiment's JSON file, atomically.

  Sorted keys, indent 2: the bytes the stages' and the demo's files have
  had. One process writes each of these files, so a killed write leaves
  one temporary name that the next write replaces.
  """
  atomic.write_json(path, value, indent=2, default=default,
                    per_process=False)


def mark_finished(output_dir: str | os.PathLike,
                  summary: dict[str, Any]) -> None:
  write_json(Path(output_dir) / FINISHED, summary)


def is_finished(output_dir: str | os.PathLike) -> bool:
  return (Path(output_dir) / FINISHED).exists()


def write_stage_info(output_dir: str | os.PathLike,
                     info: dict[str, Any], keep: tuple[str, ...] = ()
                     ) -> None:
  """Writes ``stage.json``.

  Args:
    output_dir: The run directory.
    info: What the run is.
    keep: Keys of an existing ``stage.json`` kept when ``info`` lacks them:
      a resumed run loads its backup and never rebuilds its model, so what
      the first build recorded (the layers a transfer copied) must survive
      the rewrite.
  """
  path = Path(output_dir) / STAGE_FILE
  if keep and path.is_file():
    previous = json.loads(path.read_text())
    info = {**{k: previous[k] for k in keep if k in previous}, **info}
  # default=str: arguments JSON has no type for (paths) as text.
  write_json(path, info, default=str)


def read_stage_info(run: str | os.PathLike) -> dict[str, Any]:
  """``stage.json`` of a training run.

  Raises:
    FileNotFoundError: naming the run, when it has no ``stage.json``.
  """
  path = Path(run) / STAGE_FILE
  if not path.is_file():
    raise FileNotFoundError(f"{run} is not a finished training run "
                            f"({STAGE_FILE} missing)")
  return json.loads(path.read_text())


def is_evaluated(eval_dir: str | os.PathLike) -> bool:
  return (Path(eval_dir) / METRICS_FILE).exists()


def prepare_eval_dir(eval_dir: str | os.PathLike,
                     overwrite: bool = False) -> Path:
  """Creates ``eval_dir`` for an evaluation.

  Raises:
    atomic.OutputExistsError: it holds an evaluation and not ``overwrite``.
  """
  eval_dir = Path(eval_dir)
  if is_evaluated(eval_dir) and not overwrite:
    raise atomic.OutputExistsError(eval_dir,
                                   f"an evaluation ({METRICS_FILE})")
  eval_dir.mkdir(parents=True, exist_ok=True)
  return eval_dir


def write_evaluation(eval_dir: str | os.PathLike, results: dict[str, Any],
                     logits: dict[str, np.ndarray]) -> None:
  """Writes the logits, then the results that mark the evaluation done."""
  eval_dir = Path(eval_dir)
  with atomic.replacing(eval_dir / LOGITS_FILE, keep_suffix=True) as tmp:
    np.savez(tmp, **logits)
  write_json(eval_dir / METRICS_FILE, results)


def read_logits(eval_dir: str | os.PathLike) -> dict[str, np.ndarray]:
  """``logits.npz`` of an evaluation: ``names``, ``labels``, each stream."""
  with np.load(Path(eval_dir) / LOGITS_FILE) as f:
    return {k: f[k] for k in f.files}


def reuse_or_train(run: str | os.PathLike, train: Callable[..., Any], /,
                   *args: Any, **kwargs: Any) -> Path:
  """``train(run, *args, **kwargs)`` unless ``run`` is a finished run.

  An unfinished run is handed to ``train``, which resumes it.

  Returns:
    ``run``, finished.
  """
  run = Path(run)
  if not is_finished(run):
    train(run, *args, **kwargs)
  return run


def reuse_or_evaluate(eval_dir: str | os.PathLike,
                      evaluate: Callable[..., dict[str, Any]], /,
                      *args: Any, **kwargs: Any
                      ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
  """The results and logits of an evaluation, run only when not done.

  Args:
    eval_dir: The evaluation directory.
    evaluate: Called as ``evaluate(eval_dir, *args, **kwargs)`` when
      ``eval_dir`` holds no ``metrics.json``; returns the results.
    *args, **kwargs: Its other arguments.

  Returns:
    The results (``metrics.json``) and the clip logits (``logits.npz``).
  """
  eval_dir = Path(eval_dir)
  if is_evaluated(eval_dir):
    results = json.loads((eval_dir / METRICS_FILE).read_text())
  else:
    results = evaluate(eval_dir, *args, **kwargs)
  return results, read_logits(eval_dir)
