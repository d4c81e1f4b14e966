"""Clip-level evaluation figures: top-k, mean-class accuracy, confusion matrix."""

from __future__ import annotations

import csv
import os
from typing import Sequence

import numpy as np

from posedriven import atomic


def top_k_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
  """Fraction of rows whose label is among the k highest logits.

  Ties are broken against the label (a tie does not count as a hit), so a
  constant prediction does not score.
  """
  labels = np.asarray(labels)
  k = min(k, logits.shape[1])
  label_logit = logits[np.arange(len(labels)), labels][:, None]
  higher_or_equal = (logits >= label_logit).sum(axis=1) - 1
  return float(np.mean(higher_or_equal < k))


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray,
                     num_classes: int) -> np.ndarray:
  """``[C, C]`` counts; rows are true classes, columns predictions."""
  matrix = np.zeros((num_classes, num_classes), np.int64)
  np.add.at(matrix, (np.asarray(labels), np.asarray(predictions)), 1)
  return matrix


def mean_class_accuracy(matrix: np.ndarray) -> float:
  """Mean over classes present in the labels of per-class recall."""
  support = matrix.sum(axis=1)
  present = support > 0
  return float(np.mean(np.diag(matrix)[present] / support[present]))


def classification_report(logits: np.ndarray, labels: np.ndarray
                          ) -> dict[str, float]:
  """top-1, top-5 and mean-class accuracy of clip-level logits."""
  num_classes = logits.shape[1]
  matrix = confusion_matrix(labels, logits.argmax(axis=1), num_classes)
  return {
      "top1": top_k_accuracy(logits, labels, 1),
      "top5": top_k_accuracy(logits, labels, 5),
      "mean_class": mean_class_accuracy(matrix),
      "num_clips": int(len(labels)),
  }


def write_per_class_csv(path: str | os.PathLike, matrix: np.ndarray,
                        class_names: Sequence[str]) -> None:
  """One row per class: support, correct, recall, precision."""
  support = matrix.sum(axis=1)
  predicted = matrix.sum(axis=0)
  correct = np.diag(matrix)
  with atomic.replacing(path) as tmp, open(tmp, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["class_index", "class_name", "support", "correct",
                     "recall", "precision"])
    for c, name in enumerate(class_names):
      recall = correct[c] / support[c] if support[c] else float("nan")
      precision = correct[c] / predicted[c] if predicted[c] else float("nan")
      writer.writerow([c, name, int(support[c]), int(correct[c]),
                       f"{recall:.4f}", f"{precision:.4f}"])
