"""Stage 1: training the pose stream (tiny synthetic runs)."""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from posedriven.training import evaluate
from posedriven.training import loop
from posedriven.training import run_dir
from posedriven.training import train_pose
from posedriven.training import transfer
from tests import helpers
from tests.conftest import REPO_ROOT
from tests.training.conftest import SMALL_POSE


def _weights(path):
  return keras.models.load_model(path).get_weights()


def test_pose_run_outputs(pose_run):
  for name in ("best.keras", "FINISHED.json", "operative_config.gin",
               "stage.json", "backup/model-002.keras", "backup/state.json",
               "checkpoints/epoch-002.weights.h5"):
    assert (pose_run / name).exists(), name
  # One event file for the run: per-epoch scalars (learning rate once per
  # epoch), the hyper-parameters and the best epoch's metrics.
  assert len(helpers.event_files(pose_run / "tensorboard")) == 1
  tags = helpers.summaries(pose_run / "tensorboard")
  assert [step for step, _ in tags["learning_rate"]] == [0, 1]
  for tag in ("loss/train", "loss/validation", "accuracy/validation"):
    assert [step for step, _ in tags[tag]] == [0, 1], tag
  assert tags["_hparams_/session_start_info"][0][1] == "hparams"
  assert "best/val_loss" in tags
  stage = run_dir.read_stage_info(pose_run)
  assert stage["pose_width"] == 300 and stage["num_classes"] == 8
  summary = json.loads((pose_run / "FINISHED.json").read_text())
  assert summary["epochs"] == 2
  assert "val_loss" in summary["best"]
  # Arguments given in Python (not gin) are recorded too.
  assert stage["params"]["batch_size"] == 8
  assert "train_pose.seed = 0" in (
      pose_run / "operative_config.gin").read_text()


@pytest.mark.parametrize("bad,words", [
    (dict(strategy="horovod"), "strategy must be one of"),
    (dict(mixed_precision="float8"), "mixed_precision must be one of"),
    (dict(lr_schedule="step"), "lr_schedule must be one of"),
])
def test_bad_names_fail_before_the_run_directory_is_made(tmp_path, bad,
                                                          words):
  with pytest.raises(ValueError, match=words):
    train_pose.train_pose(tmp_path / "run", tmp_path / "no_data", **bad)
  assert not (tmp_path / "run").exists()


def test_finished_run_is_not_overwritten(pose_run, tiny_prepared):
  with pytest.raises(run_dir.RunExistsError, match="finished run"):
    train_pose.train_pose(pose_run, tiny_prepared, **SMALL_POSE)


@pytest.mark.slow
def test_resume_after_interrupt_gives_same_weights(tiny_prepared, tmp_path):
  config = dict(SMALL_POSE, epochs=3)
  train_pose.train_pose(tmp_path / "a", tiny_prepared, **config)
  train_pose.train_pose(tmp_path / "b", tiny_prepared,
                        **dict(config, epochs=1))
  # The state a kill right after epoch 1's backup leaves behind.
  (tmp_path / "b" / run_dir.FINISHED).unlink()
  summary = train_pose.train_pose(tmp_path / "b", tiny_prepared, **config)
  assert summary["epochs"] == 3
  for wa, wb in zip(_weights(helpers.backup_model_path(tmp_path / "a")),
                    _weights(helpers.backup_model_path(tmp_path / "b"))):
    np.testing.assert_array_equal(wa, wb)


@pytest.mark.slow
def test_cosine_schedule_decays_and_resumes_on_its_curve(
    tiny_prepared, tmp_path, monkeypatch):
  config = dict(SMALL_POSE, epochs=3, lr_schedule="cosine",
                learning_rate=1e-3)
  train_pose.train_pose(tmp_path / "a", tiny_prepared, **config)
  state = json.loads((tmp_path / "a" / run_dir.BACKUP_DIR /
                      run_dir.STATE_FILE).read_text())
  rates = [epoch["learning_rate"] for epoch in state["history"]]
  # Logged after each epoch: cos decay from 1e-3 reaches 0 at the end.
  assert 1e-3 > rates[0] > rates[1] > rates[2] == 0.0

  # Killed right after epoch 1's state was saved, then rerun.
  saves = []
  real_save = loop.LoopState.save

  def save_then_die(self, path):
    real_save(self, path)
    saves.append(path)
    raise KeyboardInterrupt
  monkeypatch.setattr(loop.LoopState, "save", save_then_die)
  with pytest.raises(KeyboardInterrupt):
    train_pose.train_pose(tmp_path / "b", tiny_prepared, **config)
  monkeypatch.setattr(loop.LoopState, "save", real_save)
  assert len(saves) == 1
  train_pose.train_pose(tmp_path / "b", tiny_prepared, **config)
  for wa, wb in zip(_weights(helpers.backup_model_path(tmp_path / "a")),
                    _weights(helpers.backup_model_path(tmp_path / "b"))):
    np.testing.assert_array_equal(wa, wb)


