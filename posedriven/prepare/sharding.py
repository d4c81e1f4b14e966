"""Sharding and the manifest: which clips go in which file, what is done.

Each split's clip list (sorted by name) is cut into files of
``clips_per_file`` clips; worker ``shard_index`` of ``num_shards`` writes the
files whose index ``k`` has ``k % num_shards == shard_index``: no
coordination is needed. Each file has a manifest part
(``manifest_parts/<file>.json``) written before the file is renamed into
place, so a file that exists always has its part; :func:`merge_manifest`
joins the parts into ``manifest.json``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from absl import logging

from posedriven import atomic
from posedriven.data import protocols
from posedriven.data.formats import registry

MANIFEST = "manifest.json"
MANIFEST_PARTS = "manifest_parts"
SPLITS = (protocols.TRAIN, protocols.TEST)
STATUS_OK = "ok"
# Written and usable, but below a quality threshold (preparer.degradation):
# counted apart so that a dataset run says how much of it is degraded.
STATUS_DEGRADED = "degraded"
STATUS_SKIPPED = "skipped"
STATUS_ERROR = "error"
STATUSES = (STATUS_OK, STATUS_DEGRADED, STATUS_SKIPPED, STATUS_ERROR)
# The statuses whose clips are in the TFRecord files.
WRITTEN = (STATUS_OK, STATUS_DEGRADED)
# A clip entry's key naming the prepared directory its record was copied
# from (record_reuse); the manifest lists those directories under it too.
RECORDS_FROM = "records_from"


@dataclasses.dataclass(frozen=True)
class FileAssignment:
  """One output file and the clips it holds."""

  split: str
  index: int
  count: int
  clips: tuple[registry.ClipSource, ...]

  @property
  def filename(self) -> str:
    return f"{self.split}-{self.index:05d}-of-{self.count:05d}.tfrecord"


def split_sources(sources: Sequence[registry.ClipSource], protocol: str
                  ) -> tuple[dict[str, list[registry.ClipSource]],
                             list[dict[str, Any]]]:
  """Each split's clips, in order, and manifest entries for clips in none
  (skipped up front, metadata the protocol rejects, outside the protocol)."""
  by_split: dict[str, list[registry.ClipSource]] = {s: [] for s in SPLITS}
  unassigned = []
  for source in sources:
    if source.skip_reason:
      unassigned.append(manifest_entry(source, None, None, STATUS_SKIPPED,
                                       source.skip_reason))
      continue
    try:
      split = registry.split_of(protocol, source.metadata)
    except ValueError as e:
      unassigned.append(
          manifest_entry(source, None, None, STATUS_ERROR, str(e)))
      continue
    if split == protocols.OUTSIDE:
      unassigned.append(manifest_entry(
          source, None, None, STATUS_SKIPPED,
          f"outside protocol {protocol!r} (in neither split)"))
      continue
    by_split[split].append(source)
  return by_split, unassigned


def split_counts(protocol: str, metadata: Iterable[Mapping[str, Any]]
                 ) -> dict[str, int]:
  """How many of ``metadata`` (one per clip) fall in each split.

  Raises:
    ValueError: metadata the protocol cannot split.
  """
  counts = dict.fromkeys(SPLITS, 0)
  for item in metadata:
    split = registry.split_of(protocol, item)
    counts[split] = counts.get(split, 0) + 1
  return counts


class EmptySplitError(ValueError):
  """A protocol leaves its training or test split without a clip."""


def check_splits(protocol: str, counts: dict[str, int], *, where: str,
                 remedy: str, unit: str = "clips") -> None:
  """Refuses split counts where ``train`` or ``test`` is 0.

  Training then has nothing to learn from, or evaluation nothing to test:
  better said before hours of sensor work than at the first epoch.

  Args:
    protocol: The protocol that made the splits.
    counts: ``{"train": n, "test": m, ...}``; other keys (e.g. clips left
      out) are reported too.
    where: What was split (the dataset root), first in the message.
    remedy: What the user can do, last in the message.
    unit: What ``counts`` count.

  Raises:
    EmptySplitError: a split is empty; the message gives every count.
  """
  empty = [s for s in SPLITS if not counts.get(s)]
  if not empty:
    return
  listed = ", ".join(f"{k} {v}" for k, v in counts.items())
  raise EmptySplitError(
      f"{where}: protocol {protocol!r} leaves the {' and '.join(empty)}"
      f" split{'s' if len(empty) > 1 else ''} empty ({unit} per split:"
      f" {listed}); {remedy}")


def assign_files(sources: Sequence[registry.ClipSource], protocol: str,
                 clips_per_file: int
                 ) -> tuple[list[FileAssignment], list[dict[str, Any]]]:
  """Cuts each split's clip list into files (deterministic, by position).

  Returns:
    The files of all splits, and manifest entries for clips that go in no
    file (skipped up front, or metadata the protocol rejects).
  """
  if clips_per_file < 1:
    raise ValueError(f"clips_per_file must be >= 1, got {clips_per_file}")
  by_split, unassigned = split_sources(sources, protocol)
  files = []
  for split in SPLITS:
    clips = by_split[split]
    count = math.ceil(len(clips) / clips_per_file)
    for k in range(count):
      files.append(FileAssignment(
          split, k, count,
          tuple(clips[k * clips_per_file:(k + 1) * clips_per_file])))
  return files, unassigned


def manifest_entry(source: registry.ClipSource, split: str | None,
                   filename: str | None, status: str, reason: str = "",
                   **extra) -> dict[str, Any]:
  """One clip's ``manifest.json`` entry."""
  entry = {"name": source.name, "split": split, "file": filename,
           "status": status, "reason": reason, "label": None,
           "skeleton_frames": None, "video_frames": None, "frames": None}
  if split == protocols.TRAIN:
    entry["validation"] = protocols.is_validation(source.name)
  entry.update(extra)
  return entry


