"""gin at the edges: files, then bindings, locked, saved beside the outputs."""

from __future__ import annotations

import gin
import pytest

from posedriven import config


@gin.configurable(module="tests.test_config")
def probe(factor: int = 1) -> int:
  return factor


def test_bindings_come_after_files(tmp_path):
  gin_file = tmp_path / "a.gin"
  gin_file.write_text("probe.factor = 2\n")
  config.parse_gin([str(gin_file)])
  assert probe() == 2
  gin.clear_config()
  config.parse_gin([str(gin_file)], ["probe.factor = 3"])
  assert probe() == 3


def test_parsed_config_is_locked():
  # Binaries parse first, so a stage cannot be reconfigured mid-run.
  config.parse_gin([], ["probe.factor = 4"])
  with pytest.raises(RuntimeError, match="locked"):
    gin.bind_parameter("probe.factor", 5)
  assert probe() == 4


def test_unknown_binding_is_an_error():
  with pytest.raises(ValueError, match=r"--gin_bindings='probe\."
                     r"no_such_parameter = 1'.*no_such_parameter"):
    config.parse_gin([], ["probe.no_such_parameter = 1"])


def test_missing_file_names_both_places_looked(tmp_path):
  with pytest.raises(FileNotFoundError) as info:
    config.parse_gin(["pose/no_such.gin"])
  assert "pose/no_such.gin" in str(info.value)
  assert str(config.GIN_CONFIG_DIR) in str(info.value)


def test_a_bad_file_is_named(tmp_path):
  good = tmp_path / "good.gin"
  good.write_text("probe.factor = 2\n")
  bad = tmp_path / "bad.gin"
  bad.write_text("probe.factor 2\n")
  with pytest.raises(ValueError, match=f"--gin_files={bad}"):
    config.parse_gin([str(good), str(bad)])


def test_operative_config_is_saved_beside_the_outputs(tmp_path):
  config.parse_gin([], ["probe.factor = 7"])
  probe()
  config.save_operative_config(tmp_path)
  saved = (tmp_path / config.OPERATIVE_CONFIG).read_text()
  assert "probe.factor = 7" in saved
  config.save_operative_config(tmp_path, "other.gin")
  assert (tmp_path / "other.gin").read_text() == saved