@pytest.mark.slow
def test_same_seed_same_metrics(tiny_prepared, tmp_path):
  config = dict(SMALL_POSE, epochs=1)
  a = train_pose.train_pose(tmp_path / "a", tiny_prepared, **config)
  b = train_pose.train_pose(tmp_path / "b", tiny_prepared, **config)
  c = train_pose.train_pose(tmp_path / "c", tiny_prepared,
                            **dict(config, seed=1))
  drop = lambda s: {k: v for k, v in s["best"].items() if k != "seconds"}
  assert drop(a) == drop(b)
  assert drop(a) != drop(c)


@pytest.mark.slow
def test_random_joint_order_follows_the_run_seed(tiny_prepared, tmp_path):
  """Table 3's random row: each seed trains on its own permutation, and the
  run records it so that evaluation rebuilds the same tensors."""
  config = dict(SMALL_POSE, epochs=1, joint_order="random")
  orders = []
  for seed in (1, 2):
    run = tmp_path / f"seed{seed}"
    train_pose.train_pose(run, tiny_prepared, **dict(config, seed=seed))
    info = run_dir.read_stage_info(run)
    assert info["params"]["joint_order"] == "random"
    orders.append(info["joint_order"])
    metrics = evaluate.evaluate(tmp_path / f"eval{seed}", tiny_prepared,
                                pose_dir=run, num_subsequences=1,
                                num_attention_images=0)
    assert 0.0 <= metrics["pose"]["top1"] <= 1.0
  assert orders == ["random:1", "random:2"]


def test_mixed_precision_run(tiny_prepared, tmp_path):
  train_pose.train_pose(tmp_path, tiny_prepared,
                        **dict(SMALL_POSE, epochs=1,
                               mixed_precision="mixed_bfloat16"))
  model = keras.models.load_model(tmp_path / "best.keras")
  assert model.pose_network.dtype_policy.name == "mixed_bfloat16"
  assert keras.config.dtype_policy().name == "float32"


@pytest.mark.slow
def test_binaries_run_and_reject_bad_flags(tiny_prepared, tmp_path):
  cmd = [sys.executable, str(REPO_ROOT / "tools" / "train_pose.py"),
         f"--data_dir={tiny_prepared}", f"--output_dir={tmp_path / 'run'}",
         "--gin_files=pose/base.gin", "--gin_files=pose/smoke.gin",
         "--gin_bindings=train_pose.epochs = 1",
         "--gin_bindings=train_pose.verbose = 0"]
  out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  assert (tmp_path / "run" / "FINISHED.json").exists()
  bad = subprocess.run(
      cmd[:4] + ["--gin_bindings=train_pose.strategy = 'horovod'"],
      capture_output=True, text=True, timeout=300)
  assert bad.returncode != 0 and "horovod" in bad.stderr
  bad = subprocess.run(cmd[:4] + ["--gin_bindings=train_pose.batch_sise = 3"],
                       capture_output=True, text=True, timeout=300)
  assert bad.returncode != 0 and "batch_sise" in bad.stderr


def test_fine_tuning_copies_every_layer_or_fails(tiny_prepared, pose_run,
                                                 tmp_path):
  # Another joint order (no double entries: 150 wide instead of 300) is
  # refused before any work, naming both orders, even with conv3 named:
  # conv1/conv2 would read other neighbours.
  tuned_dir = tmp_path / "tuned"
  small = dict(SMALL_POSE, epochs=1, init_from=str(pose_run))
  for reinitialise in ((), ["conv3"]):
    with pytest.raises(transfer.SourceMismatchError,
                       match="joint_order 'topological' in the source,"
                       " 'topological_no_double' here"):
      train_pose.train_pose(
          tmp_path / "refused", tiny_prepared,
          **dict(small, joint_order="topological_no_double",
                 reinitialise=reinitialise))
    assert not (tmp_path / "refused" / "backup").exists()
  # Learning rate 0 keeps the starting weights; conv3 re-initialised by
  # name (same layout: allowed, though nothing forces it).
  train_pose.train_pose(tuned_dir, tiny_prepared,
                        **dict(small, learning_rate=0.0,
                               reinitialise=["conv3"]))
  source = keras.models.load_model(pose_run / "best.keras").weights
  tuned = keras.models.load_model(tuned_dir / "best.keras").weights
  same = [np.array_equal(np.asarray(a), np.asarray(b))
          for a, b in zip(source, tuned)]
  # conv1 + conv2 (kernel, bias) copied; conv3 re-initialised with its
  # bias; the classifier (same classes) copied.
  assert same == [True] * 4 + [False, False, True, True]
  stage = json.loads((tuned_dir / "stage.json").read_text())
  records = stage["transfer"]
  assert [(r["layer"].rpartition("/")[2], r["status"]) for r in records] == [
      ("conv1", "copied"), ("conv2", "copied"), ("conv3", "reinitialised"),
      ("pose_logits", "copied")]
  assert {r["source_run"] for r in records} == {str(pose_run)}
  assert records[0]["shapes"] == [list(source[0].shape), list(source[1].shape)]
  # The source's identity and the rate (bound here) are recorded.
  assert stage["init_from"] == {
      "run": str(pose_run), "stage": "pose", "joint_order": "topological",
      "tensor_skeleton": "kinect_v2", "pose_width": 300,
      "dataset": "synthetic", "learning_rate": 1e-4}
  assert (stage["learning_rate"], stage["learning_rate_origin"]) == (
      0.0, "bound")

  # Resumed (here: one more epoch after the finished one), the run loads its
  # backup and never rebuilds: the record of what was copied must survive.
  (tuned_dir / "FINISHED.json").unlink()
  train_pose.train_pose(tuned_dir, tiny_prepared,
                        **dict(small, learning_rate=0.0, epochs=2,
                               reinitialise=["conv3"]))
  resumed = json.loads((tuned_dir / "stage.json").read_text())
  assert resumed["params"]["epochs"] == 2
  assert resumed["transfer"] == records
  assert resumed["init_from"] == stage["init_from"]


