"""Tiny synthetic runs of every stage: train pose, train RGB, evaluate."""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from posedriven import prepare
from posedriven.data.synthetic import sbu_msr
from posedriven.training import evaluate
from posedriven.training import run_dir
from posedriven.training import train_pose
from posedriven.training import train_rgb
from posedriven.training import transfer
from tests import helpers
from tests.conftest import REPO_ROOT

SMALL_POSE = dict(batch_size=8, epochs=2, filters=(4, 4), features=16,
                  validation_fraction=0.3, verbose=0)
SMALL_RGB = dict(batch_size=8, epochs=2, lstm_units=8,
                 spatial_attention_units=8, temporal_attention_units=8,
                 feature_units=8, num_attention_images=2,
                 validation_fraction=0.3, verbose=0)


@pytest.fixture(scope="module")
def pose_run(tiny_prepared, tmp_path_factory):
  out = tmp_path_factory.mktemp("pose_run")
  train_pose.train_pose(out, tiny_prepared, **SMALL_POSE)
  return out


@pytest.fixture(scope="module")
def rgb_run(tiny_synthetic, tiny_prepared, pose_run, tmp_path_factory):
  out = tmp_path_factory.mktemp("rgb_run")
  train_rgb.train_rgb(out, tiny_prepared, pose_run, **SMALL_RGB,
                      probe_dataset_root=str(tiny_synthetic))
  return out


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
def test_rgb_run_freezes_pose_network(rgb_run, pose_run):
  model = keras.models.load_model(rgb_run / "best.keras")
  pose = keras.models.load_model(pose_run / "best.keras")
  trainable = {v.path for v in model.trainable_weights}
  assert trainable and not any("pose_cnn" in p for p in trainable)
  pose_weights = {v.path.split("/", 1)[-1]: v.numpy()
                  for v in pose.pose_network.weights}
  for v in model.weights:
    key = v.path.split("/", 1)[-1]
    if "pose_cnn" in v.path and key in pose_weights:
      np.testing.assert_array_equal(v.numpy(), pose_weights[key])



@pytest.mark.slow
def test_rgb_run_draws_probe_clips_each_epoch(rgb_run):
  assert len(helpers.event_files(rgb_run / "tensorboard")) == 1
  tags = helpers.summaries(rgb_run / "tensorboard")
  attention = sorted(t for t in tags if t.startswith("attention/"))
  assert len(attention) == SMALL_RGB["num_attention_images"]
  for tag in attention:
    assert tags[tag] == [(0, "images"), (1, "images")]
    # The probe's hand crops with their weights, every epoch.
    crops = tag.replace("attention/", "attention_crops/")
    assert tags[crops] == [(0, "images"), (1, "images")]
  # The HParams dashboard can tell the Table 2/3/6 ablations apart.
  hparams = helpers.hparams(rgb_run / "tensorboard")
  assert (hparams["ablation"], hparams["conditioning"],
          hparams["joint_order"]) == ("G", "pose", "topological")
  assert hparams["lstm_units"] == 8 and "verbose" not in hparams


@pytest.mark.slow
def test_probe_clips_come_from_training_without_validation(
    tiny_prepared, pose_run, tmp_path):
  train_rgb.train_rgb(tmp_path, tiny_prepared, pose_run,
                      **dict(SMALL_RGB, epochs=1, validation_fraction=0.0))
  tags = helpers.summaries(tmp_path / "tensorboard")
  assert len([t for t in tags if t.startswith("attention/")]) == 2
  assert "loss/validation" not in tags and "best/loss" in tags


@pytest.mark.slow
def test_rgb_ablation_b(tiny_prepared, pose_run, tmp_path):
  summary = train_rgb.train_rgb(tmp_path, tiny_prepared, pose_run,
                                **dict(SMALL_RGB, epochs=1, ablation="B"))
  assert summary["ablation"] == "B"
  with pytest.raises(ValueError, match="ablation must be one of"):
    train_rgb.train_rgb(tmp_path / "x", tiny_prepared, pose_run,
                        ablation="Z")


