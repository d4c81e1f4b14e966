r"""Can each stream learn its half of the synthetic task? Linear probes.

A synthetic class is a motion (what the active hand does) times an object
(what it holds), and fused accuracy can reach 100% only when (1) the glimpse
features tell the objects apart, (2) the pose features say which hand is
active, so that the pose-conditioned attention can pick that hand's glimpse,
and (3) the pose features know the motion. This fits ridge-regression
classifiers (closed form, no tuning beyond a fixed ridge) on the training
clips of a finished demo and scores them on its test clips:

* ``object``: glimpse features of a hand while its object is visible ->
  which of the three objects (red disc, stripes, green triangle);
* ``object_or_empty``: any hand-frame -> object shown or not;
* ``active_hand``: pose features (f_sk of the demo's pose stream, mean over
  the 10 test sub-sequences) -> which of the 4 hands is active;
* ``motion``: the same pose features -> which of the 4 motions.

Each figure comes with a 95% interval from a bootstrap over test
performances (the independent unit).

  python3 benchmarks/testbed_probes.py --demo_dir=demo_output
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np
import tensorflow as tf

from posedriven.data import pipeline
from posedriven.data import prepared_data
from posedriven.data import synthetic
from posedriven.data import tfrecords
from posedriven.evaluation import bootstrap
from posedriven.training import best_model
from posedriven.training import run_dir

flags.DEFINE_string("demo_dir", "demo_output", "A finished demo's output.")
flags.DEFINE_float("ridge", 10.0, "Ridge penalty (features standardised).")
flags.DEFINE_integer("frames_per_clip", 8,
                     "Frames sampled per clip for the glimpse probes.")
flags.DEFINE_string("output_json", None, "Also write the figures here.")
FLAGS = flags.FLAGS


def fit_ridge(x: np.ndarray, y: np.ndarray, num_classes: int,
              ridge: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """One-vs-all ridge classifier on standardised features."""
  mean, std = x.mean(0), x.std(0) + 1e-6
  z = np.concatenate([(x - mean) / std, np.ones((len(x), 1))], axis=1)
  targets = np.eye(num_classes)[y] * 2 - 1
  gram = z.T @ z + ridge * np.eye(z.shape[1])
  weights = np.linalg.solve(gram, z.T @ targets)
  return mean, std, weights


def predict_ridge(model, x: np.ndarray) -> np.ndarray:
  mean, std, weights = model
  z = np.concatenate([(x - mean) / std, np.ones((len(x), 1))], axis=1)
  return (z @ weights).argmax(1)


def _records(data_dir, split):
  pattern = prepared_data.load_prepared(data_dir).pattern(split)
  for record in tf.data.TFRecordDataset(pipeline.list_files(pattern)):
    parsed = tfrecords.parse_clip(record, keys=(
        tfrecords.NAME, tfrecords.GLIMPSE_FEATURES, tfrecords.HAND_VALID))
    yield (parsed[tfrecords.NAME].numpy().decode(),
           parsed[tfrecords.GLIMPSE_FEATURES].numpy().astype(np.float32),
           parsed[tfrecords.HAND_VALID].numpy())


def glimpse_rows(data_dir, split, meta, frames_per_clip, rng):
  """``(features, object id or -1, clip name)`` per sampled hand-frame."""
  xs, objects, names = [], [], []
  for name, features, valid in _records(data_dir, split):
    hands = meta[name]["hands"]
    frames = rng.choice(features.shape[0],
                        min(frames_per_clip, features.shape[0]), replace=False)
    for t in frames:
      for h, hand in enumerate(hands):
        if not hand["present"] or not valid[t, h]:
          continue
        start, end = hand["frames"]
        shown = hand["object"] >= 0 and start <= t < end
        xs.append(features[t, h])
        objects.append(hand["object"] if shown else -1)
        names.append(name)
  return np.stack(xs), np.array(objects), names


def pose_rows(data_dir, pose_dir, split):
  """Mean pose features f_sk over each clip's evaluation sub-sequences."""
  info = run_dir.read_stage_info(pose_dir)
  model = best_model.load_best_model(pose_dir)
  pattern = prepared_data.load_prepared(data_dir).pattern(split)
  k = 10
  dataset = pipeline.eval_dataset(
      pattern, batch_size=16, num_subsequences=k, features="none",
      joint_order=info["joint_order"], with_names=True)
  feats, names = [], []
  for inputs, _ in dataset:
    batch_names = inputs.pop("name").numpy()[::k]
    out = model.pose_network(inputs["pose"], training=False).numpy()
    feats.append(out.reshape(-1, k, out.shape[-1]).mean(1))
    names += [n.decode() for n in batch_names]
  return np.concatenate(feats), names


