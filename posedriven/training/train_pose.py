"""Stage 1: train the pose stream f_sk + linear classifier (paper, section 4)."""

from __future__ import annotations

import logging
import os
from typing import Any, Sequence

import gin
import keras

from posedriven import config
from posedriven.data import pipeline
from posedriven.data import pose_tensor
from posedriven.data import prepared_data
from posedriven.data import skeleton_layouts
from posedriven.data import skeletons
from posedriven.models import streams
from posedriven.training import classifier
from posedriven.training import distribute
from posedriven.training import dtype_policy
from posedriven.training import loop
from posedriven.training import run_dir
from posedriven.training import transfer


@gin.configurable(denylist=["output_dir", "data_dir"])
def train_pose(output_dir: str | os.PathLike,
               data_dir: str | os.PathLike,
               *,
               batch_size: int = 64,
               learning_rate: float | None = 1e-4,
               lr_schedule: str = "constant",
               epochs: int = 200,
               patience: int | None = 20,
               validation_fraction: float = 0.05,
               dropout: float = 0.5,
               rotation_augment_deg: float = 0.0,
               scale_augment: float = 0.0,
               joint_order: str = "topological",
               skeleton_layout: str = "native",
               filters: Sequence[int] = (64, 64),
               features: int = 1024,
               init_from: str | None = None,
               reinitialise: Sequence[str] = (),
               freeze_pose_network: bool = False,
               seed: int = 0,
               strategy: str = "default",
               mixed_precision: str | None = None,
               jit_compile: bool = False,
               steps_per_epoch: int | None = None,
               data_service: str | None = None,
               keep_checkpoints: int = 2,
               overwrite: bool = False,
               verbose: int | str = "auto") -> dict[str, Any]:
  """Trains the pose stream and writes ``output_dir/best.keras``.

  Args:
    output_dir: Run directory (resumed if it holds an unfinished run).
    data_dir: Output of ``tools/prepare_data.py``.
    batch_size: Global batch (paper: 64).
    learning_rate: Adam (paper: 1e-4; 10x smaller when fine-tuning). None:
      the ``init_from`` run's rate / 10 (``transfer.resolve_learning_rate``).
      ``stage.json`` records the rate used and its origin.
    lr_schedule: ``constant`` (paper) or ``cosine`` (decays to 0 over
      ``epochs``; for small sets, ``pose/msr3d.gin``).
    epochs: Maximum epochs.
    patience: Early stopping on the validation clips.
    validation_fraction: Training clips held out for validation (paper: 5%),
      chosen by a stable hash of the clip name.
    dropout: On the pose features (paper: 0.5).
    rotation_augment_deg, scale_augment: Training augmentation (not in the
      paper; for small sets): each training sub-sequence rotated about the
      vertical axis by up to this many degrees and scaled by up to
      ``1 +- scale_augment`` (``pipeline.train_dataset``).
    joint_order: ``topological`` (paper) or a Table 3 ablation;
      ``random`` draws the permutation from ``seed`` and the run records
      it as ``random:<seed>`` (``pose_tensor.resolve_joint_order``).
    skeleton_layout: ``native`` (the dataset's own joints) or ``kinect_v2``
      (SBU / MSR joints placed on the NTU layout, so that every layer of an
      NTU run transfers; ``data/skeleton_layouts.py``).
    filters, features: ``PoseConvNet`` sizes.
    init_from: A pose run (e.g. trained on NTU) to start from: every layer
      is copied from it, the class layer only when the class lists match
      (``transfer.transfer_weights``; recorded in ``stage.json``). It must
      share this run's joint order and tensor layout (``stage.json``;
      ``transfer.check_source``), the layout unless ``reinitialise`` names
      conv3.
    reinitialise: Layers (``conv3``) that may keep a fresh initialisation
      when ``init_from`` has no layer of their shape; any other mismatch
      is an error.
    freeze_pose_network: Train only the class layer (Table 5, "no
      fine-tuning"; with ``init_from``).
    seed: Seeds data order, sub-sequences, initialisation and dropout.
    strategy: ``default``, ``mirrored``, ``multi_worker`` or ``tpu``.
    mixed_precision: None, ``mixed_bfloat16`` or ``mixed_float16``.
    jit_compile: XLA-compile the train step.
    steps_per_epoch: Cap per epoch (smoke runs).
    data_service: A ``tf.data`` service dispatcher that reads and samples
      the training clips (``pipeline.train_dataset``).
    keep_checkpoints: Epoch checkpoints kept besides ``best.keras`` and the
      backup (the newest; BUILD_NOTES has the bytes per run).
    overwrite: Delete a finished run in ``output_dir`` and start again.
    verbose: Keras progress bar setting.

  Returns:
    Summary with the best validation figures.
  """
  params = {k: v for k, v in locals().items() if k != "output_dir"}
  # Bad names fail before the run directory is made or data is read.
  distribute.check_strategy(strategy)
  dtype_policy.check_precision(mixed_precision)
  classifier.check_schedule(lr_schedule)
  # Before any other TensorFlow op (multi-worker collectives need it).
  dist = distribute.get_strategy(strategy)
  chief = distribute.is_chief(dist)
  output_dir = run_dir.prepare_run_dir(output_dir, overwrite, chief)
  distribute.barrier(dist)
  data = prepared_data.load_prepared(data_dir)
  train_pattern = data.pattern("train")
  info = pipeline.dataset_info(pipeline.list_files(train_pattern))
  skeleton = skeletons.get_skeleton(info["skeleton"])
  joint_order = pose_tensor.resolve_joint_order(joint_order, seed)
  tensor_skeleton = skeleton_layouts.tensor_skeleton(skeleton,
                                                     skeleton_layout)
  width = pose_tensor.pose_tensor_width(tensor_skeleton, joint_order)
  target = {"stage": "pose", "joint_order": joint_order,
            "tensor_skeleton": tensor_skeleton.name, "pose_width": width}
  allow_layout_change = transfer.layout_change_allowed(reinitialise)
  # A run of other inputs, or unfinished: fail before work.
  source = transfer.source_record(init_from, target,
                                  allow_layout_change=allow_layout_change)
  learning_rate, learning_rate_origin = transfer.resolve_learning_rate(
      learning_rate, init_from)
  if freeze_pose_network and not init_from:
    raise ValueError("freeze_pose_network needs init_from (a trained pose"
                     " network to keep)")
  keras.utils.set_random_seed(seed)
  num_train_clips, num_val_clips = data.training_sizes(validation_fraction)
  has_val = num_val_clips > 0
  if not has_val:
    logging.warning("%s: no validation clips; selecting on training loss",
                    data_dir)

  stage = {
      "stage": "pose", "joint_order": joint_order, "pose_width": width,
      "skeleton": skeleton.name, "skeleton_layout": skeleton_layout,
      "tensor_skeleton": tensor_skeleton.name, "dataset": data.dataset,
      "num_classes": data.num_classes, "data_dir": str(data_dir),
      "learning_rate": learning_rate,
      "learning_rate_origin": learning_rate_origin, "params": params}
  if source is not None:
    stage["init_from"] = source

  def build():
    model = streams.build_pose_stream(data.num_classes, width,
                                      filters=filters, features=features,
                                      dropout=dropout)
    if init_from:
      stage["transfer"] = transfer.transfer_from_run(
          init_from, model, dataset=data.dataset, class_layer="pose_logits",
          target=target, allow_layout_change=allow_layout_change,
          reinitialise=reinitialise)
      if chief:
        run_dir.write_stage_info(output_dir, stage)
    if freeze_pose_network:
      model.pose_network.trainable = False
    steps = steps_per_epoch or -(-num_train_clips // batch_size)
    return classifier.compile_classifier(
        model, classifier.learning_rate_schedule(
            learning_rate, lr_schedule, epochs * steps), jit_compile)

  def train_ds(epoch):
    ds = pipeline.train_dataset(train_pattern, batch_size=batch_size,
                                joint_order=joint_order,
                                skeleton_layout=skeleton_layout,
                                seed=seed + epoch,
                                validation=False,
                                validation_fraction=validation_fraction,
                                features="none", data_service=data_service,
                                num_clips=num_train_clips,
                                rotation_augment_deg=rotation_augment_deg,
                                scale_augment=scale_augment)
    return classifier.with_targets(ds, ["logits"])

  val_ds = None
  if has_val:
    val_ds = classifier.with_targets(pipeline.eval_dataset(
        train_pattern, batch_size=batch_size, num_subsequences=1,
        joint_order=joint_order, skeleton_layout=skeleton_layout,
        validation=True,
        validation_fraction=validation_fraction, features="none",
        num_clips=num_val_clips), ["logits"])
  with dtype_policy.precision(mixed_precision):
    if chief:
      run_dir.write_stage_info(output_dir, stage,
                               keep=("transfer",) if init_from else ())
      config.save_operative_config(output_dir)
    _, state = loop.fit_resumable(
        build_model=build, train_dataset_fn=train_ds, val_dataset=val_ds,
        output_dir=output_dir, epochs=epochs, seed=seed, patience=patience,
        monitor="val_loss" if has_val else "loss",
        steps_per_epoch=steps_per_epoch, keep_checkpoints=keep_checkpoints,
        strategy=dist, chief=chief,
        hparams={"stage": "pose", "dataset": data.dataset, **params,
                 "learning_rate": learning_rate},
        verbose=verbose)
  summary = {"stage": "pose", "epochs": state.epochs_done,
             "best_epoch": state.best_epoch + 1,
             "best": state.history[state.best_epoch] if state.history else {}}
  if chief:
    run_dir.mark_finished(output_dir, summary)
  return summary
