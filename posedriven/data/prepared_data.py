"""What a prepared data directory holds: dataset, classes, splits, files."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from posedriven.data import protocols
from posedriven.data.formats import registry


# Manifest statuses whose clips are in the TFRecord files (the names of
# posedriven.prepare.sharding.WRITTEN; the data layer cannot import it).
WRITTEN_STATUSES = ("ok", "degraded")


@dataclasses.dataclass(frozen=True)
class PreparedData:
  """A directory written by ``prepare_dataset``.

  Attributes:
    data_dir: The directory.
    dataset: A ``registry.DATASETS`` name.
    class_names: One name per label.
    manifest: The parsed ``manifest.json``.
  """

  data_dir: Path
  dataset: str
  class_names: tuple[str, ...]
  manifest: dict[str, Any]

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  def pattern(self, split: str) -> str:
    """Glob of the TFRecord files of ``split`` (``train`` or ``test``)."""
    return str(self.data_dir / f"{split}-*.tfrecord")

  def clips(self, split: str, *,
            status: str | tuple[str, ...] = WRITTEN_STATUSES,
            validation: bool | None = None,
            validation_fraction: float = 0.05) -> list[dict[str, Any]]:
    """Manifest entries of a split; ``validation`` filters held-out clips.

    By default the clips whose records are in the files: ``ok`` and
    ``degraded`` (training and evaluation read both).
    """
    statuses = (status,) if isinstance(status, str) else tuple(status)
    return [c for c in self.manifest["clips"]
            if c.get("split") == split and c.get("status") in statuses and
            (validation is None or protocols.is_validation(
                c["name"], validation_fraction) == validation)]

  def training_sizes(self, validation_fraction: float = 0.05
                     ) -> tuple[int, int]:
    """Training clips ``(kept for training, held out for validation)``."""
    return (len(self.clips("train", validation=False,
                           validation_fraction=validation_fraction)),
            len(self.clips("train", validation=True,
                           validation_fraction=validation_fraction)))


def load_prepared(data_dir: str | os.PathLike) -> PreparedData:
  """Reads ``manifest.json`` of a prepared data directory.

  Raises:
    FileNotFoundError: no manifest (the directory was not prepared).
    ValueError: the preparation did not finish (some files are missing).
  """
  data_dir = Path(data_dir)
  path = data_dir / "manifest.json"
  if not path.is_file():
    raise FileNotFoundError(
        f"{data_dir} has no manifest.json; run tools/prepare_data.py first")
  manifest = json.loads(path.read_text())
  if not manifest.get("complete"):
    raise ValueError(
        f"{data_dir}: preparation is incomplete (files missing); rerun"
        " tools/prepare_data.py, it resumes where it stopped")
  dataset = (manifest.get("settings") or {}).get("dataset")
  return PreparedData(data_dir, dataset, registry.class_names(dataset),
                      manifest)
