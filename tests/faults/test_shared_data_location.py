"""The tests find the real sample data beside the checkout or through
``$POSEDRIVEN_SHARED_DATA``, never at a fixed path of one machine.

A copy of ``tests/conftest.py`` in a clone elsewhere is loaded in a fresh
interpreter and asked where it looks: a fallback to an absolute path (this
workplace's ``/work/shared/data``, which exists here) would be found there
and hide a clone that cannot see its data.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import helpers

_PRINT_SHARED_DATA = (
    "import runpy, sys; print(runpy.run_path(sys.argv[1])['SHARED_DATA'])")


def _shared_data_of_clone(clone: Path, variable: str | None) -> Path:
  (clone / "tests").mkdir(parents=True)
  shutil.copy(helpers.REPO_ROOT / "tests" / "conftest.py", clone / "tests")
  env = helpers.subprocess_env()
  env.pop("POSEDRIVEN_SHARED_DATA", None)
  if variable is not None:
    env["POSEDRIVEN_SHARED_DATA"] = variable
  done = subprocess.run(
      [sys.executable, "-c", _PRINT_SHARED_DATA,
       str(clone / "tests" / "conftest.py")],
      cwd=clone, env=env, capture_output=True, text=True, timeout=60,
      check=True)
  return Path(done.stdout.strip())


@pytest.mark.parametrize("variable", [None, "set"])
def test_clone_elsewhere_looks_only_beside_itself_or_in_the_variable(
    tmp_path, variable):
  clone = tmp_path / "elsewhere" / "main"
  if variable is None:
    assert _shared_data_of_clone(clone, None) == (
        tmp_path / "elsewhere" / "shared" / "data")
  else:
    # Used as given, even without samples: the fixture then says so.
    chosen = tmp_path / "my_data"
    assert _shared_data_of_clone(clone, str(chosen)) == chosen
