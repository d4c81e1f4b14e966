"""Stage 2: train the RGB stream with the pose network frozen (section 4)."""

from __future__ import annotations

import logging
import os
from typing import Any, Sequence

import gin
import keras
import numpy as np

from posedriven import config
from posedriven.data import glimpse_crops
from posedriven.data import pipeline
from posedriven.data import pose_tensor
from posedriven.data import prepared_data
from posedriven.data.formats import registry
from posedriven.models import streams
from posedriven.training import best_model
from posedriven.training import callbacks as callbacks_lib
from posedriven.training import classifier
from posedriven.training import distribute
from posedriven.training import dtype_policy
from posedriven.training import loop
from posedriven.training import run_dir
from posedriven.training import transfer

# Table 6 rows of the RGB stream; conditioning is Table 2's switch.
ABLATIONS = ("B", "C", "E", "G")


def _probe_crops(data: prepared_data.PreparedData,
                 dataset_root: str | os.PathLike,
                 names: list[str]) -> np.ndarray:
  """uint8 ``[N, L, 4, S, S, 3]`` hand crops of the probe sub-sequences."""
  fmt = registry.get_format(data.dataset)
  sources = {s.name: s for s in registry.list_clips(dataset_root,
                                                     data.dataset)}
  settings = data.manifest["settings"]
  crops = []
  for name in names:
    if name not in sources:
      raise FileNotFoundError(f"probe clip {name} of {data.data_dir} is not"
                              f" in probe_dataset_root {dataset_root}")
    source = sources[name]
    clip = fmt.load_clip(source.skeleton_path)
    frames = glimpse_crops.crop_clip_hands(
        clip, fmt.frame_source(source, clip),
        crop_size_px=settings["crop_size_px"],
        crop_output_size=settings["crop_output_size"])
    # The frames the evaluation pipeline samples for one sub-sequence.
    indices = pose_tensor.evaluation_subsequences(
        len(frames), pose_tensor.SUBSEQUENCE_LENGTH, 1)[0]
    crops.append(frames[indices])
  return np.stack(crops)


