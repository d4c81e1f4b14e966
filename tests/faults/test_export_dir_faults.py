"""``predict --model=`` given something that is not an export says what it is.

Checked by ``predict_clip`` (what ``tools/predict.py`` calls) before the
skeleton, the video or TensorFlow's loader is touched: the skeleton path
here does not exist either, and the model's error must come first.
"""

from __future__ import annotations

import pytest

from posedriven.export import predict
from posedriven.export import export_dir as export_dir_lib


def _model(tmp_path, kind: str):
  path = tmp_path / "export"
  if kind == "file":
    path.write_text("not an export\n")
  elif kind != "missing":
    path.mkdir()
    if kind != "empty_dir":
      (path / export_dir_lib.EXPORT_INFO).write_text(
          {"not_json": '{"format": ', "json_list": "[1, 2]\n"}[kind])
  return path


@pytest.mark.parametrize("kind,error,words", [
    ("missing", FileNotFoundError, "does not exist"),
    ("file", NotADirectoryError, "is not a directory"),
    ("empty_dir", FileNotFoundError, "export_info.json missing"),
    ("not_json", ValueError, "export_info.json: not JSON"),
    ("json_list", ValueError, "export_info.json: not a JSON object"),
])
def test_model_that_is_not_an_export_says_what_it_is(tmp_path, kind, error,
                                                     words):
  model = _model(tmp_path, kind)
  with pytest.raises(error) as info:
    predict.predict_clip(model, tmp_path / "S001C001P001R001A001.skeleton")
  message = str(info.value)
  assert str(model) in message and words in message, message
  if kind == "missing":
    # Not "has no export_info.json": there is no directory to look in.
    assert export_dir_lib.EXPORT_INFO not in message, message
