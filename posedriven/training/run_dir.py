"""Run directories: refuse to clobber finished runs, record the config."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from posedriven import atomic

FINISHED = "FINISHED.json"


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


def mark_finished(output_dir: str | os.PathLike, summary: dict[str, Any]) -> None:
  atomic.write_text(Path(output_dir) / FINISHED,
                    json.dumps(summary, indent=2, sort_keys=True))


def is_finished(output_dir: str | os.PathLike) -> bool:
  return (Path(output_dir) / FINISHED).exists()
