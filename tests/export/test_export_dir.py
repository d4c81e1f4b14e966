"""An export directory's info file, fingerprint and check before loading.

Fast: fake directories of a few bytes, and one tiny tf.Module saved for
``load_export``; the real exported model is tested in test_saved_model.py
and test_predict.py (slow).
"""

from __future__ import annotations

import hashlib
import json

import pytest
import tensorflow as tf

from posedriven.export import export_dir as export_dir_lib
from posedriven.export import saved_model


def _fake_export(root, **files):
  """A directory with ``files`` (relative path -> bytes)."""
  for name, content in files.items():
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
  return root


def _write_info(export_dir, **fields):
  info = {"format": export_dir_lib.EXPORT_FORMAT, **fields}
  (export_dir / export_dir_lib.EXPORT_INFO).write_text(json.dumps(info))
  return info


def test_fingerprint_of_one_file_is_its_path_size_and_bytes(tmp_path):
  root = _fake_export(tmp_path, **{"saved_model.pb": b"graph"})
  expected = hashlib.sha256(b"saved_model.pb\0" +
                            (5).to_bytes(8, "little") + b"graph")
  assert export_dir_lib.fingerprint(root) == expected.hexdigest()


_FILES = {"saved_model.pb": b"graph",
          "variables/variables.data-00000-of-00001": b"abcd",
          "variables/variables.index": b"wxyz",
          "assets/vocab.txt": b"a b c"}


def test_fingerprint_covers_graph_variables_and_assets_only(tmp_path):
  before = export_dir_lib.fingerprint(_fake_export(tmp_path / "a", **_FILES))
  # Elsewhere, and with files tf.saved_model.load does not read: the same.
  same = _fake_export(tmp_path / "b", **_FILES, **{
      export_dir_lib.EXPORT_INFO: b"{}", "operative_config.gin": b"x = 1"})
  assert export_dir_lib.fingerprint(same) == before
  for i, change in enumerate([{"saved_model.pb": b"grapH"},
                              {"assets/vocab.txt": b"a b d"},
                              {"variables/extra": b""}]):
    other = _fake_export(tmp_path / f"c{i}", **{**_FILES, **change})
    assert export_dir_lib.fingerprint(other) != before, change


def test_fingerprint_sees_two_files_swapped(tmp_path):
  # Same sizes, same bytes overall: only the path binding differs.
  data = tmp_path / "variables" / "variables.data-00000-of-00001"
  index = tmp_path / "variables" / "variables.index"
  _fake_export(tmp_path, **{"saved_model.pb": b"g",
                            "variables/variables.data-00000-of-00001": b"ab",
                            "variables/variables.index": b"cd"})
  before = export_dir_lib.fingerprint(tmp_path)
  data.write_bytes(b"cd")
  index.write_bytes(b"ab")
  assert export_dir_lib.fingerprint(tmp_path) != before


def test_read_export_info_refuses_another_format(tmp_path):
  info = _write_info(tmp_path, num_classes=3)
  assert export_dir_lib.read_export_info(tmp_path) == info
  _write_info(tmp_path, format="posedriven-export/0")
  with pytest.raises(ValueError, match="format 'posedriven-export/0',"
                     " expected 'posedriven-export/1'"):
    export_dir_lib.read_export_info(tmp_path)


def test_verify_export_compares_the_recorded_fingerprint(tmp_path):
  root = _fake_export(tmp_path, **{"saved_model.pb": b"graph"})
  digest = export_dir_lib.fingerprint(root)
  export_dir_lib.verify_export(root, {"fingerprint": {"sha256": digest}})
  with pytest.raises(export_dir_lib.ExportVerificationError,
                     match="records no fingerprint"):
    export_dir_lib.verify_export(root, {})
  (root / "saved_model.pb").write_bytes(b"other")
  with pytest.raises(export_dir_lib.ExportVerificationError,
                     match=f"differ from what export recorded.*{digest[:12]}"):
    export_dir_lib.verify_export(root, {"fingerprint": {"sha256": digest}})


class _Doubler(tf.Module):

  @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
  def double(self, x):
    return {"y": 2 * x}


def test_load_export_loads_only_a_verified_directory(tmp_path, monkeypatch):
  root = tmp_path / "model"
  module = _Doubler()
  tf.saved_model.save(module, str(root),
                      signatures={"double": module.double})
  recorded = {"sha256": export_dir_lib.fingerprint(root)}
  info = _write_info(root, fingerprint=recorded)
  loaded_info, loaded = export_dir_lib.load_export(root)
  assert loaded_info == info
  out = loaded.signatures["double"](x=tf.constant([1.0, 2.5]))
  assert out["y"].numpy().tolist() == [2.0, 5.0]

  with open(root / "saved_model.pb", "ab") as f:
    f.write(b"\0")
  loads = []
  monkeypatch.setattr(tf.saved_model, "load", lambda *a, **k: loads.append(a))
  with pytest.raises(export_dir_lib.ExportVerificationError):
    export_dir_lib.load_export(root)
  assert not loads  # refused before TensorFlow read the graph


def test_saved_model_keeps_the_names_it_held():
  for name in ("EXPORT_INFO", "EXPORT_FORMAT", "ExportVerificationError",
               "fingerprint", "verify_export", "load_export",
               "read_export_info"):
    assert getattr(saved_model, name) is getattr(export_dir_lib, name), name