def score(predicted, truth, names, action_groups=None) -> dict[str, float]:
  """Accuracy and its interval over performances (``action_groups``: the
  two classes of a motion recorded as one performance, ``paired_objects``).
  """
  correct = (predicted == truth)[None]
  summary = bootstrap.summarize(
      ["probe"], bootstrap.Seeds.single(
          correct, bootstrap.performance_ids(names, action_groups)),
      num_samples=2000)
  row = summary["rows"]["probe"]
  return {"accuracy": row["top1"], "low": row["low"], "high": row["high"],
          "num": int(correct.size),
          "num_performances": summary["num_performances"]}


def run(demo_dir: str, ridge: float, frames_per_clip: int) -> dict:
  demo_dir = os.fspath(demo_dir)
  data_dir = os.path.join(demo_dir, "tfrecords")
  full_meta = synthetic.load_meta(os.path.join(demo_dir, "synthetic_ntu"))
  meta = full_meta["clips"]
  # Pairs share everything but the object: one performance, one unit.
  groups = (synthetic.paired_action_groups()
            if full_meta.get("generation", {}).get("paired_objects") else None)
  rng = np.random.default_rng(0)
  results = {}
  train = glimpse_rows(data_dir, "train", meta, frames_per_clip, rng)
  test = glimpse_rows(data_dir, "test", meta, frames_per_clip, rng)
  shown_train, shown_test = train[1] >= 0, test[1] >= 0
  model = fit_ridge(train[0][shown_train], train[1][shown_train], 3, ridge)
  results["object"] = score(
      predict_ridge(model, test[0][shown_test]), test[1][shown_test],
      [n for n, s in zip(test[2], shown_test) if s], groups)
  results["object"]["chance"] = 1 / 3
  model = fit_ridge(train[0], shown_train.astype(int), 2, ridge)
  results["object_or_empty"] = score(
      predict_ridge(model, test[0]), shown_test.astype(int), test[2], groups)
  results["object_or_empty"]["chance"] = max(shown_test.mean(),
                                             1 - shown_test.mean())

  pose_dir = os.path.join(demo_dir, "runs", "pose")
  x_train, names_train = pose_rows(data_dir, pose_dir, "train")
  x_test, names_test = pose_rows(data_dir, pose_dir, "test")
  for key, classes in (("active_hand", 4), ("motion", 4)):
    y_train = np.array([meta[n][key] for n in names_train])
    y_test = np.array([meta[n][key] for n in names_test])
    model = fit_ridge(x_train, y_train, classes, ridge)
    results[key] = score(predict_ridge(model, x_test), y_test, names_test,
                         groups)
    results[key]["chance"] = float(np.bincount(y_test).max() / len(y_test))
  return results


def main(argv):
  del argv
  results = run(FLAGS.demo_dir, FLAGS.ridge, FLAGS.frames_per_clip)
  for key, r in results.items():
    print(f"{key:16} {100 * r['accuracy']:5.1f}% [{100 * r['low']:5.1f},"
          f" {100 * r['high']:5.1f}] (majority/chance"
          f" {100 * r['chance']:.1f}%, {r['num']} rows,"
          f" {r['num_performances']} performances)")
  if FLAGS.output_json:
    with open(FLAGS.output_json, "w") as f:
      json.dump(results, f, indent=2)


if __name__ == "__main__":
  app.run(main)
