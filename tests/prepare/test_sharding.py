"""Which clips go in which output file."""

from __future__ import annotations

from pathlib import Path

from posedriven.data.formats import registry
from posedriven.prepare import sharding


def _source(subject: int) -> registry.ClipSource:
  name = f"S001C001P{subject:03d}R001A001"
  return registry.ClipSource(name, Path(name), None, {"subject": subject})


def test_clips_outside_the_protocol_are_skipped_not_written():
  sources = [_source(s) for s in range(1, 13)]
  files, unassigned = sharding.assign_files(sources, "synthetic_cs_val",
                                            clips_per_file=2)
  by_split = {}
  for f in files:
    by_split.setdefault(f.split, []).extend(
        int(c.name[9:12]) for c in f.clips)
  assert sorted(by_split["train"]) == [1, 5, 7, 11]
  assert sorted(by_split["test"]) == [3, 9]
  skipped = {e["name"]: e for e in unassigned}
  assert sorted(int(n[9:12]) for n in skipped) == [2, 4, 6, 8, 10, 12]
  assert all(e["status"] == sharding.STATUS_SKIPPED
             and "outside protocol" in e["reason"]
             for e in skipped.values())
