"""Stage 3: evaluate pose only, RGB only and fused (10 sub-sequences per clip).

Writes to ``output_dir``:

* ``metrics.json``: top-1 / top-5 / mean-class accuracy per stream;
* ``logits.npz``: clip-level logits per stream (``pose``, ``rgb``,
  ``fused``) with ``names`` and ``labels``;
* ``per_class_<stream>.csv`` and ``confusion_<stream>.png``;
* ``attention/<clip>.png``: spatial and temporal attention of a few clips;
* ``tensorboard/``: the same figures as images, the metrics as scalars and
  the evaluated runs' hyper-parameters (HParams dashboard);
* ``operative_config.gin``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import gin
import numpy as np
import tensorflow as tf

from posedriven import config
from posedriven import visualization
from posedriven.data import pipeline
from posedriven.data import prepared_data
from posedriven.data import protocols
from posedriven.models import fusion
from posedriven.training import best_model
from posedriven.training import classifier
from posedriven.training import metrics
from posedriven.training import run_dir
from posedriven.training import summaries


def _stream_logits(model, data_pattern: str, *, features: str,
                   joint_order: str, skeleton_layout: str,
                   num_subsequences: int, batch_size: int,
                   keys=("logits",)):
  input_keys = ("pose",) if features == "none" else ("pose", features)
  ds = pipeline.eval_dataset(data_pattern, batch_size=batch_size,
                             num_subsequences=num_subsequences,
                             joint_order=joint_order,
                             skeleton_layout=skeleton_layout,
                             features=features, with_names=True)
  return classifier.predict_dataset(model, ds, input_keys, keys)


def _clip_level(rows: np.ndarray, k: int) -> np.ndarray:
  return pipeline.average_logits_per_clip(rows, k) if len(rows) else rows


@gin.configurable(denylist=["output_dir", "data_dir", "pose_dir", "rgb_dir"])
def evaluate(output_dir: str | os.PathLike,
             data_dir: str | os.PathLike,
             pose_dir: str | os.PathLike | None = None,
             rgb_dir: str | os.PathLike | None = None,
             *,
             split: str = "test",
             num_subsequences: int = 10,
             pose_weight: float = fusion.PAPER_POSE_WEIGHT,
             batch_size: int = 16,
             num_attention_images: int = 8,
             overwrite: bool = False) -> dict[str, Any]:
  """Evaluates one or both streams and their logit-level fusion.

  Args:
    output_dir: Where figures go (created).
    data_dir: Prepared data (output of ``tools/prepare_data.py``).
    pose_dir: A finished ``train_pose`` run (or None).
    rgb_dir: A finished ``train_rgb`` run (or None).
    split: ``test`` (or ``train``).
    num_subsequences: Sub-sequences averaged per clip (paper: 10).
    pose_weight: Fusion weight of the pose logits (paper: plain average
      0.5; :func:`fusion.fuse_logits`).
    batch_size: Clips per batch.
    num_attention_images: Clips whose attention maps are drawn.
    overwrite: Replace an evaluation already in ``output_dir``.

  Returns:
    ``{"pose": {...}, "rgb": {...}, "fused": {...}, "num_clips": N}``.

  Raises:
    atomic.OutputExistsError: ``output_dir`` holds an evaluation
      (``metrics.json``) and not ``overwrite``.
  """
  if pose_dir is None and rgb_dir is None:
    raise ValueError("evaluate needs pose_dir, rgb_dir or both")
  if split not in (protocols.TRAIN, protocols.TEST):
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")
  if num_subsequences < 1:
    raise ValueError(f"num_subsequences must be >= 1, got {num_subsequences}")
  output_dir = run_dir.prepare_eval_dir(output_dir, overwrite)
  data = prepared_data.load_prepared(data_dir)
  pattern = data.pattern(split)
  k = num_subsequences
  clip_logits: dict[str, np.ndarray] = {}
  labels = None
  names: list[str] = []
  attention = None
  run_params: dict[str, Any] = {}
  if pose_dir is not None:
    info = run_dir.read_stage_info(pose_dir)
    run_params.update(info["params"], pose_dir=str(pose_dir))
    model = best_model.load_best_model(pose_dir)
    out, row_labels, row_names = _stream_logits(
        model, pattern, features="none", joint_order=info["joint_order"],
        skeleton_layout=info.get("skeleton_layout", "native"),
        num_subsequences=k, batch_size=batch_size)
    clip_logits["pose"] = _clip_level(out["logits"], k)
    labels, names = row_labels[::k], row_names[::k]
  if rgb_dir is not None:
    info = run_dir.read_stage_info(rgb_dir)
    run_params.update(info["params"], rgb_dir=str(rgb_dir),
                      joint_order=info["joint_order"])
    model = best_model.load_best_model(rgb_dir)
    out, row_labels, row_names = _stream_logits(
        model, pattern, features="glimpses", joint_order=info["joint_order"],
        skeleton_layout=info.get("skeleton_layout", "native"),
        num_subsequences=k, batch_size=batch_size,
        keys=("logits", "spatial_attention", "temporal_attention"))
    clip_logits["rgb"] = _clip_level(out["logits"], k)
    if labels is not None and not np.array_equal(labels, row_labels[::k]):
      raise RuntimeError("pose and RGB evaluation saw different clips")
    labels, names = row_labels[::k], row_names[::k]
    attention = (out["spatial_attention"][::k], out["temporal_attention"][::k])
  if "pose" in clip_logits and "rgb" in clip_logits:
    clip_logits["fused"] = fusion.fuse_logits(
        clip_logits["pose"], clip_logits["rgb"], pose_weight)

  results: dict[str, Any] = {"num_clips": int(len(labels)), "split": split,
                             "num_subsequences": k, "pose_weight": pose_weight}
  writer = tf.summary.create_file_writer(
      str(output_dir / run_dir.TENSORBOARD_DIR))
  with writer.as_default():
    # The evaluated runs' settings beside the test metrics: one row per
    # evaluation in TensorBoard's HParams dashboard.
    summaries.write_hparams({**run_params, "split": split,
                             "num_subsequences": k,
                             "pose_weight": pose_weight})
    for stream, logits in clip_logits.items():
      results[stream] = metrics.classification_report(logits, labels)
      matrix = metrics.confusion_matrix(labels, logits.argmax(axis=1),
                                        data.num_classes)
      metrics.write_per_class_csv(output_dir / f"per_class_{stream}.csv",
                                  matrix, data.class_names)
      image = visualization.confusion_matrix_image(matrix, data.class_names)
      visualization.write_png(output_dir / f"confusion_{stream}.png", image)
      tf.summary.image(f"confusion/{stream}", image[None], step=0)
      for key in ("top1", "top5", "mean_class"):
        tf.summary.scalar(f"{stream}/{key}", results[stream][key], step=0)
      logging.info("%s: top1 %.4f top5 %.4f mean-class %.4f (%d clips)",
                   stream, results[stream]["top1"], results[stream]["top5"],
                   results[stream]["mean_class"], len(labels))
    if attention is not None and num_attention_images:
      (output_dir / "attention").mkdir(exist_ok=True)
      predicted = clip_logits["rgb"].argmax(axis=1)
      for i in range(min(num_attention_images, len(names))):
        title = (f"{names[i]} true: {data.class_names[labels[i]]} / "
                 f"pred: {data.class_names[predicted[i]]}")
        image = visualization.attention_image(attention[0][i],
                                              attention[1][i], title)
        visualization.write_png(output_dir / "attention" / f"{names[i]}.png",
                                image)
        tf.summary.image(f"attention/{names[i]}", image[None], step=0)
  writer.close()
  run_dir.write_evaluation(output_dir, results, {
      "names": np.array(names), "labels": labels, **clip_logits})
  config.save_operative_config(output_dir)
  return results
