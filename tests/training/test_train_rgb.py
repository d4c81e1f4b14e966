"""Stage 2: training the RGB stream on a frozen pose network."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from posedriven.training import evaluate
from posedriven.training import train_pose
from posedriven.training import train_rgb
from tests import helpers
from tests.training.conftest import SMALL_POSE
from tests.training.conftest import SMALL_RGB


@pytest.mark.parametrize("bad,words", [
    (dict(ablation="Z"), "ablation must be one of"),
    (dict(strategy="horovod"), "strategy must be one of"),
    (dict(mixed_precision="float8"), "mixed_precision must be one of"),
])
def test_bad_names_fail_before_the_run_directory_is_made(tmp_path, bad,
                                                          words):
  # No pose run and no data either: the names are checked first.
  with pytest.raises(ValueError, match=words):
    train_rgb.train_rgb(tmp_path / "run", tmp_path / "no_data",
                        tmp_path / "no_pose_run", **bad)
  assert not (tmp_path / "run").exists()


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
