"""Binaries refuse an existing output in one wording and take ``--overwrite``.

Each case runs the real binary on an output that exists: without the flag
it must stop, name the output and ``--overwrite`` and leave it untouched;
with the flag it must go past that check (it then finishes, or fails later
on an input that does not exist, naming that input).
"""

from __future__ import annotations

import concurrent.futures
import json
import shutil
import subprocess
import sys

import pytest

from posedriven.training import run_dir
from tests import helpers


# Slow (binary subprocesses over finished runs): left out of the
# inner loop, `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

POSE = [f"--gin_bindings=train_pose.{k} = {v!r}" for k, v in dict(
    epochs=1, batch_size=8, filters=(4, 4), features=16, verbose=0).items()]


def _tool(name: str, *args) -> list[str]:
  return [sys.executable, str(helpers.REPO_ROOT / "tools" / f"{name}.py"),
          *map(str, args)]


def _run(command):
  return subprocess.run(command, cwd=helpers.REPO_ROOT,
                        env=helpers.subprocess_env(), capture_output=True,
                        text=True, timeout=300, check=False)


def _tail(done) -> str:
  return "\n".join(done.stderr.splitlines()[-6:])


def _refused(done, output) -> None:
  assert done.returncode != 0, done.stdout[-2000:]
  tail = _tail(done)
  assert f"{output} already holds" in tail and "--overwrite" in tail, tail


@pytest.fixture(scope="module")
def outputs(tiny_synthetic, tiny_pose_only, tmp_path_factory):
  """Existing outputs of every binary, and where their inputs would be."""
  root = tmp_path_factory.mktemp("overwrite")
  missing = root / "does_not_exist"
  pose = root / "pose"
  done = _run(_tool("train_pose", f"--data_dir={tiny_pose_only}",
                    f"--output_dir={pose}", *POSE))
  assert done.returncode == 0, done.stderr[-2000:]
  fake_run = root / "rgb"
  fake_run.mkdir()
  run_dir.mark_finished(fake_run, {"stage": "rgb"})
  evaluation = root / "eval"
  evaluation.mkdir()
  (evaluation / "metrics.json").write_text("{}")
  export = root / "export"
  export.mkdir()
  prepared = root / "prepared"
  shutil.copytree(tiny_pose_only, prepared)
  synthetic = root / "synthetic"
  shutil.copytree(tiny_synthetic, synthetic)
  return dict(root=root, missing=missing, data=tiny_pose_only, pose=pose,
              rgb=fake_run, eval=evaluation, export=export,
              prepared=prepared, dataset_root=tiny_synthetic,
              synthetic=synthetic)


def _commands(o, overwrite: bool) -> dict[str, tuple[list[str], object]]:
  """``{case: (command, output it must refuse)}``."""
  flag = ["--overwrite"] if overwrite else []
  other_crop = ["--gin_bindings=prepare_dataset.store = 'none'",
                "--gin_bindings=prepare_dataset.clips_per_file = 4",
                "--gin_bindings=prepare_dataset.crop_size_px = 41.0"]
  return {
      "train_pose": (_tool("train_pose", f"--data_dir={o['data']}",
                           f"--output_dir={o['pose']}", *POSE, *flag),
                     o["pose"]),
      "train_rgb": (_tool("train_rgb", f"--data_dir={o['missing']}",
                          f"--pose_dir={o['pose']}",
                          f"--output_dir={o['rgb']}", *flag), o["rgb"]),
      "evaluate": (_tool("evaluate", f"--data_dir={o['missing']}",
                         f"--pose_dir={o['pose']}",
                         f"--output_dir={o['eval']}", *flag), o["eval"]),
      "export": (_tool("export", f"--pose_dir={o['missing']}",
                       f"--rgb_dir={o['missing']}",
                       f"--output_dir={o['export']}", *flag), o["export"]),
      "prepare_data": (_tool("prepare_data",
                             f"--dataset_root={o['dataset_root']}",
                             f"--output_dir={o['prepared']}",
                             "--gin_bindings=prepare_dataset.dataset ="
                             " 'synthetic'",
                             "--gin_bindings=prepare_dataset.protocol ="
                             " 'synthetic_cs'", *other_crop, *flag),
                       o["prepared"]),
      "make_synthetic": (_tool(
          "make_synthetic", f"--output_dir={o['synthetic']}",
          "--gin_bindings=generate_dataset.num_subjects = 1",
          "--gin_bindings=generate_dataset.cameras = (1,)",
          "--gin_bindings=generate_dataset.image_size = (96, 64)", *flag),
                         o["synthetic"]),
      "demo": (_tool("demo", f"--output_dir={o['synthetic'].parent}",
                     # 2: a test subject, so the split check passes.
                     "--gin_bindings=run_demo.num_subjects = 2"),
               o["synthetic"].parent / "synthetic_ntu"),
  }


@pytest.fixture(scope="module")
def refusals(outputs):
  # The demo's dataset directory must hold a dataset of other arguments.
  shutil.copytree(outputs["synthetic"],
                  outputs["synthetic"].parent / "synthetic_ntu")
  before = (outputs["pose"] / run_dir.FINISHED).read_text()
  with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
    commands = _commands(outputs, overwrite=False)
    done = dict(zip(commands, pool.map(
        lambda c: _run(c[0]), commands.values())))
  assert (outputs["pose"] / run_dir.FINISHED).read_text() == before
  return done, commands


@pytest.mark.parametrize("case", ["train_pose", "train_rgb", "evaluate",
                                  "export", "prepare_data", "make_synthetic",
                                  "demo"])
def test_existing_output_is_refused_naming_the_flag(refusals, case):
  done, commands = refusals
  _refused(done[case], commands[case][1])


def test_overwrite_goes_past_the_check(outputs, refusals):
  del refusals  # runs first: the outputs still exist
  commands = _commands(outputs, overwrite=True)
  del commands["demo"]  # tests/test_demo.py runs the demo
  with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
    done = dict(zip(commands, pool.map(
        lambda c: _run(c[0]), commands.values())))
  for case in ("train_pose", "prepare_data", "make_synthetic"):
    assert done[case].returncode == 0, (case, _tail(done[case]))
  for case in ("train_rgb", "evaluate", "export"):
    assert done[case].returncode != 0
    assert "does_not_exist" in _tail(done[case]), (case, _tail(done[case]))
    assert "already holds" not in done[case].stderr
  # The pose run was trained again from scratch (one epoch, one checkpoint).
  assert json.loads((outputs["pose"] / run_dir.FINISHED).read_text()
                    )["epochs"] == 1
  assert len(helpers.event_files(outputs["pose"] / "tensorboard")) == 1
  meta = json.loads((outputs["synthetic"] / "synthetic_meta.json"
                     ).read_text())
  assert meta["generation"]["num_subjects"] == 1
