"""The run-directory layout: names, the finished markers, reuse-or-run."""

import json
from pathlib import Path

import numpy as np
import pytest

from posedriven import atomic
from posedriven.training import run_dir


def _old_finished_run(run: Path) -> Path:
  # As every version of the stages has written it: the summary, last.
  run.mkdir(parents=True)
  (run / "FINISHED.json").write_text(json.dumps({"stage": "pose"}))
  return run


def _old_evaluation(eval_dir: Path) -> Path:
  eval_dir.mkdir(parents=True)
  np.savez(eval_dir / "logits.npz", names=np.array(["a", "b"]),
           labels=np.array([0, 1]), pose=np.eye(2))
  (eval_dir / "metrics.json").write_text(json.dumps({"num_clips": 2}))
  return eval_dir


def test_a_finished_run_is_reused_and_an_unfinished_one_trained(tmp_path):
  calls = []

  def train(run, data_dir, *, seed):
    calls.append((run, data_dir, seed))

  finished = _old_finished_run(tmp_path / "finished")
  assert run_dir.reuse_or_train(finished, train, "data", seed=1) == finished
  assert calls == []
  # A run that stopped before its marker is handed back to train (resume).
  unfinished = tmp_path / "unfinished"
  (unfinished / run_dir.BACKUP_DIR).mkdir(parents=True)
  assert run_dir.reuse_or_train(str(unfinished), train, "data",
                                seed=2) == unfinished
  assert calls == [(unfinished, "data", 2)]


def test_a_finished_evaluation_is_read_not_rerun(tmp_path):
  def evaluate(eval_dir, *args):
    raise AssertionError(f"evaluated again: {eval_dir} {args}")

  eval_dir = _old_evaluation(tmp_path / "eval")
  results, logits = run_dir.reuse_or_evaluate(eval_dir, evaluate, "data")
  assert results == {"num_clips": 2}
  assert list(logits) == ["names", "labels", "pose"]
  np.testing.assert_array_equal(logits["pose"], np.eye(2))


def test_an_evaluation_runs_once_and_its_files_read_back(tmp_path):
  calls = []

  def evaluate(eval_dir, data_dir, pose_dir=None):
    calls.append((data_dir, pose_dir))
    run_dir.prepare_eval_dir(eval_dir)
    results = {"pose": {"top1": 0.5}}
    run_dir.write_evaluation(eval_dir, results, {
        "names": np.array(["x"]), "labels": np.array([3]),
        "pose": np.ones((1, 4), np.float32)})
    return results

  eval_dir = tmp_path / "eval"
  first = run_dir.reuse_or_evaluate(eval_dir, evaluate, "data", pose_dir="p")
  again = run_dir.reuse_or_evaluate(eval_dir, evaluate, "data", pose_dir="p")
  assert calls == [("data", "p")]
  assert first[0] == again[0] == {"pose": {"top1": 0.5}}
  assert again[1]["labels"].tolist() == [3]
  assert run_dir.is_evaluated(eval_dir)
  assert sorted(p.name for p in eval_dir.iterdir()) == ["logits.npz",
                                                         "metrics.json"]
  # The bytes every results file has had: sorted keys, indent 2.
  assert (eval_dir / "metrics.json").read_text() == json.dumps(
      first[0], indent=2, sort_keys=True)


def test_an_evaluation_is_not_replaced_silently(tmp_path):
  eval_dir = _old_evaluation(tmp_path / "eval")
  with pytest.raises(atomic.OutputExistsError, match="an evaluation"):
    run_dir.prepare_eval_dir(eval_dir)
  assert run_dir.prepare_eval_dir(eval_dir, overwrite=True) == eval_dir


def test_marker_and_stage_info_keep_their_names_and_bytes(tmp_path):
  run = run_dir.prepare_run_dir(tmp_path / "run")
  assert not run_dir.is_finished(run)
  info = {"stage": "pose", "data_dir": tmp_path, "filters": (8, 8)}
  run_dir.write_stage_info(run, info)
  # Paths are written as strings, tuples as lists.
  assert run_dir.read_stage_info(run) == {
      "stage": "pose", "data_dir": str(tmp_path), "filters": [8, 8]}
  run_dir.mark_finished(run, {"stage": "pose", "epochs": 2})
  assert run_dir.is_finished(run)
  assert (run / "FINISHED.json").read_text() == json.dumps(
      {"epochs": 2, "stage": "pose"}, indent=2, sort_keys=True)
  assert sorted(p.name for p in run.iterdir()) == ["FINISHED.json",
                                                    "stage.json"]
  with pytest.raises(FileNotFoundError, match="other.*stage.json missing"):
    run_dir.read_stage_info(tmp_path / "other")


def test_stage_info_keeps_what_a_resumed_run_cannot_record_again(tmp_path):
  run_dir.write_stage_info(tmp_path, {"stage": "pose", "transfer": [1, 2],
                                      "params": {"epochs": 1}})
  run_dir.write_stage_info(tmp_path, {"stage": "pose",
                                      "params": {"epochs": 2}},
                           keep=("transfer",))
  assert run_dir.read_stage_info(tmp_path) == {
      "stage": "pose", "transfer": [1, 2], "params": {"epochs": 2}}
  # Without keep (a run that transfers nothing) nothing old survives.
  run_dir.write_stage_info(tmp_path, {"stage": "pose"})
  assert run_dir.read_stage_info(tmp_path) == {"stage": "pose"}
