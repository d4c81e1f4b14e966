"""Resumable epoch loop: a resumed run ends with the uninterrupted weights."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from posedriven.training import loop
from tests import helpers

X = np.random.default_rng(0).normal(size=(48, 6)).astype(np.float32)
Y = (np.arange(48) % 3).astype(np.int32)


def _build():
  keras.utils.set_random_seed(3)
  model = keras.Sequential([
      keras.Input((6,)), keras.layers.Dense(12, activation="relu"),
      keras.layers.Dropout(0.5), keras.layers.Dense(3)])
  model.compile(keras.optimizers.Adam(1e-2),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
  return model


def _train_ds(epoch):
  return tf.data.Dataset.from_tensor_slices((X, Y)).shuffle(
      48, seed=epoch).batch(8)


VAL = tf.data.Dataset.from_tensor_slices((X[:12], Y[:12])).batch(12)


def _fit(output_dir, epochs, patience=None, **kwargs):
  return loop.fit_resumable(build_model=_build, train_dataset_fn=_train_ds,
                            val_dataset=VAL, output_dir=output_dir,
                            epochs=epochs, seed=7, patience=patience,
                            verbose=0, **kwargs)


def _last_weights(output_dir):
  model = keras.models.load_model(helpers.backup_model_path(output_dir))
  return model.get_weights()


def test_resume_gives_same_weights_as_uninterrupted(tmp_path):
  _fit(tmp_path / "a", 3)
  _fit(tmp_path / "b", 1)   # "killed" after epoch 1
  _, state = _fit(tmp_path / "b", 3)
  assert state.epochs_done == 3 and len(state.history) == 3
  for wa, wb in zip(_last_weights(tmp_path / "a"), _last_weights(tmp_path / "b")):
    np.testing.assert_array_equal(wa, wb)
  assert sorted(p.name for p in (tmp_path / "b" / "checkpoints").iterdir()
                ) == ["epoch-002.weights.h5", "epoch-003.weights.h5"]
  assert (tmp_path / "b" / "best.keras").exists()
  assert not list(tmp_path.rglob("*.tmp*"))


def test_different_seed_differs(tmp_path):
  _fit(tmp_path / "a", 1)
  loop.fit_resumable(build_model=_build, train_dataset_fn=_train_ds,
                     val_dataset=VAL, output_dir=tmp_path / "b", epochs=1,
                     seed=8, verbose=0)
  wa, wb = _last_weights(tmp_path / "a"), _last_weights(tmp_path / "b")
  assert any(not np.array_equal(a, b) for a, b in zip(wa, wb))


def test_early_stopping_and_best(tmp_path):
  _, state = _fit(tmp_path, 50, patience=0)
  # patience=0 stops right after the first epoch without improvement.
  assert state.epochs_done < 50
  assert state.epochs_since_best == 1
  losses = [h["val_loss"] for h in state.history]
  # Every epoch but the last improved; the last did not, and stopped the run.
  assert all(b < a for a, b in zip(losses[:-2], losses[1:-1]))
  assert losses[-1] >= min(losses[:-1])
  best = min(losses)
  assert state.best_value == pytest.approx(best)
  saved = json.loads((tmp_path / "backup" / "state.json").read_text())
  assert saved["epochs_done"] == state.epochs_done


def test_bad_monitor_names_the_metric(tmp_path):
  with pytest.raises(ValueError, match="val_top9"):
    loop.fit_resumable(build_model=_build, train_dataset_fn=_train_ds,
                       val_dataset=VAL, output_dir=tmp_path, epochs=1, seed=0,
                       monitor="val_top9", verbose=0)


@pytest.mark.parametrize("keep", [0, 1, 3])
def test_retention_keeps_the_newest_checkpoints_best_and_backup(tmp_path,
                                                                keep):
  model, _ = _fit(tmp_path, 5, keep_checkpoints=keep)
  kept = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
  assert kept == [f"epoch-{e:03d}.weights.h5" for e in range(6 - keep, 6)]
  # Never more models than that: best, one backup, the kept checkpoints.
  files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                 if p.is_file() and "tensorboard" not in p.parts)
  assert files == sorted(["best.keras", "backup/model-005.keras",
                          "backup/state.json"] +
                         [f"checkpoints/{name}" for name in kept])
  if keep:
    # The newest checkpoint holds the last epoch's weights.
    last = _build()
    last.load_weights(tmp_path / "checkpoints" / kept[-1])
    for got, want in zip(last.get_weights(), _last_weights(tmp_path)):
      np.testing.assert_array_equal(got, want)


def test_negative_retention_is_refused(tmp_path):
  with pytest.raises(ValueError, match="keep_checkpoints"):
    _fit(tmp_path, 1, keep_checkpoints=-1)
