"""The output directory of preparation: can it be one, and claiming it.

A directory that holds data prepared with other settings (dataset,
protocol, store, crop size, sensor, ``max_clips``) is refused with
``atomic.OutputExistsError`` unless ``overwrite=True``, which removes that
data first; data of the same settings is kept, so a rerun resumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from absl import logging

from posedriven import atomic
from posedriven.prepare import sharding


def output_dir_problem(output_dir: Path) -> str | None:
  """Why ``output_dir`` cannot become a directory of prepared data, or None.

  Said before any work: ``mkdir`` would only name ``manifest_parts``.
  """
  if output_dir.exists() and not output_dir.is_dir():
    return (f"output_dir {output_dir} is a file, not a directory; give a"
            " directory for the prepared data (it is created if missing)")
  parent = output_dir.parent
  while not parent.exists() and parent != parent.parent:
    parent = parent.parent
  if not parent.is_dir():
    return (f"output_dir {output_dir}: {parent} is a file, not a directory;"
            " give a directory for the prepared data")
  return None


def claim_output_dir(output_dir: Path, settings: dict[str, Any],
                     overwrite: bool) -> None:
  """Creates ``output_dir``; refuses (or with ``overwrite`` removes) data
  prepared there with other settings, before anything is written."""
  others = sharding.parts_of_other_settings(output_dir, settings)
  if others and not overwrite:
    raise atomic.OutputExistsError(
        output_dir, "data prepared with other settings: " +
        sharding.describe_difference(others[0][1], settings))
  if others:
    logging.warning("%s: removing %d files prepared with other settings"
                    " (overwrite=True)", output_dir, len(others))
    sharding.remove_parts(output_dir, [path for path, _ in others])
  (output_dir / sharding.MANIFEST_PARTS).mkdir(parents=True, exist_ok=True)
