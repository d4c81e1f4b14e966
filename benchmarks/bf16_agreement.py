r"""bfloat16 serving against float32 on a demo's test clips: top-1 agreement.

  python benchmarks/bf16_agreement.py --demo_dir=/tmp/demo_final

``--demo_dir`` is the output of ``tools/demo.py`` (any ``--output_dir``).
Its ``export/`` is verified and loaded; an export without the
``from_features_bfloat16`` signature (written before it existed) is
re-exported from the pose and RGB runs its ``export_info.json`` names, into
a temporary directory, with both precisions. Every test clip's 10 evaluation
sub-sequences (the prepared glimpse features, ``<demo_dir>/tfrecords``) go
through ``from_features`` and ``from_features_bfloat16``, and it reports:

* clip-level top-1 agreement (logits averaged over the sub-sequences, as
  evaluation and prediction do) with its Wilson 95% interval; the
  sub-sequence-level agreement likewise; target: >= 99%;
* the largest logit difference relative to the float32 logits' scale;
* both precisions' top-1 accuracy against the labels.

Agreement needs trained weights, so it is measured on the demo's (small)
model; speed at the paper's sizes is ``benchmarks/inference.py``'s.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time

# Runs from a checkout without installing the package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np
import tensorflow as tf

from posedriven.data import pipeline
from posedriven.data import prepared_data
from posedriven.export import saved_model

_DEMO_DIR = flags.DEFINE_string("demo_dir", None, "tools/demo.py output.",
                                required=True)
_BATCH = flags.DEFINE_integer("batch_size", 8, "Clips per call.")
_BF16 = saved_model.signature_name(saved_model.FROM_FEATURES, "bfloat16")


def wilson_interval(agree: int, total: int, z: float = 1.96
                    ) -> tuple[float, float]:
  """Wilson score interval of a binomial proportion (95% for z=1.96)."""
  if total == 0:
    return 0.0, 1.0
  p = agree / total
  centre = (p + z * z / (2 * total)) / (1 + z * z / total)
  half = (z / (1 + z * z / total)) * math.sqrt(
      p * (1 - p) / total + z * z / (4 * total * total))
  return max(0.0, centre - half), min(1.0, centre + half)


def _logits(loaded, info, data_dir):
  pattern = prepared_data.load_prepared(data_dir).pattern("test")
  k = info["num_subsequences"]
  rows = {saved_model.FROM_FEATURES: [], _BF16: []}
  labels = []
  for inputs, label in pipeline.eval_dataset(
      pattern, batch_size=_BATCH.value, num_subsequences=k,
      num_steps=info["num_steps"], joint_order=info["joint_order"],
      subsequence_mode=info["subsequence_mode"]):
    for name in rows:
      rows[name].append(loaded.signatures[name](
          pose=inputs["pose"],
          glimpse_features=inputs["glimpses"])["logits"].numpy())
    labels.append(label.numpy()[::k])
  return ({name: np.concatenate(r) for name, r in rows.items()},
          np.concatenate(labels), k)


def _line(what: str, agree: int, total: int) -> str:
  low, high = wilson_interval(agree, total)
  return (f"{what}: top-1 agreement {agree}/{total} = {agree / total:.2%}"
          f" (Wilson 95% {low:.2%}-{high:.2%}; target >= 99%)")


def main(argv):
  del argv
  print("command: python " + " ".join(sys.argv))
  print(f"TF {tf.__version__}, load {os.getloadavg()[0]:.1f}")
  export_dir = os.path.join(_DEMO_DIR.value, "export")
  info, loaded = saved_model.load_export(export_dir)
  with tempfile.TemporaryDirectory() as tmp:
    if _BF16 not in loaded.signatures:
      start = time.perf_counter()
      export_dir = saved_model.export_model(
          os.path.join(tmp, "export"), pose_dir=info["pose_dir"],
          rgb_dir=info["rgb_dir"], glimpse_weights=info["glimpse_weights"],
          glimpse_input_size=info["glimpse_input_size"],
          pose_weight=info["pose_weight"])
      print(f"{_DEMO_DIR.value}/export has no {_BF16}: re-exported"
            f" {info['pose_dir']} + {info['rgb_dir']} with both precisions"
            f" ({time.perf_counter() - start:.0f} s)")
      info, loaded = saved_model.load_export(export_dir)
    data_dir = os.path.join(_DEMO_DIR.value, "tfrecords")
    rows, labels, k = _logits(loaded, info, data_dir)
  f32, bf16 = rows[saved_model.FROM_FEATURES], rows[_BF16]
  clips32 = pipeline.average_logits_per_clip(f32, k).argmax(-1)
  clips16 = pipeline.average_logits_per_clip(bf16, k).argmax(-1)
  print(f"model: {info['ablation']} + pose, {info['num_classes']} classes,"
        f" glimpse_dim {info['glimpse_dim']}; {len(labels)} test clips of"
        f" {data_dir}")
  print(_line("clips", int((clips32 == clips16).sum()), len(clips32)))
  print(_line(f"sub-sequences ({k} per clip)",
              int((f32.argmax(-1) == bf16.argmax(-1)).sum()), len(f32)))
  scale = float(np.abs(f32).max())
  print(f"max |logit bfloat16 - float32| = {np.abs(bf16 - f32).max():.2e}"
        f" = {np.abs(bf16 - f32).max() / scale:.2%} of max |logit|"
        f" ({scale:.2f})")
  print(f"clip top-1 accuracy: float32 {(clips32 == labels).mean():.1%},"
        f" bfloat16 {(clips16 == labels).mean():.1%}")


if __name__ == "__main__":
  app.run(main)
