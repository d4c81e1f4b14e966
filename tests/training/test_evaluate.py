"""Stage 3: evaluating pose, RGB and fused logits, with every figure."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posedriven.training import evaluate
from posedriven.training import run_dir
from tests import helpers


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


@pytest.mark.parametrize("bad,words", [
    (dict(pose_dir=None), "needs pose_dir, rgb_dir or both"),
    (dict(split="validation"), "split must be 'train' or 'test'"),
    (dict(num_subsequences=0), "num_subsequences must be >= 1"),
])
def test_bad_arguments_fail_before_the_output_directory_is_made(tmp_path, bad,
                                                                words):
  kwargs = dict(dict(pose_dir=tmp_path / "pose_run"), **bad)
  with pytest.raises(ValueError, match=words):
    evaluate.evaluate(tmp_path / "eval", tmp_path / "no_data", **kwargs)
  assert not (tmp_path / "eval").exists()
