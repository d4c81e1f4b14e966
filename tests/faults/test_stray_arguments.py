"""Every binary in tools/ refuses a positional argument, naming it.

absl hands what is not a flag to ``main`` in ``argv[1:]``; a binary that
ignored it ran with settings the user did not mean (``prepare_data
--gin_files=prepare/pose_only.gin 8`` ran). The binaries are called
in-process (``main(argv)`` with nothing parsed: the refusal must come before
any flag is read); ``test_bad_flags`` runs one of them as a real process.
"""

from __future__ import annotations

import sys

from absl import app
from absl import flags
import pytest

from tests import helpers

TOOLS = sorted(p.stem for p in (helpers.REPO_ROOT / "tools").glob("*.py")
               if p.stem != "__init__")


def test_every_binary_is_found():
  assert len(TOOLS) >= 8 and "prepare_data" in TOOLS, TOOLS


@pytest.mark.parametrize("tool", TOOLS)
def test_binary_refuses_a_stray_positional_argument(tool, monkeypatch):
  # Importing a binary would route this process's stderr through
  # console.filter_native_logs; pytest's capture needs it as it is.
  monkeypatch.setenv("POSEDRIVEN_NATIVE_LOGS", "1")
  # Loaded as other tests load it: it must be intact afterwards.
  from tools import prepare_data  # pylint: disable=g-import-not-at-top
  kept = flags.FLAGS["dataset_root"]
  with helpers.imported_alone(f"tools.{tool}") as module:
    assert not flags.FLAGS.is_parsed()
    for stray, words in ((["8"], "positional argument '8'"),
                         (["gin_files=x.gin", "8"],
                          "positional arguments 'gin_files=x.gin' '8'")):
      with pytest.raises(app.UsageError, match=words):
        module.main([f"tools/{tool}.py", *stray])
  assert flags.FLAGS["dataset_root"] is kept
  assert sys.modules["tools.prepare_data"] is prepare_data
