"""gin at the edges: parsing config files and bindings.

The convention: a stage's library function is its gin configurable (its
keyword defaults are the hyper-parameters); a binary defines flags, calls
:func:`parse_gin` and calls the function; the function saves the operative
config next to its outputs (:func:`save_operative_config`).
"""

from __future__ import annotations

import logging
import os
import tokenize
from pathlib import Path
from typing import Sequence

import gin

from posedriven import atomic

# Repository configs; `include 'pose/base.gin'` resolves against this folder.
GIN_CONFIG_DIR = Path(__file__).resolve().parents[1] / "gin_configs"


def _not_gin_path_search(record) -> bool:
  # gin logs each place it looks for an included file, at ERROR for every
  # place it is not (the working directory before gin_configs/): noise that
  # reads like a failure. A file found nowhere still raises.
  return not record.pathname.replace("\\", "/").endswith(
      "gin/resource_reader.py")


def parse_gin(gin_files: Sequence[str] = (),
              gin_bindings: Sequence[str] = ()) -> None:
  """Parses config files, then bindings; unknown names are errors.

  Args:
    gin_files: Paths, absolute, relative to the working directory, or
      relative to ``gin_configs/``.
    gin_bindings: ``"train_pose.batch_size = 32"`` style lines (a binary's
      shorthand flags among them: ``posedriven.binary.with_shorthands``).
  """
  if GIN_CONFIG_DIR.is_dir():
    gin.add_config_file_search_path(str(GIN_CONFIG_DIR))
  root = logging.getLogger()
  if _not_gin_path_search not in root.filters:
    root.addFilter(_not_gin_path_search)
  files = []
  for f in gin_files:
    path = Path(f)
    if not path.exists() and (GIN_CONFIG_DIR / f).exists():
      path = GIN_CONFIG_DIR / f
    if not path.exists():
      raise FileNotFoundError(f"--gin_files: {f} not found (looked in the "
                              f"working directory and {GIN_CONFIG_DIR})")
    files.append(str(path))
  # One at a time: gin's syntax errors do not say which binding is wrong.
  for path in files:
    try:
      gin.parse_config_file(path, skip_unknown=False)
    except (SyntaxError, ValueError, tokenize.TokenError) as e:
      raise ValueError(f"--gin_files={path}: {e}") from e
  for binding in gin_bindings:
    try:
      gin.parse_config(binding, skip_unknown=False)
    except (SyntaxError, ValueError, tokenize.TokenError) as e:
      raise ValueError(f"--gin_bindings={binding!r}: {e}") from e
  gin.finalize()


OPERATIVE_CONFIG = "operative_config.gin"


def save_operative_config(output_dir: str | os.PathLike,
                          filename: str = OPERATIVE_CONFIG) -> None:
  """Saves the effective gin configuration next to a stage's outputs."""
  atomic.write_text(Path(output_dir) / filename, gin.operative_config_str())
