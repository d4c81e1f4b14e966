"""Records another preparation of the same clips wrote: copied, not recomputed.

The protocols of one dataset (SBU's five folds) split the same clips in
different ways. A clip's record does not depend on the protocol (its split
is the file it goes to, not a field of the record), so a preparation of
another protocol can copy the records that a preparation with the same
record settings wrote, instead of decoding the video and running the
glimpse sensor again (``prepare_dataset(records_from=...)``). Clips that
the other directory does not hold (or holds as ``error``) are prepared as
usual; each copied clip's manifest entry names the directory it came from.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

import tensorflow as tf

from posedriven.data import tfrecords
from posedriven.prepare import sharding

# What a record's bytes depend on. The other settings (protocol,
# clips_per_file, max_clips) only decide which file a clip goes to.
RECORD_SETTINGS = ("dataset", "store", "crop_size_px", "crop_output_size",
                   "glimpse_input_size", "glimpse_weights")
RECORDS_FROM = sharding.RECORDS_FROM


class RecordReuseError(ValueError):
  """The other directory's records cannot stand for this preparation's."""


def settings_problem(source: Mapping[str, Any], settings: Mapping[str, Any]
                     ) -> str | None:
  """Why records written with ``source`` settings differ from ``settings``'s
  (each differing setting named with both values), or None."""
  differ = [f"{k} {source.get(k)!r} there, {settings.get(k)!r} here"
            for k in RECORD_SETTINGS if source.get(k) != settings.get(k)]
  if differ:
    return "prepared with other record settings: " + "; ".join(differ)
  if (settings.get("store") == tfrecords.STORE_FEATURES
      and settings.get("glimpse_weights") is None):
    # Each process draws other random weights: equal settings, other bytes.
    return ("glimpse_weights is None (a random sensor): its features differ"
            " from one process to the next; give a weights file")
  return None


def _name(record: bytes) -> str:
  example = tf.train.Example.FromString(record)
  return example.features.feature[tfrecords.NAME].bytes_list.value[0].decode(
      "utf-8")


@dataclasses.dataclass(frozen=True)
class Reused:
  """One copied clip: its record's bytes and its entry in the other
  directory's manifest."""
  record: bytes
  entry: dict[str, Any]


class RecordSource:
  """The written clips of another prepared directory, read on demand."""

  def __init__(self, source_dir: str | Path, settings: Mapping[str, Any],
               output_dir: str | Path):
    """Checks ``source_dir`` and indexes its written clips.

    Raises:
      RecordReuseError: ``source_dir`` is ``output_dir``, has no manifest,
        or was prepared with other record settings (named).
    """
    self.source_dir = Path(source_dir)
    if self.source_dir.resolve() == Path(output_dir).resolve():
      raise RecordReuseError(
          f"records_from {self.source_dir} is the output directory itself")
    path = self.source_dir / sharding.MANIFEST
    if not path.is_file():
      raise RecordReuseError(f"records_from {self.source_dir}: no"
                             f" {sharding.MANIFEST} (not a prepared"
                             " directory, or not merged yet)")
    manifest = json.loads(path.read_text())
    problem = settings_problem(manifest.get("settings") or {}, settings)
    if problem is not None:
      raise RecordReuseError(f"records_from {self.source_dir}: {problem}")
    self.entries = {
        c["name"]: c for c in manifest["clips"]
        if c["status"] in sharding.WRITTEN and c.get("file")
        and (self.source_dir / c["file"]).is_file()}

  def __contains__(self, name: str) -> bool:
    return name in self.entries

  def load(self, names: Iterable[str]) -> dict[str, Reused]:
    """The records of ``names`` that this source holds, each source file
    read once."""
    wanted = [n for n in names if n in self.entries]
    by_file: dict[str, set[str]] = {}
    for name in wanted:
      by_file.setdefault(self.entries[name]["file"], set()).add(name)
    out = {}
    for filename, names_there in sorted(by_file.items()):
      for raw in tf.data.TFRecordDataset(str(self.source_dir / filename)):
        record = raw.numpy()
        name = _name(record)
        if name in names_there:
          out[name] = Reused(record, self.entries[name])
      missing = names_there - set(out)
      if missing:
        raise RecordReuseError(
            f"records_from {self.source_dir}: {filename} lacks the records"
            f" of {sorted(missing)} that its manifest lists")
    return out

  def entry(self, reused: Reused, source: Any, split: str,
            filename: str) -> dict[str, Any]:
    """The copied clip's manifest entry in this preparation's file."""
    extra = {k: v for k, v in reused.entry.items()
             if k not in ("name", "split", "file", "status", "reason",
                          "validation", RECORDS_FROM)}
    return sharding.manifest_entry(
        source, split, filename, reused.entry["status"],
        reused.entry.get("reason", ""), **extra,
        **{RECORDS_FROM: str(self.source_dir)})
