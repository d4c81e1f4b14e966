"""Tables over folds (experiments.folds) and the runner on folds."""

import json

import numpy as np
import pytest

from posedriven.data import synthetic
from posedriven.data.synthetic import sbu_msr
from posedriven.experiments import folds
from posedriven.experiments import report
from posedriven.experiments import runner
from posedriven.experiments import spec


def _record(names, **rows):
  return {"names": list(names), "correct": {r: list(c)
                                            for r, c in rows.items()}}


def test_pooled_outcomes_are_the_union_of_the_folds_test_clips():
  one = {**_record(["a", "b"], A=[1, 0], K=[1, 1]),
         "motion": {"A": [1, 1], "K": [0, 1]}, "action_groups": {"1": 0}}
  two = {**_record(["c"], A=[0], K=[1]), "motion": {"A": [0], "K": [1]},
         "action_groups": {"1": 0}}
  pooled = folds.pool_outcomes([one, two])
  assert pooled == {"names": ["a", "b", "c"],
                    "correct": {"A": [1, 0, 0], "K": [1, 1, 1]},
                    "motion": {"A": [1, 1, 0], "K": [0, 1, 1]},
                    "action_groups": {"1": 0}}


def test_overlapping_folds_and_other_rows_are_refused():
  with pytest.raises(ValueError, match="clip b is in the test sets of folds"
                     " 1 and 2"):
    folds.pool_outcomes([_record("ab", A=[1, 0]), _record("cb", A=[1, 1])])
  with pytest.raises(ValueError, match="other rows"):
    folds.pool_outcomes([_record("a", A=[1]), _record("b", K=[1])])


def _fold_table(names, a, k):
  figures = lambda c: {"top1": float(np.mean(c)), "top5": 1.0,
                       "mean_class": float(np.mean(c))}
  return {"main": {"table": {"A": figures(a), "K": figures(k)},
                   "clip_outcomes": _record(names, A=a, K=k)}}


def test_a_seed_averages_its_folds_and_pools_their_clips():
  # Folds of 2 and 4 clips: the folds' mean (the paper's figure) and the
  # pooled top-1 (the interval's centre) differ.
  per_fold = [_fold_table("ab", [1, 1], [1, 0]),
              _fold_table("cdef", [0, 0, 0, 1], [1, 1, 1, 1])]
  pooled = folds.pool_tables(per_fold, ["main"])["main"]
  assert pooled["table"]["A"]["top1"] == pytest.approx((1.0 + 0.25) / 2)
  assert pooled["table"]["K"]["top1"] == pytest.approx((0.5 + 1.0) / 2)
  assert pooled["clip_outcomes"]["names"] == list("abcdef")
  assert pooled["clip_outcomes"]["correct"]["A"] == [1, 1, 0, 0, 0, 1]


def test_summary_and_report_give_each_folds_figure():
  experiment = spec.build(
      name="x", title="Folded", datasets={"d": {}}, seeds=[0, 1],
      runs={"pose": {"stage": "pose"}, "rgb": {"stage": "rgb",
                                               "pose": "pose"}},
      rows=[{"row": "A", "stream": "pose", "pose": "pose"},
            {"row": "K", "stream": "fused", "pose": "pose", "rgb": "rgb"}],
      claims=[["K", "A"]], folds={"d": [["f1.gin"], ["f2.gin"]]})
  per_seed = []
  for a1, a2 in (([1, 0], [0, 0]), ([1, 1], [1, 0])):
    per_fold = [_fold_table(["S001C001P001R001A001", "S001C001P001R001A002"],
                            a1, [1, 1]),
                _fold_table(["S001C001P002R001A001", "S001C001P002R001A002"],
                            a2, [1, 0])]
    per_seed.append({
        "tables": folds.pool_tables(per_fold, ["main"]),
        "folds": [{"fold": k, "tables": t} for k, t in enumerate(per_fold,
                                                                 1)]})
  tables = runner.summarize(experiment, per_seed)
  main = tables["main"]
  # Fold 1: A 0.5 then 1.0; fold 2: 0.0 then 0.5.
  assert main["per_fold_top1"] == {"A": [0.75, 0.25], "K": [1.0, 0.5]}
  assert main["table"]["A"]["top1"] == pytest.approx(0.5)
  assert main["intervals"]["num_clips"] == 8  # 2 seeds x 4 pooled clips
  (claim,) = main["intervals"]["claims"]
  assert claim["difference"] == pytest.approx(0.75 - 0.5)
  text = report.format_results({
      "title": "Folded", "seeds": [0, 1], "folds": 2, "fold_dataset": "d",
      "titles": {"A": "pose", "K": "fused"}, "tables": tables,
      "per_seed": []})
  assert "2 folds of d: figures averaged over folds" in text
  assert "A      top-1 per fold (mean over seeds): 75.0, 25.0" in text
  assert "K      top-1 per fold (mean over seeds): 100.0, 50.0" in text


def test_without_folds_nothing_per_fold_is_added():
  experiment = spec.build(
      name="x", datasets={"d": {}},
      runs={"pose": {"stage": "pose"}},
      rows=[{"row": "A", "stream": "pose", "pose": "pose"}])
  tables = runner.summarize(experiment, [
      {"tables": {"main": {"table": {"A": {"top1": 1.0, "top5": 1.0,
                                           "mean_class": 1.0}},
                           "clip_outcomes": _record("ab", A=[1, 1])}}}])
  assert "per_fold_top1" not in tables["main"]


