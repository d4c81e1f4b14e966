"""NTU RGB+D sample names, official missing-skeleton lists, directory
listing and the cross-view rule."""

from __future__ import annotations

import pytest

from posedriven.data import protocols
from posedriven.data.formats import ntu_dataset


def test_sample_name_metadata():
  s = ntu_dataset.parse_sample_name("/x/S017C003P020R002A060.skeleton")
  assert (s.setup, s.camera, s.subject, s.replication, s.action) == (
      17, 3, 20, 2, 60)
  assert s.label == 59
  assert str(s) == "S017C003P020R002A060"
  with pytest.raises(ValueError, match="not an NTU sample name"):
    ntu_dataset.parse_sample_name("clip_01.skeleton")


def test_missing_lists_shipped_and_applied(tmp_path):
  missing60 = ntu_dataset.missing_skeleton_samples(60)
  missing120 = ntu_dataset.missing_skeleton_samples(120)
  assert len(missing60) == 302 and len(missing120) == 535
  assert "S001C002P005R002A008" in missing60
  assert missing60 <= missing120
  for name in ["S001C002P005R002A008", "S001C001P001R001A001",
               "S001C001P001R001A061"]:
    (tmp_path / f"{name}.skeleton").write_text("0\n")
  kept = ntu_dataset.list_skeleton_files(tmp_path)
  assert [p.stem for p in kept] == ["S001C001P001R001A001"]
  kept120 = ntu_dataset.list_skeleton_files(tmp_path, num_actions=120,
                                            skip_missing=False)
  assert len(kept120) == 3


def test_missing_list_of_unknown_release_is_refused():
  with pytest.raises(ValueError, match=r"one of \[60, 120\], got 90"):
    ntu_dataset.missing_skeleton_samples(90)


def test_cross_view_split():
  assert [ntu_dataset.cross_view_split(c) for c in (1, 2, "3")] == [
      protocols.TEST, protocols.TRAIN, protocols.TRAIN]
  with pytest.raises(ValueError, match="camera must be 1, 2 or 3, got 4"):
    ntu_dataset.cross_view_split(4)
