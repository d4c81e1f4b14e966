"""Every shipped gin config parses against the configurables it binds."""

import ast

import gin
import pytest

from posedriven import config
from posedriven import demo  # pylint: disable=unused-import  (run_demo)
from posedriven import prepare  # pylint: disable=unused-import
from posedriven.training import train_pose  # pylint: disable=unused-import
from posedriven.training import train_rgb  # pylint: disable=unused-import
from posedriven.training import evaluate  # pylint: disable=unused-import
from posedriven.export import saved_model  # pylint: disable=unused-import
from posedriven.data import synthetic  # pylint: disable=unused-import
from tests.conftest import REPO_ROOT

CONFIGS = sorted(
    str(p.relative_to(config.GIN_CONFIG_DIR))
    for p in config.GIN_CONFIG_DIR.rglob("*.gin"))


def test_configs_are_found():
  assert len(CONFIGS) >= 30
  for stage in ("pose", "rgb", "prepare"):
    assert f"{stage}/ntu60_cs.gin" in CONFIGS


@pytest.mark.parametrize("name", CONFIGS)
def test_config_parses(name):
  gin.clear_config()
  try:
    config.parse_gin([name])
  finally:
    gin.clear_config()


def test_no_import_inside_a_function():
  """Binaries lock gin (``parse_gin`` finalizes) before a stage runs; a
  gin configurable first imported after that, by an import inside a
  function, fails at the end of a long run (the demo's export did). Every
  import of the library and the binaries is at module level."""
  late = []
  for folder in ("posedriven", "tools"):
    for path in sorted((REPO_ROOT / folder).rglob("*.py")):
      tree = ast.parse(path.read_text(), str(path))
      for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
          late += [f"{path.relative_to(REPO_ROOT)}:{sub.lineno}"
                   for sub in ast.walk(node)
                   if isinstance(sub, (ast.Import, ast.ImportFrom))]
  assert not late, late