def test_evaluate_writes_every_figure(tiny_prepared, pose_run, rgb_run,
                                      tmp_path):
  results = evaluate.evaluate(tmp_path, tiny_prepared, pose_run, rgb_run,
                              num_subsequences=10)
  for stream in ("pose", "rgb", "fused"):
    assert 0.0 <= results[stream]["top1"] <= results[stream]["top5"] <= 1.0
    assert (tmp_path / f"confusion_{stream}.png").stat().st_size > 0
    assert (tmp_path / f"per_class_{stream}.csv").exists()
  assert results["num_clips"] == 8
  assert json.loads((tmp_path / "metrics.json").read_text()) == results
  assert len(list((tmp_path / "attention").glob("*.png"))) >= 1
  logits = np.load(tmp_path / run_dir.LOGITS_FILE)
  assert len(logits["names"]) == 8 and logits["fused"].shape == (8, 8)
  assert results["fused"]["top1"] == pytest.approx(
      np.mean(logits["fused"].argmax(1) == logits["labels"]))
  # The stage saves the configuration it ran with.
  assert "evaluate.pose_weight = 0.5" in (
      tmp_path / "operative_config.gin").read_text()
  tags = helpers.summaries(tmp_path / "tensorboard")
  for stream in ("pose", "rgb", "fused"):
    assert tags[f"confusion/{stream}"] == [(0, "images")]
    assert tags[f"{stream}/top1"] == [(0, "scalars")]
  assert any(t.startswith("attention/") for t in tags)
  assert tags["_hparams_/session_start_info"][0][1] == "hparams"


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
  # A narrower pose tensor (no double entries: 150 wide instead of 300)
  # stands for NTU -> SBU without the skeleton adaptation: conv3 cannot be
  # copied, which is an error unless the run names it.
  tuned_dir = tmp_path / "tuned"
  small = dict(SMALL_POSE, epochs=1, joint_order="topological_no_double",
               init_from=str(pose_run))
  with pytest.raises(transfer.TransferError, match="conv3"):
    train_pose.train_pose(tmp_path / "refused", tiny_prepared, **small)
  # Learning rate 0 keeps the starting weights.
  train_pose.train_pose(tuned_dir, tiny_prepared,
                        **dict(small, learning_rate=0.0,
                               reinitialise=["conv3"]))
  source = keras.models.load_model(pose_run / "best.keras").weights
  tuned = keras.models.load_model(tuned_dir / "best.keras").weights
  same = [np.array_equal(np.asarray(a), np.asarray(b))
          for a, b in zip(source, tuned) if a.shape == b.shape]
  # conv1 + conv2 (kernel, bias) copied; conv3 re-initialised with its
  # bias; the classifier (same classes) copied.
  assert same == [True] * 4 + [False, True, True]
  records = json.loads((tuned_dir / "stage.json").read_text())["transfer"]
  assert [(r["layer"].rpartition("/")[2], r["status"]) for r in records] == [
      ("conv1", "copied"), ("conv2", "copied"), ("conv3", "reinitialised"),
      ("pose_logits", "copied")]
  assert {r["source_run"] for r in records} == {str(pose_run)}
  assert records[0]["shapes"] == [list(source[0].shape), list(source[1].shape)]


@pytest.fixture(scope="module")
def tiny_sbu(calibrated_sensor_weights, tmp_path_factory):
  """Synthetic SBU-format skeletons and frames (one training, one fold-1 test
  set), prepared with the NTU fixtures' glimpse sensor."""
  root = tmp_path_factory.mktemp("tiny_sbu")
  sbu_msr.generate_sbu(root, sets=("s02s03", "s01s02"))
  out = tmp_path_factory.mktemp("tiny_sbu_prepared")
  prepare.prepare_dataset(root, out, dataset="sbu", protocol="sbu_fold1",
                          glimpse_input_size=75,
                          glimpse_weights=str(calibrated_sensor_weights),
                          log_every_s=1e9)
  return out


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


@pytest.mark.slow
def test_rgb_from_an_ntu_run_on_sbu_and_no_fine_tuning(tiny_sbu, pose_run,
                                                       rgb_run, tmp_path):
  sbu_pose = tmp_path / "sbu_pose"
  train_pose.train_pose(sbu_pose, tiny_sbu, **dict(
      SMALL_POSE, epochs=1, learning_rate=0.0, init_from=str(pose_run),
      skeleton_layout="kinect_v2"))
  source = {w.path: np.asarray(w) for w in
            keras.models.load_model(rgb_run / "best.keras").weights}
  for freeze in (True, False):
    out = tmp_path / f"rgb_freeze_{freeze}"
    train_rgb.train_rgb(out, tiny_sbu, sbu_pose, **dict(
        SMALL_RGB, epochs=1, learning_rate=1e-2, num_attention_images=0,
        init_from=str(rgb_run), freeze_rgb_network=freeze))
    records = json.loads((out / "stage.json").read_text())["transfer"]
    status = {r["layer"].split("/")[0]: r["status"] for r in records}
    # SBU's classes are not NTU's: only the class layer starts fresh.
    assert status.pop("rgb_logits") == "reinitialised"
    assert set(status) == {"spatial_attention_lstm", "temporal_attention"}
    assert set(status.values()) == {"copied"}
    tuned = keras.models.load_model(out / "best.keras")
    moved = {w.path.split("/")[0] for w in tuned.weights
             if not w.path.startswith("pose_cnn")
             and not np.array_equal(np.asarray(w), source.get(w.path))}
    # Frozen: only the class layer trained; fine-tuned (the control): the
    # attention and LSTM layers moved as well.
    assert moved == ({"rgb_logits"} if freeze else
                     {"rgb_logits", "spatial_attention_lstm",
                      "temporal_attention"})
  result = evaluate.evaluate(tmp_path / "eval", tiny_sbu, pose_dir=sbu_pose,
                             rgb_dir=out, num_attention_images=0)
  assert result["num_clips"] == 8 and "fused" in result
  with pytest.raises(ValueError, match="freeze_rgb_network needs init_from"):
    train_rgb.train_rgb(tmp_path / "x", tiny_sbu, sbu_pose,
                        **dict(SMALL_RGB, freeze_rgb_network=True))
