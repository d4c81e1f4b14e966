"""The deprecated module posedriven.data.formats.text (remove with it)."""

from __future__ import annotations

import pytest

from posedriven.data.formats import file_guards
from posedriven.data.formats import tokenizer
from tests import helpers

# Every public name the module had, and where it lives now.
_MOVED = {
    **{name: file_guards for name in (
        "MAX_FILE_BYTES", "DENSE_BYTES_PER_FILE_BYTE", "DENSE_FLOOR_BYTES",
        "FormatError", "file_problem", "encoding_problem", "read_text",
        "check_dense_budget")},
    **{name: tokenizer for name in (
        "cast_finite", "dtype_range", "parse_int", "parse_float", "is_float",
        "Lines")}}


def test_old_name_warns_and_gives_the_same_objects(monkeypatch):
  helpers.forget_module(monkeypatch, "posedriven.data.formats.text")
  with pytest.warns(DeprecationWarning) as record:
    from posedriven.data.formats import text
  ours = [w for w in record
          if "posedriven.data.formats.text" in str(w.message)]
  assert [str(w.message) for w in ours] == [
      "posedriven.data.formats.text is deprecated; use"
      " posedriven.data.formats.file_guards or"
      " posedriven.data.formats.tokenizer"]
  assert ours[0].filename == __file__  # stacklevel: the importing line
  for name, module in _MOVED.items():
    assert getattr(text, name) is getattr(module, name), name
