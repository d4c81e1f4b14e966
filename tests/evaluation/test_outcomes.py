"""Per-clip outcome records and the intervals computed from them."""

import json

import numpy as np
import pytest

from posedriven.evaluation import outcomes

# Two performances (P001, P002) of action 1, each seen by cameras 1 and 2.
_NAMES = np.array([f"S001C00{c}P00{p}R001A001" for p in (1, 2)
                   for c in (1, 2)])


def _logits(predicted, num_classes=8):
  return np.eye(num_classes, dtype=np.float32)[predicted]


def _evaluation(pose, rgb, labels=(0, 0, 0, 0), names=_NAMES):
  return {"names": names, "labels": np.array(labels),
          "pose": _logits(pose), "rgb": _logits(rgb)}


def test_halves_split_a_prediction_into_motion_and_object():
  # Labels are motion * 2 + object (synthetic.class_index).
  labels = np.array([0, 1, 2, 7])
  predicted = np.array([0, 0, 3, 6])
  halves = outcomes.halves_correct(predicted, labels)
  np.testing.assert_array_equal(halves["motion"], [1, 1, 1, 1])
  np.testing.assert_array_equal(halves["object"], [1, 0, 0, 0])
  halves = outcomes.halves_correct(np.array([2, 5]), np.array([0, 1]))
  np.testing.assert_array_equal(halves["motion"], [0, 0])
  np.testing.assert_array_equal(halves["object"], [1, 1])


def test_record_keeps_each_rows_correct_clips_and_halves():
  record = outcomes.ClipOutcomes({1: 0, 2: 0})
  # Class 1 is motion 0 with the other object: motion right, object wrong.
  evaluation = _evaluation(pose=[0, 1, 0, 0], rgb=[2, 0, 0, 0])
  record.add("A", evaluation, "pose")
  record.add("G", evaluation, "rgb")
  saved = json.loads(json.dumps(record.to_json()))
  assert saved["names"] == list(_NAMES)
  assert saved["correct"] == {"A": [1, 0, 1, 1], "G": [0, 1, 1, 1]}
  assert saved["motion"] == {"A": [1, 1, 1, 1], "G": [0, 1, 1, 1]}
  assert saved["object"] == {"A": [1, 0, 1, 1], "G": [1, 1, 1, 1]}
  assert saved["action_groups"] == {"1": 0, "2": 0}


def test_record_without_halves_takes_any_classes():
  # 20 classes: not synthetic, so no motion x object halves.
  record = outcomes.ClipOutcomes(halves=False)
  record.add("A", {"names": _NAMES, "labels": np.array([19, 3, 3, 3]),
                   "pose": np.eye(20)[[19, 3, 0, 3]]}, "pose")
  assert record.to_json() == {"names": list(_NAMES),
                              "correct": {"A": [1, 1, 0, 1]}}


def test_rows_of_one_record_must_share_their_clips():
  record = outcomes.ClipOutcomes()
  record.add("A", _evaluation([0] * 4, [0] * 4), "pose")
  with pytest.raises(RuntimeError, match="row G was evaluated on other"):
    record.add("G", _evaluation([0] * 4, [0] * 4, names=_NAMES[::-1]), "rgb")


def test_summary_pools_seeds_and_groups_cameras_of_a_performance():
  records = []
  for pose, rgb in (([0, 0, 1, 1], [0, 0, 0, 0]),
                    ([0, 0, 0, 0], [0, 0, 0, 0])):
    record = outcomes.ClipOutcomes()
    evaluation = _evaluation(pose, rgb)
    record.add("A", evaluation, "pose")
    record.add("G", evaluation, "rgb")
    records.append(json.loads(json.dumps(record.to_json())))
  summary = outcomes.summarize_outcomes(records, ["A", "G"], [("G", "A")])
  assert summary["num_seeds"] == 2 and summary["num_clips"] == 8
  # Two cameras of a performance are one unit: 2 per seed.
  assert summary["num_performances"] == 4
  assert summary["unit"] == "seeds, then performances"
  # Means of 0/1 outcomes over 8 clips are eighths, exact in float64
  # (float64 sums of small integers are exact; a division by a power of two
  # is too), so approx's default 1e-6 relative only absorbs the order in
  # which seeds are averaged.
  assert summary["rows"]["A"]["top1"] == pytest.approx(0.75)
  assert summary["rows"]["G"]["low"] == summary["rows"]["G"]["high"] == 1.0
  assert summary["claims"][0]["difference"] == pytest.approx(0.25)
  assert set(summary["halves"]) == {"motion", "object"}
  assert outcomes.per_seed_top1(records, ["A", "G"]) == {
      "A": [0.5, 1.0], "G": [1.0, 1.0]}


def test_summary_of_records_without_halves_has_none():
  record = outcomes.ClipOutcomes(halves=False)
  record.add("A", _evaluation([0, 1, 0, 0], [0] * 4), "pose")
  summary = outcomes.summarize_outcomes([record.to_json()], ["A"])
  assert "halves" not in summary and summary["claims"] == []