def test_fine_tuning_rate_defaults_to_a_tenth_of_the_source(
    tiny_prepared, pose_run, tmp_path):
  source_rate = json.loads((pose_run / "stage.json").read_text())[
      "learning_rate"]
  summary = train_pose.train_pose(tmp_path / "tuned", tiny_prepared, **dict(
      SMALL_POSE, epochs=1, learning_rate=None, init_from=str(pose_run)))
  stage = json.loads((tmp_path / "tuned" / "stage.json").read_text())
  # The same float64 division in the run and here: pytest.approx's default
  # 1e-6 relative only guards the JSON round trip (exact for doubles).
  assert stage["learning_rate"] == pytest.approx(source_rate / 10)
  assert stage["learning_rate_origin"] == "init_from / 10"
  assert stage["params"]["learning_rate"] is None  # what was bound
  # The optimizer ran at it (float32 variable: relative error 6e-8).
  assert summary["best"]["learning_rate"] == pytest.approx(
      source_rate / 10, rel=1e-6)
  with pytest.raises(ValueError, match="bind init_from"):
    train_pose.train_pose(tmp_path / "scratch", tiny_prepared,
                          **dict(SMALL_POSE, learning_rate=None))


@pytest.mark.slow
def test_sbu_on_the_ntu_layout_starts_every_layer_but_the_class_from_ntu(
    tiny_sbu, pose_run, tmp_path):
  train_pose.train_pose(tmp_path, tiny_sbu, **dict(
      SMALL_POSE, epochs=1, learning_rate=0.0, init_from=str(pose_run),
      skeleton_layout="kinect_v2"))
  stage = json.loads((tmp_path / "stage.json").read_text())
  assert (stage["skeleton"], stage["tensor_skeleton"],
          stage["pose_width"]) == ("sbu", "kinect_v2", 300)
  status = {r["layer"].rpartition("/")[2]: r["status"]
            for r in stage["transfer"]}
  assert status == {"conv1": "copied", "conv2": "copied", "conv3": "copied",
                    "pose_logits": "reinitialised"}
  source = keras.models.load_model(pose_run / "best.keras").weights
  tuned = keras.models.load_model(tmp_path / "best.keras").weights
  for a, b in zip(source[:6], tuned[:6]):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  # Evaluation reads the layout from the run.
  result = evaluate.evaluate(tmp_path / "eval", tiny_sbu, pose_dir=tmp_path,
                             num_attention_images=0)
  assert result["num_clips"] == 8


@pytest.mark.slow
def test_no_fine_tuning_trains_only_the_class_layer(tiny_sbu, pose_run,
                                                    tmp_path):
  source = keras.models.load_model(pose_run / "best.keras").weights
  for freeze in (True, False):
    out = tmp_path / f"freeze_{freeze}"
    train_pose.train_pose(out, tiny_sbu, **dict(
        SMALL_POSE, epochs=2, learning_rate=1e-2, init_from=str(pose_run),
        skeleton_layout="kinect_v2", freeze_pose_network=freeze))
    tuned = keras.models.load_model(out / "best.keras").weights
    same = [np.array_equal(np.asarray(a), np.asarray(b))
            for a, b in zip(source[:6], tuned[:6])]
    # Frozen: f_sk is NTU's; fine-tuned (the control): it moved.
    assert all(same) if freeze else not all(same)
  with pytest.raises(ValueError, match="freeze_pose_network needs init_from"):
    train_pose.train_pose(tmp_path / "x", tiny_sbu,
                          **dict(SMALL_POSE, freeze_pose_network=True))
