"""Binaries given a wrong flag or gin value stop at once, naming it.

Every case runs the real binary in a subprocess (in parallel, to keep the
suite fast) with paths that do not exist: a value check that ran after
reading data would report the missing data instead of the flag. No case may
leave an output directory behind.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import subprocess
import sys
import time

import pytest

from tests import helpers


# Slow (one binary subprocess per case): left out of the
# inner loop, `pytest -m "not slow"`.
pytestmark = pytest.mark.slow


@dataclasses.dataclass(frozen=True)
class Case:
  tool: str
  args: tuple[str, ...]
  # Must all appear in the last lines of stderr.
  words: tuple[str, ...]
  # Environment variables of the run (None: unset).
  env: tuple[tuple[str, str | None], ...] = (("TF_CONFIG", None),)


def _gin(binding: str) -> str:
  return f"--gin_bindings={binding}"


def _unknown(flag: str) -> tuple[str, ...]:
  """absl's refusal of a flag no binary defines (a removed shorthand)."""
  return (f"Unknown command line flag '{flag}'",)


_POSE_MULTI_WORKER = _gin("train_pose.strategy = 'multi_worker'")

CASES = {
    "prepare_protocol": Case("prepare_data", (
        _gin("prepare_dataset.protocol = 'bogus'"),), ("protocol", "bogus")),
    # Removed shorthands: their gin bindings are the one way to set them.
    "prepare_removed_protocol_flag": Case(
        "prepare_data", ("--protocol=ntu60_cs",), _unknown("protocol")),
    "prepare_mixed_precision": Case("prepare_data", (
        _gin("prepare_dataset.mixed_precision = 'fp8'"),),
                                    ("mixed_precision", "fp8")),
    "prepare_gin_syntax": Case("prepare_data", (
        _gin("prepare_dataset.store = 'crops"),),
                               ("--gin_bindings", "prepare_dataset.store")),
    # The command of issue 25, which ran: its "8" is no --num_shards.
    "prepare_stray_positional": Case("prepare_data", (
        "--gin_files=prepare/pose_only.gin", "8"),
                                     ("unexpected positional argument '8'",)),
    "pose_removed_strategy_flag": Case(
        "train_pose", ("--strategy=mirrored",), _unknown("strategy")),
    "rgb_removed_mixed_precision_flag": Case(
        "train_rgb", ("--mixed_precision=mixed_bfloat16",),
        _unknown("mixed_precision")),
    "export_removed_pose_weight_flag": Case(
        "export", ("--pose_weight=0.3",), _unknown("pose_weight")),
    "demo_removed_seed_flag": Case("demo", ("--seed=1",), _unknown("seed")),
    "pose_gin_mixed_precision": Case("train_pose", (
        _gin("train_pose.mixed_precision = 'fp8'"),),
                                     ("mixed_precision", "fp8")),
    "pose_gin_file": Case("train_pose", ("--gin_files=pose/nope.gin",),
                          ("--gin_files", "nope.gin")),
    "rgb_gin_strategy": Case("train_rgb", (
        _gin("train_rgb.strategy = 'tpuv9'"),), ("strategy", "tpuv9")),
    "evaluate_split": Case("evaluate", (_gin("evaluate.split = 'val'"),),
                           ("split", "'val'")),
    "pose_multi_worker_no_tf_config": Case(
        "train_pose", (_POSE_MULTI_WORKER,), ("TF_CONFIG",)),
    "pose_multi_worker_tf_config_not_json": Case(
        "train_pose", (_POSE_MULTI_WORKER,),
        ("TF_CONFIG is not JSON",), (("TF_CONFIG", "{cluster: worker"),)),
    "rgb_multi_worker_tf_config_no_task": Case(
        "train_rgb", (_gin("train_rgb.strategy = 'multi_worker'"),),
        ("TF_CONFIG has no task",),
        (("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1"]}}'),)),
    "pose_multi_worker_task_not_in_cluster": Case(
        "train_pose", (_POSE_MULTI_WORKER,),
        ("TF_CONFIG task", "is not in the cluster"),
        (("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1"]}, '
                       '"task": {"type": "worker", "index": 2}}'),)),
}


def _command(case: Case, root) -> list[str]:
  missing = root / "does_not_exist"
  paths = {
      "prepare_data": [f"--dataset_root={missing}",
                       f"--output_dir={root / 'out'}"],
      "train_pose": [f"--data_dir={missing}", f"--output_dir={root / 'out'}"],
      "train_rgb": [f"--data_dir={missing}", f"--pose_dir={missing}",
                    f"--output_dir={root / 'out'}"],
      "evaluate": [f"--data_dir={missing}", f"--pose_dir={missing}",
                   f"--output_dir={root / 'out'}"],
      "export": [f"--pose_dir={missing}", f"--rgb_dir={missing}",
                 f"--output_dir={root / 'out'}"],
      "demo": [f"--output_dir={root / 'out'}"],
  }[case.tool]
  return [sys.executable, str(helpers.REPO_ROOT / "tools" / f"{case.tool}.py"),
          *paths, *case.args]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
  """Runs every case at once; ``{case: (completed process, root, seconds)}``."""

  def run(name):
    root = tmp_path_factory.mktemp(name)
    start = time.monotonic()
    env = helpers.subprocess_env()
    for key, value in CASES[name].env:
      env.pop(key, None)
      if value is not None:
        env[key] = value
    done = subprocess.run(_command(CASES[name], root), cwd=helpers.REPO_ROOT,
                          env=env, capture_output=True,
                          text=True, timeout=180, check=False)
    return name, (done, root, time.monotonic() - start)

  # Created here, once: threads that race to create it get different ones,
  # and mktemp then refuses its own names.
  tmp_path_factory.getbasetemp()
  with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
    return dict(pool.map(run, CASES))


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_value_fails_fast_naming_the_flag(results, name):
  done, root, seconds = results[name]
  assert done.returncode != 0, done.stdout[-2000:]
  tail = "\n".join(line for line in done.stderr.splitlines()[-8:])
  for word in CASES[name].words:
    assert word in tail, f"{word!r} not in the end of stderr:\n{tail}"
  # Checked before any work: nothing was created, no data was looked for.
  assert not (root / "out").exists()
  assert "does_not_exist" not in tail
  assert seconds < 120
