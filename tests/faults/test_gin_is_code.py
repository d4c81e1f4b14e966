"""Gin files and bindings are code (README, "Trust model").

This documents what the README says rather than guarding against it: an
``import`` line in a gin file or a ``--gin_bindings`` value imports any
module on the path, running its top-level code in the binary's process, as
``config.parse_gin`` (what every binary calls) parses it. If a later
version restricts imports, this test fails and the README must change.
"""

from __future__ import annotations

import sys

import pytest

from posedriven import config

_PROBE = "gin_import_probe_of_issue_25"


@pytest.mark.parametrize("where", ["gin_file", "gin_binding"])
def test_import_line_runs_the_imported_modules_code(tmp_path, monkeypatch,
                                                    where):
  # Importing it leaves a file behind: proof that its code ran.
  (tmp_path / f"{_PROBE}.py").write_text(
      "from pathlib import Path\n"
      "Path(__file__).with_name('module_code_ran').write_text('yes')\n")
  monkeypatch.syspath_prepend(str(tmp_path))
  assert _PROBE not in sys.modules
  try:
    if where == "gin_file":
      someone_elses = tmp_path / "someone_elses.gin"
      someone_elses.write_text(f"import {_PROBE}\n")
      config.parse_gin([str(someone_elses)])
    else:
      config.parse_gin([], [f"import {_PROBE}"])
    assert (tmp_path / "module_code_ran").read_text() == "yes"
  finally:
    sys.modules.pop(_PROBE, None)
