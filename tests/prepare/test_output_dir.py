"""Whether a path can hold prepared data; claiming it (prepare.output_dir)."""

from __future__ import annotations

import json

import pytest

from posedriven import atomic
from posedriven.prepare import output_dir
from posedriven.prepare import sharding

SETTINGS = {"dataset": "synthetic", "protocol": "synthetic_cs",
            "store": "none"}


def test_output_dir_problem(tmp_path):
  assert output_dir.output_dir_problem(tmp_path) is None
  assert output_dir.output_dir_problem(tmp_path / "new" / "deeper") is None
  a_file = tmp_path / "data.txt"
  a_file.write_text("x")
  assert output_dir.output_dir_problem(a_file) == (
      f"output_dir {a_file} is a file, not a directory; give a directory for"
      " the prepared data (it is created if missing)")
  # mkdir would fail on the file only later, naming manifest_parts.
  assert output_dir.output_dir_problem(a_file / "new" / "out") == (
      f"output_dir {a_file / 'new' / 'out'}: {a_file} is a file, not a"
      " directory; give a directory for the prepared data")


def _part(out, name, settings):
  """A written file and its manifest part, as prepare_dataset leaves them."""
  (out / f"{name}.tfrecord").write_bytes(b"records")
  path = out / sharding.MANIFEST_PARTS / f"{name}.json"
  path.write_text(json.dumps({"file": f"{name}.tfrecord",
                              "settings": {**settings, "clips": ["c"]}}))
  return path


def test_claim_creates_the_directory(tmp_path):
  out = tmp_path / "new" / "out"
  output_dir.claim_output_dir(out, SETTINGS, overwrite=False)
  assert (out / sharding.MANIFEST_PARTS).is_dir()


def test_claim_keeps_data_of_the_same_settings(tmp_path):
  output_dir.claim_output_dir(tmp_path, SETTINGS, overwrite=False)
  part = _part(tmp_path, "train-00000-of-00001", SETTINGS)
  output_dir.claim_output_dir(tmp_path, SETTINGS, overwrite=False)
  assert part.is_file() and (tmp_path / "train-00000-of-00001.tfrecord"
                             ).is_file()


def test_claim_refuses_other_settings_unless_overwrite(tmp_path):
  output_dir.claim_output_dir(tmp_path, SETTINGS, overwrite=False)
  other = {**SETTINGS, "protocol": "synthetic_cv"}
  part = _part(tmp_path, "train-00000-of-00001", other)
  with pytest.raises(atomic.OutputExistsError) as info:
    output_dir.claim_output_dir(tmp_path, SETTINGS, overwrite=False)
  assert "protocol 'synthetic_cv' (now 'synthetic_cs')" in str(info.value)
  assert part.is_file()  # refused before touching anything
  output_dir.claim_output_dir(tmp_path, SETTINGS, overwrite=True)
  assert not part.exists()
  assert not (tmp_path / "train-00000-of-00001.tfrecord").exists()
  assert (tmp_path / sharding.MANIFEST_PARTS).is_dir()
