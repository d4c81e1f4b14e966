"""Stage 2: training the RGB stream on a frozen pose network."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from posedriven.training import evaluate
from posedriven.training import train_pose
from posedriven.training import train_rgb
from posedriven.training import transfer
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


def test_rgb_init_from_refuses_a_pose_run_and_defaults_to_a_tenth_rate(
    tiny_prepared, pose_run, rgb_run, tmp_path):
  with pytest.raises(transfer.SourceMismatchError,
                     match="stage 'pose' in the source, 'rgb' here"):
    train_rgb.train_rgb(tmp_path / "refused", tiny_prepared, pose_run,
                        **dict(SMALL_RGB, init_from=str(pose_run)))
  source_rate = json.loads((rgb_run / "stage.json").read_text())[
      "learning_rate"]
  out = tmp_path / "tuned"
  summary = train_rgb.train_rgb(out, tiny_prepared, pose_run, **dict(
      SMALL_RGB, epochs=1, num_attention_images=0, learning_rate=None,
      init_from=str(rgb_run)))
  stage = json.loads((out / "stage.json").read_text())
  # The same float64 division in the run and here: pytest.approx's default
  # 1e-6 relative only guards the JSON round trip (exact for doubles).
  assert stage["learning_rate"] == pytest.approx(source_rate / 10)
  assert stage["learning_rate_origin"] == "init_from / 10"
  assert stage["init_from"]["stage"] == "rgb"
  assert (stage["tensor_skeleton"], stage["pose_width"]) == ("kinect_v2", 300)
  # The optimizer ran at it (float32 variable: relative error 6e-8).
  assert summary["best"]["learning_rate"] == pytest.approx(
      source_rate / 10, rel=1e-6)


@pytest.mark.slow
def test_rgb_transfer_onto_a_native_layout_needs_a_pose_run_that_chose_it(
    tiny_sbu, pose_run, rgb_run, tmp_path):
  # The native-layout ablation: the SBU pose run re-initialised conv3 on
  # purpose, so its RGB run may start from the NTU RGB run; a native pose
  # run trained from scratch gives s of another layout: refused.
  native = dict(SMALL_POSE, epochs=1, skeleton_layout="native")
  chosen, scratch = tmp_path / "pose_native_tuned", tmp_path / "pose_scratch"
  train_pose.train_pose(chosen, tiny_sbu, **dict(
      native, learning_rate=0.0, init_from=str(pose_run),
      reinitialise=["conv3"]))
  train_pose.train_pose(scratch, tiny_sbu, **native)
  rgb = dict(SMALL_RGB, epochs=1, num_attention_images=0,
             init_from=str(rgb_run))
  with pytest.raises(transfer.SourceMismatchError,
                     match="tensor_skeleton 'kinect_v2' in the source,"
                     " 'sbu' here"):
    train_rgb.train_rgb(tmp_path / "refused", tiny_sbu, scratch, **rgb)
  train_rgb.train_rgb(tmp_path / "rgb", tiny_sbu, chosen, **rgb)
  stage = json.loads((tmp_path / "rgb" / "stage.json").read_text())
  assert (stage["tensor_skeleton"], stage["init_from"]["tensor_skeleton"]) == (
      "sbu", "kinect_v2")
