"""Evaluation figures on handcrafted logits with known answers."""

import csv

import numpy as np
import pytest

from posedriven.training import metrics


def _logits():
  # 6 clips, 6 classes. Rows: the true class's rank is 1, 1, 2, 6, 1, 5.
  labels = np.array([0, 1, 2, 3, 4, 4])
  logits = np.array([
      [9, 1, 2, 3, 4, 5],   # label 0 rank 1
      [1, 9, 2, 3, 4, 5],   # label 1 rank 1
      [1, 2, 8, 9, 4, 5],   # label 2 rank 2 (predicted 3)
      [6, 5, 4, 0, 2, 1],   # label 3 rank 6 (predicted 0)
      [1, 2, 3, 4, 9, 5],   # label 4 rank 1
      [9, 8, 7, 6, 5, 0],   # label 4 rank 5 (predicted 0)
  ], np.float32)
  return logits, labels


def test_known_figures():
  logits, labels = _logits()
  report = metrics.classification_report(logits, labels)
  assert report["top1"] == pytest.approx(3 / 6)
  assert report["top5"] == pytest.approx(5 / 6)
  # Per-class recall: c0 1, c1 1, c2 0, c3 0, c4 1/2 -> mean 0.5 over 5 classes.
  assert report["mean_class"] == pytest.approx((1 + 1 + 0 + 0 + 0.5) / 5)
  assert report["num_clips"] == 6


def test_ties_do_not_count_as_hits():
  logits = np.zeros((4, 10), np.float32)
  labels = np.array([0, 1, 2, 3])
  assert metrics.top_k_accuracy(logits, labels, 1) == 0.0
  assert metrics.top_k_accuracy(logits, labels, 5) == 0.0


def test_confusion_matrix_rows_are_true_classes():
  m = metrics.confusion_matrix([0, 0, 1, 2], [0, 1, 1, 0], 3)
  np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [1, 0, 0]])


def test_per_class_csv(tmp_path):
  m = metrics.confusion_matrix([0, 0, 1], [0, 1, 1], 3)
  path = tmp_path / "per_class.csv"
  metrics.write_per_class_csv(path, m, ["a", "b", "c"])
  rows = list(csv.DictReader(open(path)))
  assert [r["class_name"] for r in rows] == ["a", "b", "c"]
  assert rows[0]["recall"] == "0.5000" and rows[1]["precision"] == "0.5000"
  assert rows[2]["support"] == "0" and rows[2]["recall"] == "nan"
