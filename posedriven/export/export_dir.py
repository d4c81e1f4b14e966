"""An export directory: its info file, its fingerprint, and the check
before loading it.

``saved_model.export_model`` writes the directory::

  <export_dir>/saved_model.pb, variables/   (tf.saved_model.save)
  <export_dir>/export_info.json             (everything prediction needs)

Trust (README, "Trust model"): a SavedModel's graph is code (its ops can
read and write files), so :func:`load_export` loads a directory only after
checking that it is an export of this project: ``export_info.json`` of
format :data:`EXPORT_FORMAT` whose ``fingerprint`` (SHA-256 over
``saved_model.pb``, ``variables/`` and ``assets/``, written by
``saved_model.write_saved_model``) matches the files. The check catches a
directory that is not an export, and one whose graph or weights were
changed or swapped after export; it is no signature: whoever can write the
directory can rewrite ``export_info.json`` too, so a model directory must
still come from a trusted source.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import tensorflow as tf

EXPORT_INFO = "export_info.json"
EXPORT_FORMAT = "posedriven-export/1"

# What the fingerprint covers: everything tf.saved_model.load reads.
FINGERPRINTED = ("saved_model.pb", "variables", "assets")


class ExportVerificationError(ValueError):
  """A model directory is not an intact export of this project."""


def fingerprint(saved_model_dir: str | os.PathLike) -> str:
  """SHA-256 (hex) over the SavedModel's graph, variables and assets.

  Each file contributes its relative path, its size and its bytes, in path
  order, so renaming, swapping or editing any of them changes the digest.
  """
  root = Path(saved_model_dir)
  files = []
  for name in FINGERPRINTED:
    path = root / name
    if path.is_file():
      files.append(path)
    elif path.is_dir():
      files.extend(sorted(f for f in path.rglob("*") if f.is_file()))
  digest = hashlib.sha256()
  for f in files:
    digest.update(f.relative_to(root).as_posix().encode() + b"\0")
    digest.update(f.stat().st_size.to_bytes(8, "little"))
    with open(f, "rb") as data:
      for chunk in iter(lambda: data.read(1 << 20), b""):
        digest.update(chunk)
  return digest.hexdigest()


def read_export_info(export_dir: str | os.PathLike) -> dict[str, Any]:
  """``export_info.json`` of an export directory.

  Raises:
    FileNotFoundError: ``export_dir`` does not exist, or is a directory
      without ``export_info.json`` (not an export).
    NotADirectoryError: ``export_dir`` is a file.
    ValueError: ``export_info.json`` is not a JSON object, or was written by
      another format version.
  """
  export_dir = Path(export_dir)
  if not export_dir.exists():
    raise FileNotFoundError(f"export directory {export_dir} does not exist")
  if not export_dir.is_dir():
    raise NotADirectoryError(f"{export_dir} is not a directory: an export"
                             " is the directory tools/export.py writes")
  path = export_dir / EXPORT_INFO
  if not path.is_file():
    raise FileNotFoundError(f"{export_dir} is not a posedriven export"
                            f" ({EXPORT_INFO} missing); run tools/export.py")
  try:
    info = json.loads(path.read_text())
  except ValueError as e:
    raise ValueError(f"{path}: not JSON ({e})") from None
  if not isinstance(info, dict):
    raise ValueError(f"{path}: not a JSON object")
  if info.get("format") != EXPORT_FORMAT:
    raise ValueError(f"{path}: format {info.get('format')!r}, expected"
                     f" {EXPORT_FORMAT!r}")
  return info


def verify_export(export_dir: str | os.PathLike,
                  info: dict[str, Any]) -> None:
  """Checks the files against ``info["fingerprint"]`` before any loading.

  Raises:
    ExportVerificationError: no fingerprint recorded, or the files differ.
  """
  recorded = (info.get("fingerprint") or {}).get("sha256")
  if not recorded:
    raise ExportVerificationError(
        f"{export_dir}/{EXPORT_INFO} records no fingerprint: not an export"
        " of this version of posedriven; re-export it with tools/export.py")
  actual = fingerprint(export_dir)
  if actual != recorded:
    raise ExportVerificationError(
        f"{export_dir}: saved_model.pb, variables/ or assets/ differ from"
        f" what export recorded (SHA-256 {actual[:12]}..., recorded"
        f" {recorded[:12]}...); not loading it: a SavedModel is code. Re-export"
        " it with tools/export.py or get it again from a trusted source")


def load_export(export_dir: str | os.PathLike
                ) -> tuple[dict[str, Any], Any]:
  """``(export_info, tf.saved_model.load(export_dir))`` after verifying it.

  Raises:
    FileNotFoundError: not an export directory.
    ValueError: another export format version.
    ExportVerificationError: fingerprint missing or mismatched.
  """
  info = read_export_info(export_dir)
  verify_export(export_dir, info)
  return info, tf.saved_model.load(os.fspath(export_dir))
