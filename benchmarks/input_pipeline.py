r"""Training input throughput next to what one training step consumes.

Writes ``--num_clips`` NTU-sized clips (two people, 60-130 frames, random
joints; for the RGB pipeline float16 glimpse features ``[T, 4, 2048]``) to
TFRecords with the project's serializer, then in one run measures:

* the pose pipeline (``pipeline.train_dataset(features="none")``) and the
  RGB pipeline (``features="glimpses"``) in examples/s over ``--epochs``
  passes (after one warm-up pass), batch ``--batch_size``;
* one training step of the paper-size pose stream and of RGB stream G at the
  same batch, in examples/s (median of ``--steps`` steps after warm-up),
  fed from memory so that only the model is timed;

and prints each pipeline's throughput as a multiple of its consumer's (the
target is at least 3x: training is never input-bound).

Run from the repository root::

  python benchmarks/input_pipeline.py
  python benchmarks/input_pipeline.py --num_clips=256 --batch_size=64
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Runs from a checkout without installing the package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import keras
import numpy as np
import tensorflow as tf

from posedriven.data import clip as clip_lib
from posedriven.data import pipeline
from posedriven.data import tfrecords
from posedriven.models import streams
from posedriven.training import classifier

_CLIPS = flags.DEFINE_integer("num_clips", 192, "Clips written.")
_BATCH = flags.DEFINE_integer("batch_size", 64, "Examples per batch (paper).")
_EPOCHS = flags.DEFINE_integer("epochs", 3, "Timed passes over the clips.")
_STEPS = flags.DEFINE_integer("steps", 4, "Timed training steps per model.")
_CLASSES = 60
_GLIMPSE_DIM = 2048
_RGB_OUTPUTS = ("logits", "spatial_attention", "temporal_attention")


def write_records(out: Path, num_clips: int, glimpses: bool) -> str:
  """NTU-sized random clips in 8 files; returns their glob."""
  rng = np.random.default_rng(0)
  writers = [tf.io.TFRecordWriter(str(out / f"train-{k:05d}-of-00008"
                                      ".tfrecord")) for k in range(8)]
  for i in range(num_clips):
    t = int(rng.integers(60, 131))
    present = np.ones((t, 2), bool)
    present[:, 1] = i % 3 != 0
    clip = clip_lib.Clip(
        name=f"S001C001P{i % 40 + 1:03d}R{i // 40 + 1:03d}A001",
        label=int(rng.integers(_CLASSES)), skeleton="kinect_v2",
        xyz=rng.normal(size=(t, 2, 25, 3)).astype(np.float32) *
        present[:, :, None, None],
        present=present,
        hand_xy_px=rng.uniform(0, 1000, (t, 4, 2)).astype(np.float32),
        hand_valid=np.ones((t, 4), bool), image_size=(1920, 1080))
    features = (rng.standard_normal((t, 4, _GLIMPSE_DIM), np.float32)
                .astype(np.float16) if glimpses else None)
    writers[i % 8].write(tfrecords.serialize_clip(
        clip, glimpse_features=features))
  for writer in writers:
    writer.close()
  return str(out / "train-*.tfrecord")


def pipeline_rate(pattern: str, features: str) -> float:
  """Examples/s of the training pipeline (median pass after a warm-up)."""
  rates = []
  for epoch in range(_EPOCHS.value + 1):
    ds = pipeline.train_dataset(pattern, batch_size=_BATCH.value,
                                seed=epoch, validation=None,
                                features=features)
    start, count = time.perf_counter(), 0
    for inputs, _ in ds:
      count += int(inputs["pose"].shape[0])
    if epoch:  # the first pass traces and fills caches
      rates.append(count / (time.perf_counter() - start))
  return statistics.median(rates)


def step_rate(model: keras.Model, batch) -> float:
  """Examples/s of ``train_on_batch`` (median of the timed steps)."""
  for _ in range(2):
    model.train_on_batch(*batch)
  times = []
  for _ in range(_STEPS.value):
    start = time.perf_counter()
    model.train_on_batch(*batch)
    times.append(time.perf_counter() - start)
  return _BATCH.value / statistics.median(times)


def main(argv):
  del argv
  print("command: python " + " ".join(sys.argv))
  print(f"TF {tf.__version__}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}")
  rng = np.random.default_rng(1)
  b = _BATCH.value
  with tempfile.TemporaryDirectory() as tmp:
    pose_dir, rgb_dir = Path(tmp) / "pose", Path(tmp) / "rgb"
    pose_dir.mkdir()
    rgb_dir.mkdir()
    pose_pattern = write_records(pose_dir, _CLIPS.value, glimpses=False)
    rgb_pattern = write_records(rgb_dir, _CLIPS.value, glimpses=True)
    pose_in = pipeline_rate(pose_pattern, "none")
    rgb_in = pipeline_rate(rgb_pattern, "glimpses")

  keras.utils.set_random_seed(0)
  pose_model = streams.build_pose_stream(_CLASSES)
  classifier.compile_classifier(pose_model, 1e-4)
  pose = rng.normal(size=(b, 20, 300, 3)).astype(np.float32)
  labels = rng.integers(0, _CLASSES, size=(b,))
  pose_step = step_rate(pose_model, ({"pose": pose}, {"logits": labels}))
  rgb_model = streams.build_rgb_stream(
      _CLASSES, pose_network=pose_model.pose_network,
      glimpse_dim=_GLIMPSE_DIM, **streams.ABLATIONS["G"])
  classifier.compile_classifier(rgb_model, 1e-4, False, _RGB_OUTPUTS)
  glimpses = rng.uniform(size=(b, 20, 4, _GLIMPSE_DIM)).astype(np.float32)
  zeros = np.zeros((b,), np.float32)
  rgb_step = step_rate(rgb_model, (
      {"pose": pose, "glimpses": glimpses},
      {"logits": labels, "spatial_attention": zeros,
       "temporal_attention": zeros}))

  print()
  print(f"{_CLIPS.value} clips of 60-130 frames, batch {b}, paper-size"
        " models (pose stream; RGB stream G, LSTM 1024, D=2048)")
  print("| stream | pipeline (examples/s) | training step (examples/s) |"
        " pipeline / step | target >= 3x |")
  print("| --- | --- | --- | --- | --- |")
  for name, supply, demand in (("pose", pose_in, pose_step),
                               ("RGB G", rgb_in, rgb_step)):
    ratio = supply / demand
    print(f"| {name} | {supply:.0f} | {demand:.1f} | {ratio:.1f}x |"
          f" {'met' if ratio >= 3 else 'NOT met'} |")


if __name__ == "__main__":
  app.run(main)
