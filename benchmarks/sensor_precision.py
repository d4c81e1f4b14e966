r"""The glimpse sensor in reduced precision: feature agreement and speed.

Preparation can run InceptionV3 in ``mixed_bfloat16`` or ``mixed_float16``
(``prepare_dataset.mixed_precision``), which is faster on hardware with
those units but changes the stored features. How much depends on the
weights: on the project's calibrated random sensor bfloat16 features
correlate only ~0.63 with float32 (BUILD_NOTES), and ImageNet weights could
not be measured here (no download). Run this on YOUR weights and data
before preparing in reduced precision::

  python3 benchmarks/sensor_precision.py --weights=imagenet \
      --dataset_root=/data/ntu --dataset=ntu60 --input_size=299
  python3 benchmarks/sensor_precision.py \
      --weights=/shared/glimpse_299.weights.h5 --dataset_root=/data/ntu

It cuts the hand crops of ``--num_clips`` clips (``--frames_per_clip``
frames spread over each clip, the hands that are in the frame) exactly as
preparation does (``glimpse_crops.crop_clip_hands``), runs them through the
sensor in float32, mixed_bfloat16 and mixed_float16, and reports per
precision:

* feature agreement with float32: cosine similarity per crop (mean and
  minimum) and relative error ``|f - f32| / |f32|`` (median and maximum);
* the sensor's crops/s (median of ``--repeats`` timed passes after one
  untimed pass that builds and traces it) on this machine.

It reports what it measured; it decides nothing. ``--output_json`` writes
the figures.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

# Runs from a checkout without installing the package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np
import tensorflow as tf

from posedriven.data import glimpse_crops
from posedriven.data.formats import registry
from posedriven.models import glimpse

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")

_WEIGHTS = flags.DEFINE_string(
    "weights", None, "'imagenet' or an InceptionV3(include_top=False)"
    " weights file (e.g. the one preparation used).", required=True)
_ROOT = flags.DEFINE_string("dataset_root", None, "A dataset directory.",
                            required=True)
_DATASET = flags.DEFINE_string("dataset", "ntu60",
                               "Its registry name (ntu60, synthetic, ...).")
_INPUT = flags.DEFINE_integer("input_size", 299,
                              "Sensor input side (the preparation's).")
_CLIPS = flags.DEFINE_integer("num_clips", 4, "Clips to take crops from.")
_FRAMES = flags.DEFINE_integer("frames_per_clip", 8,
                               "Frames per clip, spread over the clip.")
_BATCH = flags.DEFINE_integer("batch_size", 32, "Crops per sensor call.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed passes per precision.")
_OUT = flags.DEFINE_string("output_json", None, "Also write the figures here.")


def hand_crops(dataset_root: str, dataset: str, num_clips: int,
               frames_per_clip: int, size: int) -> np.ndarray:
  """uint8 ``[N, size, size, 3]``: the non-empty hand crops of some clips."""
  fmt = registry.get_format(dataset)
  crop_px = fmt.crop_size_px(dataset_root)
  crops = []
  sources = [s for s in registry.list_clips(dataset_root, dataset)
             if s.skip_reason is None][:num_clips]
  if not sources:
    raise ValueError(f"no clip of {dataset} under {dataset_root}")
  for source in sources:
    clip = fmt.load_clip(source.skeleton_path)
    frames = glimpse_crops.crop_clip_hands(
        clip, fmt.frame_source(source, clip), crop_size_px=crop_px,
        crop_output_size=size)
    picks = np.unique(np.linspace(0, len(frames) - 1, frames_per_clip)
                      .round().astype(int))
    chosen = frames[picks].reshape(-1, size, size, 3)
    crops.append(chosen[chosen.reshape(len(chosen), -1).any(axis=1)])
  return np.concatenate(crops)


def agreement(features: np.ndarray, reference: np.ndarray) -> dict[str, float]:
  """Cosine similarity and relative error of ``features`` per row."""
  f = features.astype(np.float64)
  r = reference.astype(np.float64)
  norms = np.linalg.norm(f, axis=1) * np.linalg.norm(r, axis=1)
  cosine = np.sum(f * r, axis=1) / np.maximum(norms, 1e-30)
  relative = (np.linalg.norm(f - r, axis=1)
              / np.maximum(np.linalg.norm(r, axis=1), 1e-30))
  return {"cosine_mean": float(cosine.mean()),
          "cosine_min": float(cosine.min()),
          "relative_error_median": float(np.median(relative)),
          "relative_error_max": float(relative.max())}


def sense(weights: str, precision: str, crops: np.ndarray, input_size: int,
          batch_size: int, repeats: int) -> tuple[np.ndarray, float]:
  """Features of every crop and the median crops/s of the timed passes."""
  sensor = glimpse.GlimpseSensor(weights=weights, input_size=input_size,
                                 dtype=precision)
  run = tf.function(lambda x: sensor(x))
  batches = [crops[i:i + batch_size] for i in range(0, len(crops),
                                                     batch_size)]
  features = np.concatenate([run(tf.constant(b)).numpy() for b in batches])
  rates = []
  for _ in range(repeats):
    start = time.perf_counter()
    for b in batches:
      run(tf.constant(b)).numpy()
    rates.append(len(crops) / (time.perf_counter() - start))
  return features, statistics.median(rates)


def measure(weights: str, dataset_root: str, dataset: str, input_size: int,
            num_clips: int, frames_per_clip: int, batch_size: int,
            repeats: int) -> dict:
  crops = hand_crops(dataset_root, dataset, num_clips, frames_per_clip,
                     input_size)
  results = {"crops": int(len(crops)), "input_size": input_size,
             "load_average": os.getloadavg()[0], "precisions": {}}
  reference = None
  for precision in PRECISIONS:
    features, rate = sense(weights, precision, crops, input_size,
                           batch_size, repeats)
    if reference is None:
      reference = features
    results["precisions"][precision] = {"crops_per_s": rate,
                                        **agreement(features, reference)}
  return results


def main(argv):
  del argv
  results = measure(_WEIGHTS.value, _ROOT.value, _DATASET.value,
                    _INPUT.value, _CLIPS.value, _FRAMES.value, _BATCH.value,
                    _REPEATS.value)
  print(f"{results['crops']} hand crops at {results['input_size']} px, load"
        f" average {results['load_average']:.2f}; against float32:")
  for precision, r in results["precisions"].items():
    print(f"  {precision:15s} {r['crops_per_s']:8.1f} crops/s  cosine mean"
          f" {r['cosine_mean']:.4f} min {r['cosine_min']:.4f}  relative"
          f" error median {r['relative_error_median']:.4f} max"
          f" {r['relative_error_max']:.4f}")
  if _OUT.value:
    with open(_OUT.value, "w") as f:
      json.dump(results, f, indent=2)


if __name__ == "__main__":
  app.run(main)
