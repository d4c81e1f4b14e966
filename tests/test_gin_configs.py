"""Every shipped gin config parses against the configurables it binds."""

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


def test_unknown_binding_is_an_error():
  gin.clear_config()
  with pytest.raises(ValueError, match="no_such_parameter"):
    config.parse_gin([], ["train_pose.no_such_parameter = 1"])
  gin.clear_config()