# Pose only (no video read), one epoch, no held-out clips.
BINDINGS = ["TRANSFER_EPOCHS = 1", "TRANSFER_NTU_POSE_EPOCHS = 1",
            "TRANSFER_VALIDATION_FRACTION = 0.0", "train_pose.features = 8",
            "prepare_dataset.store = 'none'",
            "evaluate.num_attention_images = 0"]


def _two_fold_experiment():
  """Transfer declared as in transfer.gin, two SBU folds: NTU pre-training
  (shared), then from scratch and fine-tuned per fold."""
  return spec.build(
      name="folded", title="Two folds",
      datasets={"ntu": {"gin_files": ["prepare/synthetic_cs.gin"],
                        "probe_crops": False},
                "target": {"gin_files": ["prepare/sbu_fold1.gin"],
                           "probe_crops": False}},
      folds={"target": [["prepare/sbu_fold1.gin"],
                        ["prepare/sbu_fold2.gin"]]},
      runs={"ntu_pose": {"stage": "pose", "data": "ntu",
                         "gin_files": ["pose/transfer_ntu.gin"]},
            "scratch": {"stage": "pose", "data": "target",
                        "gin_files": ["pose/transfer.gin"]},
            "tuned": {"stage": "pose", "data": "target",
                      "gin_files": ["pose/transfer_finetune.gin"],
                      "init_from": "ntu_pose"}},
      rows=[{"row": "ntu", "stream": "pose", "pose": "ntu_pose",
             "table": "ntu"},
            {"row": "scratch", "stream": "pose", "pose": "scratch",
             "table": "target"},
            {"row": "tuned", "stream": "pose", "pose": "tuned",
             "table": "target"}],
      claims=[["tuned", "scratch"]], seeds=[0, 1])


@pytest.mark.slow
def test_runner_trains_the_target_per_fold_and_ntu_once_per_seed(tmp_path):
  ntu, sbu = tmp_path / "ntu", tmp_path / "sbu"
  synthetic.generate_dataset(ntu, num_subjects=2, cameras=(1,),
                             actions=(1, 2), image_size=(64, 48),
                             num_frames_range=(12, 14))
  # Fold 1 tests on s01s02, fold 2 on s02s03: each trains on the other.
  sbu_msr.generate_sbu(sbu, sets=("s01s02", "s02s03"), write_frames=False)
  experiment = _two_fold_experiment()
  out = tmp_path / "out"
  results = runner.run(experiment, out,
                       dataset_roots={"ntu": ntu, "target": sbu},
                       gin_bindings=BINDINGS)
  runs = sorted(str(p.relative_to(out)) for p in out.glob("**/runs/*"))
  assert runs == [f"seed_{s}/{f}runs/{r}" for s in (0, 1) for f, r in (
      ("fold_1/", "scratch"), ("fold_1/", "tuned"), ("fold_2/", "scratch"),
      ("fold_2/", "tuned"), ("", "ntu_pose"))]
  # Each fold's fine-tuning started from its seed's one NTU run.
  for s in (0, 1):
    for k in (1, 2):
      stage = json.loads((out / f"seed_{s}/fold_{k}/runs/tuned/stage.json")
                         .read_text())
      assert stage["params"]["init_from"] == str(
          out / f"seed_{s}/runs/ntu_pose")
  # The target prepared per fold, fold 2 from fold 1's records.
  fold2 = json.loads((out / "tfrecords_target_fold2/manifest.json")
                     .read_text())
  assert fold2["records_from"] == [str(out / "tfrecords_target_fold1")]
  assert fold2["settings"]["protocol"] == "sbu_fold2"

  names = sorted(p.name for p in sbu.glob("s*/*/*"))
  for seed in results["per_seed"]:
    per_fold = [f["tables"]["target"]["clip_outcomes"]["names"]
                for f in seed["folds"]]
    assert [sorted({n[:6] for n in f}) for f in per_fold] == [["s01s02"],
                                                              ["s02s03"]]
    pooled = seed["tables"]["target"]["clip_outcomes"]
    assert pooled["names"] == per_fold[0] + per_fold[1]
    assert len(pooled["names"]) == len(names) == 16
    for row in ("scratch", "tuned"):
      assert pooled["correct"][row] == [
          c for f in seed["folds"]
          for c in f["tables"]["target"]["clip_outcomes"]["correct"][row]]
      assert seed["tables"]["target"]["table"][row]["top1"] == (
          pytest.approx(np.mean([f["tables"]["target"]["table"][row]["top1"]
                                 for f in seed["folds"]])))
    # The shared table: NTU's own test clips, once.
    assert "ntu" not in seed["folds"][0]["tables"]
  target = results["tables"]["target"]
  assert target["intervals"]["num_clips"] == 2 * 16
  assert [c["claim"] for c in target["intervals"]["claims"]] == [
      "tuned > scratch"]
  assert len(target["per_fold_top1"]["tuned"]) == 2
  assert results["folds"] == 2 and results["fold_dataset"] == "target"
  text = report.format_results(results)
  assert "tuned  top-1 per fold (mean over seeds): " in text

  # Rerun: every run and evaluation is reused.
  again = runner.run(experiment, out,
                     dataset_roots={"ntu": ntu, "target": sbu},
                     gin_bindings=BINDINGS)
  assert again["tables"] == json.loads(json.dumps(results["tables"]))
  assert not any(k.startswith(("train_", "prepare_"))
                 for s in again["per_seed"] for k in s["seconds"])
