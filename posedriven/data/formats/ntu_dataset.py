"""The NTU RGB+D releases as sets of samples: sample names, the official
lists of samples with missing skeletons, listing a skeleton directory, and
the official train/test splits.

The ``.skeleton`` file format itself is :mod:`posedriven.data.formats.ntu`.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import logging
import os
import re
from pathlib import Path
from typing import Any, Iterable

from posedriven.data import protocols

# ASCII: Python's \d and int() also take other scripts' digits.
_NAME_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})", re.ASCII)


@dataclasses.dataclass(frozen=True)
class SampleName:
  """Fields of an ``SsssCcccPpppRrrrAaaa`` sample name (all 1-based)."""

  setup: int
  camera: int
  subject: int
  replication: int
  action: int

  @property
  def label(self) -> int:
    """0-based class index."""
    return self.action - 1

  def __str__(self) -> str:
    return (f"S{self.setup:03d}C{self.camera:03d}P{self.subject:03d}"
            f"R{self.replication:03d}A{self.action:03d}")


def parse_sample_name(name: str | os.PathLike) -> SampleName:
  """Parses ``S001C002P003R002A013`` out of a file name or path.

  Raises:
    ValueError: the name has no ``SsssCcccPpppRrrrAaaa`` part.
  """
  stem = Path(name).name
  match = _NAME_RE.search(stem)
  if not match:
    raise ValueError(
        f"{stem!r} is not an NTU sample name (expected SsssCcccPpppRrrrAaaa,"
        " e.g. S001C002P003R002A013)")
  return SampleName(*(int(g) for g in match.groups()))


# The official lists of samples whose skeletons are missing or empty, by the
# number of actions of the release (NTU RGB+D: 60, NTU RGB+D 120: 120).
_MISSING_SKELETON_LISTS = {
    60: "NTU_RGBD_samples_with_missing_skeletons.txt",
    120: "NTU_RGBD120_samples_with_missing_skeletons.txt",
}


def missing_skeleton_samples(num_actions: int = 60) -> frozenset[str]:
  """The official list of samples whose skeletons are missing or empty.

  Args:
    num_actions: The release: 60 (NTU RGB+D) or 120 (NTU RGB+D 120).
  """
  if num_actions not in _MISSING_SKELETON_LISTS:
    raise ValueError(f"num_actions must be one of"
                     f" {sorted(_MISSING_SKELETON_LISTS)}, got {num_actions!r}")
  listing = (importlib.resources.files("posedriven.data.formats") /
             "resources" / _MISSING_SKELETON_LISTS[num_actions]).read_text()
  return frozenset(
      line.strip() for line in listing.splitlines() if line.strip())


def list_skeleton_files(skeleton_dir: str | os.PathLike,
                        num_actions: int = 60,
                        skip_missing: bool = True,
                        actions: Iterable[int] | None = None) -> list[Path]:
  """Sorted ``*.skeleton`` files of a dataset directory.

  Args:
    skeleton_dir: e.g. ``.../nturgb+d_skeletons``.
    num_actions: The release: 60 keeps A001-A060 only, 120 keeps all.
    skip_missing: drop the official samples with missing skeletons.
    actions: optional 1-based action ids to keep.
  """
  skeleton_dir = Path(skeleton_dir)
  if not skeleton_dir.is_dir():
    raise FileNotFoundError(f"skeleton directory {skeleton_dir} does not exist")
  files = sorted(skeleton_dir.glob("*.skeleton"))
  wanted = set(actions) if actions is not None else None
  kept, skipped = [], 0
  missing = (missing_skeleton_samples(num_actions) if skip_missing
             else frozenset())
  for f in files:
    stem = f.name.split(".")[0]
    try:
      action = parse_sample_name(stem).action
    except ValueError:
      # Not "skipped": that word is the official missing lists' (README).
      logging.warning("%s: not an NTU sample name; left out, no clip",
                      f.name)
      continue
    if action > num_actions or (wanted is not None and action not in wanted):
      continue
    if stem in missing:
      skipped += 1
      continue
    kept.append(f)
  if skip_missing:
    logging.info("%s: %d samples listed, %d skipped as missing skeletons",
                 skeleton_dir, len(kept) + skipped, skipped)
  return kept


# Official splits (Shahroudy et al. 2016; Liu et al. 2019).
NTU60_CS_TRAIN_SUBJECTS = frozenset(
    (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38))
NTU_CV_TRAIN_CAMERAS = frozenset((2, 3))
NTU_CAMERAS = frozenset((1, 2, 3))
NTU120_CSUB_TRAIN_SUBJECTS = frozenset((
    1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38,
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82,
    83, 84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103))


def cross_view_split(camera: Any) -> str:
  camera = int(camera)
  if camera not in NTU_CAMERAS:
    raise ValueError(f"NTU camera must be 1, 2 or 3, got {camera}")
  return protocols.split(camera in NTU_CV_TRAIN_CAMERAS)


NTU60_PROTOCOLS = (
    protocols.Protocol(
        "ntu60_cs", "subject",
        "NTU RGB+D cross-subject: 20 official training subjects",
        lambda s: protocols.split(int(s) in NTU60_CS_TRAIN_SUBJECTS)),
    protocols.Protocol(
        "ntu60_cv", "camera",
        "NTU RGB+D cross-view: cameras 2, 3 train, camera 1 test",
        cross_view_split),
)
NTU120_PROTOCOLS = (
    protocols.Protocol(
        "ntu120_csub", "subject",
        "NTU RGB+D 120 cross-subject: 53 official training subjects",
        lambda s: protocols.split(int(s) in NTU120_CSUB_TRAIN_SUBJECTS)),
    protocols.Protocol(
        "ntu120_cset", "setup",
        "NTU RGB+D 120 cross-setup: even setup ids train",
        lambda s: protocols.split(int(s) % 2 == 0)),
)