@gin.configurable(denylist=["output_dir", "data_dir", "pose_dir"])
def train_rgb(output_dir: str | os.PathLike,
              data_dir: str | os.PathLike,
              pose_dir: str | os.PathLike,
              *,
              ablation: str = "G",
              conditioning: str = "pose",
              batch_size: int = 64,
              learning_rate: float | None = 1e-4,
              epochs: int = 200,
              patience: int | None = 20,
              validation_fraction: float = 0.05,
              dropout: float = 0.5,
              lstm_units: int = 1024,
              spatial_attention_units: int = 256,
              temporal_attention_units: int = 512,
              feature_units: int = 1024,
              num_attention_images: int = 4,
              probe_dataset_root: str | None = None,
              init_from: str | None = None,
              reinitialise: Sequence[str] = (),
              freeze_rgb_network: bool = False,
              seed: int = 0,
              strategy: str = "default",
              mixed_precision: str | None = None,
              jit_compile: bool = False,
              steps_per_epoch: int | None = None,
              data_service: str | None = None,
              keep_checkpoints: int = 2,
              overwrite: bool = False,
              verbose: int | str = "auto") -> dict[str, Any]:
  """Trains the RGB stream on stored glimpse features.

  Args:
    output_dir: Run directory (resumed if it holds an unfinished run).
    data_dir: Output of ``tools/prepare_data.py`` with glimpse features.
    pose_dir: A finished ``train_pose`` run; its pose network gives ``s`` and
      stays frozen.
    ablation: Table 6 row: ``G`` (spatial + temporal attention, the paper's
      model), ``E`` (spatial only), ``B`` (sum of hands), ``C`` (concat).
    conditioning: ``pose`` (attention sees s) or ``hidden`` (Table 2).
    batch_size, learning_rate, epochs, patience, dropout: as in the paper.
      ``learning_rate`` None: the ``init_from`` run's rate / 10, as in
      ``train_pose``.
    validation_fraction: Training clips held out for validation (paper: 5%).
    lstm_units, spatial_attention_units, temporal_attention_units,
      feature_units: architecture sizes (paper defaults).
    num_attention_images: Probe clips whose attention over hands x time is
      drawn to TensorBoard each epoch: the first validation clips, or the
      first training clips when there is no validation split.
    probe_dataset_root: The dataset ``data_dir`` was prepared from
      (skeletons and videos). When given, the probe clips' hand crops are
      drawn with their attention weights too: stored features cannot be
      shown, so the crops are cut again as preparation cut them.
    init_from: An RGB run (e.g. trained on NTU) to start from: every layer
      but the frozen pose network (which comes from ``pose_dir``) is copied
      from it, the class layer only when the class lists match
      (``transfer.transfer_weights``; recorded in ``stage.json``). Its pose
      run must share ``pose_dir``'s joint order and tensor layout
      (``transfer.check_source``), the layout unless ``pose_dir`` is a run
      that re-initialised conv3 on purpose (the native-layout ablation).
    reinitialise: Layers that may keep a fresh initialisation when
      ``init_from`` has no layer of their shape; any other mismatch is an
      error.
    freeze_rgb_network: Train only the class layer: every other RGB layer
      keeps ``init_from``'s weights (Table 5, "no fine-tuning"; needs
      ``init_from``).
    seed, strategy, mixed_precision, jit_compile, steps_per_epoch,
      data_service, keep_checkpoints, overwrite, verbose: as in
      ``train_pose``.

  Returns:
    Summary with the best validation figures.
  """
  if ablation not in streams.ABLATIONS:
    raise ValueError(f"ablation must be one of {sorted(streams.ABLATIONS)}, "
                     f"got {ablation!r}")
  params = {k: v for k, v in locals().items() if k != "output_dir"}
  # Bad names fail before the run directory is made or data is read.
  distribute.check_strategy(strategy)
  dtype_policy.check_precision(mixed_precision)
  # Before any other TensorFlow op (multi-worker collectives need it).
  dist = distribute.get_strategy(strategy)
  chief = distribute.is_chief(dist)
  output_dir = run_dir.prepare_run_dir(output_dir, overwrite, chief)
  distribute.barrier(dist)
  data = prepared_data.load_prepared(data_dir)
  pose_info = run_dir.read_stage_info(pose_dir)
  joint_order = pose_info["joint_order"]
  skeleton_layout = pose_info.get("skeleton_layout", "native")
  target = {"stage": "rgb", "joint_order": joint_order,
            "tensor_skeleton": pose_info.get("tensor_skeleton"),
            "pose_width": pose_info.get("pose_width")}
  # The RGB layers read s, not the tensor: the layout is the pose run's
  # business, accepted where that run changed it on purpose.
  allow_layout_change = transfer.layout_change_allowed(
      pose_info.get("params", {}).get("reinitialise", ()))
  # A run of other inputs, or unfinished: fail before work.
  source = transfer.source_record(init_from, target,
                                  allow_layout_change=allow_layout_change)
  learning_rate, learning_rate_origin = transfer.resolve_learning_rate(
      learning_rate, init_from)
  if freeze_rgb_network and not init_from:
    raise ValueError("freeze_rgb_network needs init_from (a trained RGB"
                     " stream to keep)")
  train_pattern = data.pattern("train")
  info = pipeline.dataset_info(pipeline.list_files(train_pattern))
  keras.utils.set_random_seed(seed)
  num_train_clips, num_val_clips = data.training_sizes(validation_fraction)
  has_val = num_val_clips > 0
  output_names = ("logits", "spatial_attention", "temporal_attention")

  def build():
    pose_model = best_model.load_best_model(pose_dir)
    model = streams.build_rgb_stream(
        data.num_classes, pose_network=pose_model.pose_network,
        conditioning=conditioning, dropout=dropout, lstm_units=lstm_units,
        glimpse_dim=info["glimpse_dim"],
        spatial_attention_units=spatial_attention_units,
        temporal_attention_units=temporal_attention_units,
        feature_units=feature_units, **streams.ABLATIONS[ablation])
    if init_from:
      stage["transfer"] = transfer.transfer_from_run(
          init_from, model, dataset=data.dataset,
          class_layer=streams.RGB_CLASS_LAYER, target=target,
          allow_layout_change=allow_layout_change,
          reinitialise=reinitialise, keep=("pose_cnn",))
      if chief:
        run_dir.write_stage_info(output_dir, {**stage, "params": params})
    if freeze_rgb_network:
      for layer in model.layers:
        if layer.name != streams.RGB_CLASS_LAYER:
          layer.trainable = False
    return classifier.compile_classifier(model, learning_rate, jit_compile,
                                         output_names)

  def train_ds(epoch):
    ds = pipeline.train_dataset(train_pattern, batch_size=batch_size,
                                joint_order=joint_order,
                                skeleton_layout=skeleton_layout,
                                seed=seed + epoch,
                                validation=False,
                                validation_fraction=validation_fraction,
                                features="glimpses",
                                data_service=data_service,
                                num_clips=num_train_clips)
    return classifier.with_targets(ds, output_names)

  val_ds, extra_callbacks = None, []
  if has_val:
    val_ds = classifier.with_targets(
        classifier.strip_names(pipeline.eval_dataset(
            train_pattern, batch_size=batch_size, num_subsequences=1,
            joint_order=joint_order, skeleton_layout=skeleton_layout,
            validation=True,
            validation_fraction=validation_fraction, features="glimpses",
            num_clips=num_val_clips)), output_names)
  else:
    logging.warning("%s: no validation clips; selecting on training loss",
                    data_dir)
  if num_attention_images:
    # Fixed probe clips: the same every epoch and across resumptions.
    probes = pipeline.eval_dataset(
        train_pattern, batch_size=num_attention_images, num_subsequences=1,
        joint_order=joint_order, skeleton_layout=skeleton_layout,
        validation=has_val,
        validation_fraction=validation_fraction, features="glimpses",
        with_names=True)
    inputs, _ = next(iter(probes))
    names = [n.decode("utf-8") for n in inputs.pop("name").numpy()]
    crops = (_probe_crops(data, probe_dataset_root, names)
             if probe_dataset_root is not None else None)
    extra_callbacks.append(callbacks_lib.AttentionImages(
        {k: v.numpy() for k, v in inputs.items()}, names, crops))
  stage = {"stage": "rgb", "ablation": ablation, "conditioning": conditioning,
           "joint_order": joint_order, "skeleton_layout": skeleton_layout,
           "tensor_skeleton": target["tensor_skeleton"],
           "pose_width": target["pose_width"], "pose_dir": str(pose_dir),
           "dataset": data.dataset, "num_classes": data.num_classes,
           "glimpse_dim": info["glimpse_dim"], "data_dir": str(data_dir),
           "learning_rate": learning_rate,
           "learning_rate_origin": learning_rate_origin}
  if source is not None:
    stage["init_from"] = source
  with dtype_policy.precision(mixed_precision):
    if chief:
      run_dir.write_stage_info(output_dir, {**stage, "params": params},
                               keep=("transfer",) if init_from else ())
      config.save_operative_config(output_dir)
    _, state = loop.fit_resumable(
        build_model=build, train_dataset_fn=train_ds, val_dataset=val_ds,
        output_dir=output_dir, epochs=epochs, seed=seed, patience=patience,
        monitor="val_loss" if has_val else "loss",
        steps_per_epoch=steps_per_epoch, keep_checkpoints=keep_checkpoints,
        strategy=dist, chief=chief, hparams={**params, **stage},
        callbacks=extra_callbacks, verbose=verbose)
  summary = {"stage": "rgb", "ablation": ablation, "epochs": state.epochs_done,
             "best_epoch": state.best_epoch + 1,
             "best": state.history[state.best_epoch] if state.history else {}}
  if chief:
    run_dir.mark_finished(output_dir, summary)
  return summary
