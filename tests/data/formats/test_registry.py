"""The dataset registry is the one list of datasets, and everything reads it."""

from __future__ import annotations

import ast
import dataclasses
import types
from pathlib import Path

import pytest

from posedriven import prepare
from posedriven.data import prepared_data
from posedriven.data import protocols
from posedriven.data.formats import msr
from posedriven.data.formats import registry
from posedriven.export import predict
from tests.conftest import REPO_ROOT
from tests.faults import corpus


def _string_constants(path: Path) -> set[str]:
  tree = ast.parse(path.read_text(), str(path))
  return {node.value for node in ast.walk(tree)
          if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_registry_is_the_only_list_of_datasets():
  """No module but the registry names two datasets: none keeps a list."""
  names = set(registry.DATASETS)
  assert names == {"ntu60", "ntu120", "sbu", "msr", "msr3d", "synthetic"}
  sources = [p for folder in ("posedriven", "tools")
             for p in sorted((REPO_ROOT / folder).rglob("*.py"))]
  assert len(sources) > 40
  listing = {}
  for path in sources:
    if path.name == "registry.py":
      continue
    named = names & _string_constants(path)
    if len(named) > 1:
      listing[str(path.relative_to(REPO_ROOT))] = sorted(named)
  assert not listing, f"dataset lists outside the registry: {listing}"


def test_every_dataset_has_classes_protocols_and_a_reader():
  for name, fmt in registry.FORMATS.items():
    assert fmt.name == name and fmt.class_names and fmt.protocols
    for protocol in fmt.protocols:
      assert registry.get_protocol(protocol.name, name) is protocol
  assert len(registry.PROTOCOLS) == sum(
      len(f.protocols) for f in registry.FORMATS.values())


def test_unknown_names_list_the_valid_ones():
  with pytest.raises(ValueError, match="unknown dataset 'kinetics'.*ntu60"):
    registry.get_format("kinetics")
  with pytest.raises(ValueError, match="of dataset 'sbu'.*sbu_fold1"):
    registry.get_protocol("ntu60_cs", "sbu")


def test_skeleton_paths_pick_their_reader(tmp_path):
  sbu_dir = tmp_path / "s01s02" / "01" / "001"
  sbu_dir.mkdir(parents=True)
  assert registry.format_of_skeleton(sbu_dir).name == "sbu"
  assert registry.format_of_skeleton(
      tmp_path / "a01_s01_e01_skeleton.txt").name == "msr"
  assert registry.format_of_skeleton(
      tmp_path / "S001C001P001R001A001.skeleton").name == "ntu60"


def test_a_new_format_is_one_registry_entry(tmp_path, monkeypatch):
  """A format added to FORMATS reaches preparation, prepared data and
  prediction, with its own classes and protocol, and nothing else changes."""
  toy_protocol = protocols.Protocol(
      "toy_all_train", "subject", "every clip trains",
      lambda subject: protocols.split(True))
  toy = dataclasses.replace(
      registry.FORMATS["msr"], name="toy", description="a toy format",
      class_names=tuple(f"toy class {i}" for i in range(16)),
      protocols=(toy_protocol,),
      is_skeleton=lambda path: path.name.endswith("_toy.txt"),
      load_clip=lambda path: msr.load_clip(
          path.with_name(path.name.replace("_toy.txt", "_skeleton.txt"))))
  formats = {"toy": toy, **registry.FORMATS}
  monkeypatch.setattr(registry, "FORMATS", types.MappingProxyType(formats))
  monkeypatch.setattr(registry, "DATASETS", tuple(sorted(formats)))
  monkeypatch.setattr(registry, "PROTOCOLS", types.MappingProxyType(
      {p.name: p for f in formats.values() for p in f.protocols}))

  root = tmp_path / "toy"
  root.mkdir()
  (root / "a02_s03_e01_skeleton.txt").write_text(corpus.msr_text())
  out = tmp_path / "prepared"
  summary = prepare.prepare_dataset(root, out, dataset="toy",
                                    protocol="toy_all_train", store="none",
                                    log_every_s=1e9, allow_empty_split=True)
  assert summary["clips"]["ok"] == 1
  data = prepared_data.load_prepared(out)
  assert data.dataset == "toy" and data.class_names == toy.class_names
  assert [c["split"] for c in data.clips("train")] == ["train"]

  alias = root / "a02_s03_e01_toy.txt"
  alias.write_text("")
  clip = predict.load_skeleton_clip(alias)
  assert clip.label == 1 and clip.num_frames > 0
  # Protocols of other formats are refused for it.
  with pytest.raises(ValueError, match="of dataset 'toy'"):
    prepare.prepare_dataset(root, tmp_path / "other", dataset="toy",
                            protocol="msr_cs", store="none")
