"""A resumable epoch loop around ``keras.Model.fit``.

Why not plain ``fit(epochs=N)`` with ``BackupAndRestore``: a resumed run must
end with the same weights as an uninterrupted one. That needs (1) the data of
epoch ``e`` to depend on ``e`` only, not on how many epochs this process has
run, and (2) dropout masks to depend on ``e`` only. So each epoch gets its own
seeded dataset and the dropout seed generators are reset from ``(seed, e)``
at the start of every epoch; the model (with optimizer state) is backed up
atomically after every epoch.

Files under ``output_dir`` (names from ``run_dir``; written by the chief
only; other workers of a multi-worker run write the same files to a
temporary directory, removed at the end, and resume from the chief's
backup)::

  backup/state.json, backup/model-NNN.keras  resume point (every epoch)
  checkpoints/epoch-NNN.weights.h5           weights of the last
                                             ``keep_checkpoints`` epochs
  best.keras                                 best on validation
  tensorboard/events.*                       one writer per process: epoch
                                             scalars, learning rate, images
                                             of callbacks, hyper-parameters

So a run holds at most ``keep_checkpoints + 2`` models plus one set of
weights while the next epoch's backup is written (BUILD_NOTES has bytes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from posedriven import atomic
from posedriven.training import distribute
from posedriven.training import keras_compat
from posedriven.training import run_dir
from posedriven.training import summaries


class EpochSeeds(keras.callbacks.Callback):
  """Resets every seed generator (dropout) from ``(seed, epoch)``."""

  def __init__(self, seed: int):
    super().__init__()
    self.seed = seed

  def on_epoch_begin(self, epoch, logs=None):
    states = [v for v in self.model.variables
              if "seed_generator_state" in v.path]
    for i, state in enumerate(states):
      state.assign(np.array([self.seed * 1000 + i, epoch * 1_000_003],
                            dtype=state.dtype))


@dataclasses.dataclass
class LoopState:
  """What survives an interruption (``backup/state.json``).

  ``model`` names the backup model (in ``backup/``) of ``epochs_done``. The
  model is written first under a new name, then this state: the state file
  is the one commit point, so a kill between the two writes cannot pair the
  model of epoch ``e`` with the count of epoch ``e - 1``.
  """

  epochs_done: int = 0
  best_epoch: int = -1
  best_value: float = math.inf
  epochs_since_best: int = 0
  history: list = dataclasses.field(default_factory=list)
  model: str = "model.keras"  # the name backups had before it was recorded

  @classmethod
  def load(cls, path: Path) -> "LoopState":
    return cls(**json.loads(path.read_text()))

  def save(self, path: Path) -> None:
    run_dir.write_json(path, dataclasses.asdict(self))


def _save_atomic(save: Callable[[Path], None], path: Path) -> None:
  """Writes ``path`` through a temporary file; a failure names the file.

  A failed write (disk full, quota) leaves the previous file of that name
  and the last committed backup untouched, and removes its partial
  temporary file.
  """
  tmp = atomic.temp_path(path, keep_suffix=True)
  try:
    with atomic.replacing(path, keep_suffix=True):
      save(tmp)
  except OSError as e:
    tmp.unlink(missing_ok=True)
    raise OSError(e.errno, f"could not write {path} ({e}); the last "
                  "complete backup is kept: free space and rerun the same "
                  "command to resume") from e


def _prune_checkpoints(ckpt_dir: Path, keep: int) -> None:
  """Keeps the ``keep`` newest ``epoch-NNN.weights.h5`` (by epoch)."""
  checkpoints = sorted(ckpt_dir.glob("epoch-*.weights.h5"))
  for stale in checkpoints[:max(0, len(checkpoints) - keep)]:
    stale.unlink()


def write_epoch_scalars(logs: dict[str, float], epoch: int) -> None:
  """``loss/train``, ``loss/validation``, ... to the default summary writer.

  Train and validation of one metric share a chart (one tag prefix).
  """
  for key, value in logs.items():
    if key in ("epoch", "seconds"):
      continue
    if key.startswith("val_"):
      tag = f"{key[4:]}/validation"
    elif key == "learning_rate":
      tag = key
    else:
      tag = f"{key}/train"
    tf.summary.scalar(tag, value, step=epoch)


def _data_sharded(dataset: tf.data.Dataset | None) -> tf.data.Dataset | None:
  # Workers split the batches of one stream, whatever the number of files
  # (file sharding would give workers unequal step counts and hang).
  if dataset is None:
    return None
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.DATA)
  return dataset.with_options(options)


def _should_stop(state: LoopState, patience: int | None) -> bool:
  # Keras semantics: patience 0 or 1 stop after one epoch without improvement.
  return (patience is not None and state.epochs_since_best > 0 and
          state.epochs_since_best >= patience)


def fit_resumable(*, build_model: Callable[[], keras.Model],
                  train_dataset_fn: Callable[[int], tf.data.Dataset],
                  val_dataset: tf.data.Dataset | None,
                  output_dir: str | os.PathLike,
                  epochs: int,
                  seed: int,
                  patience: int | None = None,
                  monitor: str = "val_loss",
                  mode: str = "min",
                  steps_per_epoch: int | None = None,
                  keep_checkpoints: int = 2,
                  strategy: tf.distribute.Strategy | None = None,
                  chief: bool = True,
                  hparams: Mapping[str, Any] | None = None,
                  callbacks: Sequence[keras.callbacks.Callback] = (),
                  verbose: int | str = "auto") -> tuple[keras.Model, LoopState]:
  """Trains epoch by epoch, resuming from ``output_dir/backup`` if present.

  Args:
    build_model: Returns a compiled model; called inside the strategy scope,
      only when there is no backup to resume from.
    train_dataset_fn: ``epoch -> dataset`` of that epoch (seeded by it).
    val_dataset: Validation data, or None (then ``monitor`` must be a
      training metric such as ``loss``).
    output_dir: Run directory (read by every worker, written by the chief).
    epochs: Maximum number of epochs.
    seed: Base seed for dropout per epoch.
    patience: Early stopping after this many epochs without improvement of
      ``monitor`` (None: never).
    monitor, mode: Metric that selects ``best.keras`` and drives stopping.
    steps_per_epoch: Optional cap on steps per epoch.
    keep_checkpoints: Epoch checkpoints kept (the newest); 0 writes none.
    strategy: tf.distribute strategy (default: the current one).
    chief: Whether this worker writes ``output_dir`` and TensorBoard
      (``distribute.is_chief()``); the others write to a temporary
      directory.
    hparams: Hyper-parameters for TensorBoard's HParams dashboard (values
      that are not bool, int, float or str are written as strings); the
      best epoch's metrics are written as ``best/<metric>`` at the end.
    callbacks: Extra callbacks; they write summaries to the default writer
      (this run's ``tensorboard/``).

  Returns:
    The best model (loaded, outside the strategy, from ``best.keras``) and
    the final loop state.
  """
  if mode not in ("min", "max"):
    raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
  if keep_checkpoints < 0:
    raise ValueError(f"keep_checkpoints must be >= 0, got {keep_checkpoints}")
  strategy = strategy or tf.distribute.get_strategy()
  # Every worker resumes from the chief's backup.
  state_path = Path(output_dir) / run_dir.BACKUP_DIR / run_dir.STATE_FILE
  with strategy.scope():
    if state_path.exists():
      state = LoopState.load(state_path)
      model = keras.models.load_model(state_path.parent / state.model,
                                      safe_mode=True)
      logging.info("Resuming %s after epoch %d", output_dir, state.epochs_done)
    else:
      state = LoopState(best_value=math.inf if mode == "min" else -math.inf)
      model = build_model()
  with distribute.write_dir(output_dir, chief) as out:
    state = _train(model, state, out, strategy=strategy,
                   train_dataset_fn=train_dataset_fn,
                   val_dataset=_data_sharded(val_dataset), epochs=epochs,
                   seed=seed, patience=patience, monitor=monitor, mode=mode,
                   steps_per_epoch=steps_per_epoch,
                   keep_checkpoints=keep_checkpoints, chief=chief,
                   hparams=hparams, callbacks=callbacks, verbose=verbose)
    best_path = out / run_dir.BEST_MODEL
    # Outside the strategy scope: creating mirrored variables is a
    # collective in a cluster, and workers may differ in what they load.
    best = (keras.models.load_model(best_path, safe_mode=True)
            if best_path.exists() else model)
  return best, state


def _train(model: keras.Model, state: LoopState, out: Path, *,
           strategy, train_dataset_fn, val_dataset, epochs, seed, patience,
           monitor, mode, steps_per_epoch, keep_checkpoints, chief, hparams,
           callbacks, verbose) -> LoopState:
  """The epochs of :func:`fit_resumable`, writing under ``out``."""
  backup_dir = out / run_dir.BACKUP_DIR
  ckpt_dir = out / run_dir.CHECKPOINTS_DIR
  backup_dir.mkdir(parents=True, exist_ok=True)
  ckpt_dir.mkdir(parents=True, exist_ok=True)
  state_path = backup_dir / run_dir.STATE_FILE
  best_path = out / run_dir.BEST_MODEL
  sign = 1.0 if mode == "min" else -1.0
  # One writer for every epoch of this process: fit() per epoch with Keras'
  # TensorBoard callback made one event file per epoch.
  writer = (tf.summary.create_file_writer(str(out / run_dir.TENSORBOARD_DIR))
            if chief else tf.summary.create_noop_writer())
  multi_worker = distribute.num_workers(strategy) > 1
  if multi_worker:
    keras_compat.build_from_local_batch(model, strategy,
                                        train_dataset_fn(state.epochs_done))
  with writer.as_default():
    if hparams is not None and not state.history:
      summaries.write_hparams(hparams)
    for epoch in range(state.epochs_done, epochs):
      if _should_stop(state, patience):
        logging.info("Early stopping: no %s improvement for %d epochs",
                     monitor, state.epochs_since_best)
        break
      start = time.time()
      try:
        with (keras_compat.multi_worker_fit(model) if multi_worker
              else contextlib.nullcontext()):
          history = model.fit(_data_sharded(train_dataset_fn(epoch)),
                              epochs=epoch + 1, initial_epoch=epoch,
                              validation_data=val_dataset,
                              steps_per_epoch=steps_per_epoch,
                              # The pipelines shuffle; Keras cannot.
                              shuffle=False,
                              callbacks=[EpochSeeds(seed), *callbacks],
                              verbose=verbose)
      except tf.errors.OpError as e:
        if distribute.num_workers(strategy) == 1:
          raise
        # A lost peer aborts the collectives of every other worker.
        raise RuntimeError(
            f"multi-worker training failed in epoch {epoch + 1}: a worker of"
            f" the cluster was lost or failed ({e.message.splitlines()[0]});"
            f" the last complete backup is epoch {state.epochs_done}: rerun"
            " every worker with the same command to resume") from e
      logs = {k: float(v[-1]) for k, v in history.history.items()}
      logs["learning_rate"] = float(keras.ops.convert_to_numpy(
          model.optimizer.learning_rate))
      if monitor not in logs:
        raise ValueError(f"monitor {monitor!r} is not among the metrics "
                         f"{sorted(logs)}")
      write_epoch_scalars(logs, epoch)
      writer.flush()
      logs["epoch"] = epoch
      logs["seconds"] = round(time.time() - start, 2)
      if keep_checkpoints:
        _save_atomic(model.save_weights,
                     ckpt_dir / f"epoch-{epoch + 1:03d}.weights.h5")
        _prune_checkpoints(ckpt_dir, keep_checkpoints)
      value = logs[monitor]
      improved = sign * value < sign * state.best_value
      if improved:
        state.best_value, state.best_epoch = value, epoch
        state.epochs_since_best = 0
      else:
        state.epochs_since_best += 1
      state.epochs_done = epoch + 1
      state.history.append(logs)
      # The state goes last: a kill before it is saved replays the epoch
      # from the previous backup, which is only deleted afterwards.
      state.model = f"model-{epoch + 1:03d}.keras"
      _save_atomic(model.save, backup_dir / state.model)
      if improved:
        # The model just written: a copy costs far less than a second save.
        _save_atomic(functools.partial(shutil.copyfile,
                                       backup_dir / state.model), best_path)
      state.save(state_path)
      for stale in backup_dir.glob("model*.keras"):
        if stale.name != state.model:
          stale.unlink()
      logging.info("epoch %d/%d %s", epoch + 1, epochs,
                   " ".join(f"{k}={v:.4g}" for k, v in logs.items()
                            if isinstance(v, float)))
    if hparams is not None and state.best_epoch >= 0:
      best = state.history[state.best_epoch]
      summaries.write_final_metrics(
          {k: v for k, v in best.items() if k not in ("epoch", "seconds")},
          step=state.epochs_done)
  writer.close()
  return state