def settings_key(settings: dict[str, Any], assignment: FileAssignment
                 ) -> dict[str, Any]:
  """What a file's content depends on: a rerun rewrites it when this differs."""
  return {**settings, "clips": [s.name for s in assignment.clips]}


def part_path(output_dir: Path, assignment: FileAssignment) -> Path:
  return output_dir / MANIFEST_PARTS / (
      assignment.filename.replace(".tfrecord", ".json"))


def is_complete(output_dir: Path, assignment: FileAssignment,
                 key: dict[str, Any]) -> bool:
  part = part_path(output_dir, assignment)
  if not (output_dir / assignment.filename).is_file() or not part.is_file():
    return False
  try:
    previous = json.loads(part.read_text())
  except ValueError:
    return False
  if previous.get("settings") != key:
    logging.warning("%s exists but was written with other settings or clips;"
                    " rewriting it", assignment.filename)
    return False
  return True


def _without_clips(settings: dict[str, Any]) -> dict[str, Any]:
  return {k: v for k, v in settings.items() if k != "clips"}


def parts_of_other_settings(output_dir: Path, settings: dict[str, Any]
                            ) -> list[tuple[Path, dict[str, Any]]]:
  """Manifest parts in ``output_dir`` written with other ``settings``.

  Returns:
    ``(part path, its settings without the clip list)`` for each part of
    another dataset, protocol, store, crop size, sensor or ``max_clips``.
  """
  found = []
  for path in sorted((output_dir / MANIFEST_PARTS).glob("*.json")):
    try:
      previous = json.loads(path.read_text()).get("settings")
    except (OSError, ValueError):
      continue  # a damaged part is rewritten like a missing one
    if previous and _without_clips(previous) != settings:
      found.append((path, _without_clips(previous)))
  return found


def describe_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
  """``protocol 'ntu60_cs' (now 'ntu60_cv'), ...`` for the keys that differ."""
  return ", ".join(f"{k} {old.get(k)!r} (now {new.get(k)!r})"
                   for k in sorted(set(old) | set(new))
                   if old.get(k) != new.get(k))


def remove_parts(output_dir: Path, parts: Sequence[Path]) -> None:
  """Removes manifest parts and the TFRecord files they describe."""
  for path in parts:
    try:
      filename = json.loads(path.read_text()).get("file")
    except (OSError, ValueError):
      filename = None
    for stale in ([output_dir / filename] if filename else []) + [path]:
      # Workers of the same run may remove the same stale file at once.
      stale.unlink(missing_ok=True)


def merge_manifest(output_dir: str | os.PathLike) -> dict[str, Any]:
  """Merges ``manifest_parts/*.json`` into ``manifest.json`` (atomically).

  Returns:
    The manifest: ``clips`` (one entry per clip, sorted by name: name, label,
    split, file, status ok/degraded/skipped/error, reason, skeleton_frames,
    video_frames, frames, validation), ``files`` per split, ``settings``,
    ``counts`` (clips per status) and ``complete`` (every expected file is
    present); with copied records, ``records_from``: the directories they
    came from.
  """
  output_dir = Path(output_dir)
  clips: dict[str, dict[str, Any]] = {}
  files: dict[str, list[str]] = {s: [] for s in SPLITS}
  expected: dict[str, int] | None = None
  settings = None
  for part_path in sorted((output_dir / MANIFEST_PARTS).glob("*.json")):
    part = json.loads(part_path.read_text())
    for entry in part["clips"]:
      clips[entry["name"]] = entry
    if "files_per_split" in part:
      expected = part["files_per_split"]
    if part.get("file") and (output_dir / part["file"]).is_file():
      files[part["split"]].append(part["file"])
    if part.get("settings"):
      settings = {k: v for k, v in part["settings"].items() if k != "clips"}
  complete = expected is not None and all(
      len(files[s]) == expected.get(s, 0) for s in SPLITS)
  manifest = {
      "settings": settings,
      "complete": complete,
      "files": {s: sorted(f) for s, f in files.items()},
      "clips": [clips[name] for name in sorted(clips)],
      "counts": {status: sum(c["status"] == status for c in clips.values())
                 for status in STATUSES},
  }
  copied_from = sorted({c[RECORDS_FROM] for c in clips.values()
                        if RECORDS_FROM in c})
  if copied_from:
    manifest[RECORDS_FROM] = copied_from
  atomic.write_json(output_dir / MANIFEST, manifest)
  return manifest
