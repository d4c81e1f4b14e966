"""A resumable epoch loop around ``keras.Model.fit``.

Why not plain ``fit(epochs=N)`` with ``BackupAndRestore``: a resumed run must
end with the same weights as an uninterrupted one. That needs (1) the data of
epoch ``e`` to depend on ``e`` only, not on how many epochs this process has
run, and (2) dropout masks to depend on ``e`` only. So each epoch gets its own
seeded dataset and the dropout seed generators are reset from ``(seed, e)``
at the start of every epoch; the model (with optimizer state) is backed up
atomically after every epoch.

Files under ``output_dir``::

  backup/state.json, backup/model-NNN.keras  resume point (every epoch)
  checkpoints/epoch-NNN.weights.h5           weights after each epoch
  best.keras                                 best on validation
  tensorboard/                               scalars (+ images from callbacks)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from posedriven import atomic


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


class LearningRateLogger(keras.callbacks.Callback):
  """Writes the optimizer's learning rate to TensorBoard each epoch."""

  def __init__(self, writer: tf.summary.SummaryWriter):
    super().__init__()
    self.writer = writer

  def on_epoch_end(self, epoch, logs=None):
    lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
    if logs is not None:
      logs["learning_rate"] = lr
    with self.writer.as_default():
      tf.summary.scalar("learning_rate", lr, step=epoch)
    self.writer.flush()


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
    atomic.write_text(path, json.dumps(dataclasses.asdict(self), indent=1))


def _save_model_atomic(model: keras.Model, path: Path) -> None:
  with atomic.replacing(path, keep_suffix=True) as tmp:
    model.save(tmp)


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
                  strategy: tf.distribute.Strategy | None = None,
                  callbacks: Sequence[keras.callbacks.Callback] = (),
                  verbose: int | str = "auto") -> tuple[keras.Model, LoopState]:
  """Trains epoch by epoch, resuming from ``output_dir/backup`` if present.

  Args:
    build_model: Returns a compiled model; called inside the strategy scope,
      only when there is no backup to resume from.
    train_dataset_fn: ``epoch -> dataset`` of that epoch (seeded by it).
    val_dataset: Validation data, or None (then ``monitor`` must be a
      training metric such as ``loss``).
    output_dir: Run directory.
    epochs: Maximum number of epochs.
    seed: Base seed for dropout per epoch.
    patience: Early stopping after this many epochs without improvement of
      ``monitor`` (None: never).
    monitor, mode: Metric that selects ``best.keras`` and drives stopping.
    steps_per_epoch: Optional cap on steps per epoch.
    strategy: tf.distribute strategy (default: the current one).
    callbacks: Extra callbacks (TensorBoard images, ...).

  Returns:
    The best model (loaded from ``best.keras``) and the final loop state.
  """
  if mode not in ("min", "max"):
    raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
  output_dir = Path(output_dir)
  backup_dir = output_dir / "backup"
  ckpt_dir = output_dir / "checkpoints"
  backup_dir.mkdir(parents=True, exist_ok=True)
  ckpt_dir.mkdir(parents=True, exist_ok=True)
  state_path = backup_dir / "state.json"
  best_path = output_dir / "best.keras"
  strategy = strategy or tf.distribute.get_strategy()

  with strategy.scope():
    if state_path.exists():
      state = LoopState.load(state_path)
      model = keras.models.load_model(backup_dir / state.model, safe_mode=True)
      logging.info("Resuming %s after epoch %d", output_dir, state.epochs_done)
    else:
      state = LoopState(best_value=math.inf if mode == "min" else -math.inf)
      model = build_model()

  sign = 1.0 if mode == "min" else -1.0
  writer = tf.summary.create_file_writer(str(output_dir / "tensorboard"))
  base_callbacks = [
      EpochSeeds(seed),
      keras.callbacks.TensorBoard(str(output_dir / "tensorboard")),
      LearningRateLogger(writer),
      *callbacks,
  ]
  for epoch in range(state.epochs_done, epochs):
    if _should_stop(state, patience):
      logging.info("Early stopping: no %s improvement for %d epochs", monitor,
                   state.epochs_since_best)
      break
    start = time.time()
    history = model.fit(train_dataset_fn(epoch), epochs=epoch + 1,
                        initial_epoch=epoch, validation_data=val_dataset,
                        steps_per_epoch=steps_per_epoch,
                        callbacks=base_callbacks, verbose=verbose)
    logs = {k: float(v[-1]) for k, v in history.history.items()}
    logs["epoch"] = epoch
    logs["seconds"] = round(time.time() - start, 2)
    if monitor not in logs:
      raise ValueError(f"monitor {monitor!r} is not among the metrics "
                       f"{sorted(logs)}")
    model.save_weights(ckpt_dir / f"epoch-{epoch + 1:03d}.weights.h5")
    value = logs[monitor]
    if sign * value < sign * state.best_value:
      state.best_value, state.best_epoch = value, epoch
      state.epochs_since_best = 0
      _save_model_atomic(model, best_path)
    else:
      state.epochs_since_best += 1
    state.epochs_done = epoch + 1
    state.history.append(logs)
    # The backup goes last: a kill before the state is saved replays the
    # epoch from the previous backup, which is only deleted afterwards.
    state.model = f"model-{epoch + 1:03d}.keras"
    _save_model_atomic(model, backup_dir / state.model)
    state.save(state_path)
    for stale in backup_dir.glob("model*.keras"):
      if stale.name != state.model:
        stale.unlink()
    logging.info("epoch %d/%d %s", epoch + 1, epochs,
                 " ".join(f"{k}={v:.4g}" for k, v in logs.items()
                          if isinstance(v, float)))
  writer.close()
  with strategy.scope():
    best = (keras.models.load_model(best_path, safe_mode=True)
            if best_path.exists() else model)
  return best, state
