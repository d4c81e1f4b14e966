r"""Where a user waits for ``tools/predict.py``: stages and process wall time.

Runs ``tools/predict.py`` on one clip in a fresh Python process, as a user
does, ``--repeats`` times, for two clips:

* ``demo``: the shortest clip of the demo's synthetic dataset (22 to 28
  frames);
* ``100 frames``: a clip of 100 frames rendered with the same generation
  settings into a temporary directory.

For each it reports the median (and fastest) of every stage that
``predict_clip`` times (``load_model``, ``skeleton``, ``decode``, ``crops``,
``inception_v3``, ``model``, ``total``: ``posedriven.export.predict``), the
process wall time measured from outside (Python start, TensorFlow import,
the stages, exit), the process's CPU seconds (user + system, all threads:
less sensitive to other work on the machine than wall time) and the load
average (1 min) before each run: on a shared machine, compare figures taken
at similar loads. Targets (issue 28, quiet
machine): ``total`` <= 3 s and wall <= 8 s on the demo clip.

Run from the repository root after the demo (``tools/demo.py``)::

  python benchmarks/predict_latency.py --model=demo_output/export \
    --dataset_root=demo_output/synthetic_ntu
  python benchmarks/predict_latency.py --repeats=5 --output_json=latency.json
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Runs from a checkout without installing the package.
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

_MODEL = flags.DEFINE_string("model", "demo_output/export",
                             "Export directory (the demo's).")
_DATASET = flags.DEFINE_string(
    "dataset_root", "demo_output/synthetic_ntu",
    "The demo's synthetic dataset: its shortest clip is the demo clip, its"
    " generation settings render the long clip.")
_LONG_FRAMES = flags.DEFINE_integer("long_frames", 100,
                                    "Frames of the long clip.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Fresh processes per clip.")
_OUTPUT_JSON = flags.DEFINE_string("output_json", None,
                                   "Also write the figures here.")

STAGES = ("load_model", "skeleton", "decode", "crops", "inception_v3",
          "model", "total")


def demo_clip(dataset_root: Path) -> tuple[str, int]:
  """``(name, frames)`` of the dataset's shortest clip (first by name)."""
  from posedriven.data import synthetic  # pylint: disable=g-import-not-at-top
  clips = synthetic.load_meta(dataset_root)["clips"]
  name = min(clips, key=lambda n: (clips[n]["num_frames"], n))
  return name, int(clips[name]["num_frames"])


def render_long_clip(dataset_root: Path, out: Path, num_frames: int) -> str:
  """One clip of ``num_frames`` frames, rendered as ``dataset_root`` was."""
  from posedriven.data import synthetic  # pylint: disable=g-import-not-at-top
  settings = dict(synthetic.load_meta(dataset_root)["generation"])
  settings.update(num_subjects=1, replications=1, cameras=[1], actions=[1],
                  num_frames_range=(num_frames, num_frames),
                  image_size=tuple(settings["image_size"]))
  return synthetic.generate_dataset(out, **settings)[0]


def _children_cpu_seconds() -> float:
  usage = resource.getrusage(resource.RUSAGE_CHILDREN)
  return usage.ru_utime + usage.ru_stime


def predict_once(model: Path, dataset_root: Path, name: str,
                 report: Path) -> dict[str, Any]:
  """One fresh ``tools/predict.py`` process: its stages and wall time."""
  from posedriven.data import synthetic  # pylint: disable=g-import-not-at-top
  cmd = [sys.executable, str(REPO_ROOT / "tools" / "predict.py"),
         f"--model={model}",
         f"--skeleton={synthetic.skeleton_path(dataset_root, name)}",
         f"--video={synthetic.video_path(dataset_root, name)}",
         f"--output_json={report}", "--overwrite"]
  env = {**os.environ, "PYTHONPATH": os.pathsep.join(
      [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
  load = os.getloadavg()[0]
  cpu_before = _children_cpu_seconds()
  start = time.perf_counter()
  out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                       check=False)
  wall = time.perf_counter() - start
  cpu = _children_cpu_seconds() - cpu_before
  if out.returncode != 0:
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
  written = json.loads(report.read_text())
  return {"wall": wall, "cpu": cpu, "load_average_1min": load,
          **{s: written["stage_seconds"].get(s, 0.0) for s in STAGES}}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
  """Median and fastest of each figure over the runs."""
  keys = (*STAGES, "wall", "cpu", "load_average_1min")
  return {k: {"median": statistics.median(r[k] for r in runs),
              "min": min(r[k] for r in runs)} for k in keys}


def format_row(label: str, summary: dict[str, Any]) -> str:
  cells = [f"{summary[k]['median']:.2f} ({summary[k]['min']:.2f})"
           for k in (*STAGES, "wall", "cpu")]
  return (f"| {label} | " + " | ".join(cells) +
          f" | {summary['load_average_1min']['median']:.2f} |")


def main(argv):
  del argv
  model, root = Path(_MODEL.value), Path(_DATASET.value)
  name, frames = demo_clip(root)
  results = {}
  with tempfile.TemporaryDirectory() as tmp:
    long_root = Path(tmp) / "long"
    long_name = render_long_clip(root, long_root, _LONG_FRAMES.value)
    clips = {f"demo ({name}, {frames} frames)": (root, name),
             f"{_LONG_FRAMES.value} frames": (long_root, long_name)}
    for label, (clip_root, clip_name) in clips.items():
      runs = [predict_once(model, clip_root, clip_name,
                           Path(tmp) / "report.json")
              for _ in range(_REPEATS.value)]
      for run in runs:
        print(f"{label}: " + ", ".join(f"{k} {v:.2f}" for k, v
                                       in run.items()), flush=True)
      results[label] = {"runs": runs, "summary": summarise(runs)}
  print(f"\nseconds, median (fastest) of {_REPEATS.value} fresh processes;"
        f" model {model}; {os.cpu_count()} CPUs")
  print("| clip | " + " | ".join(STAGES) +
        " | process wall | process CPU | load avg |")
  print("|" + "---|" * (len(STAGES) + 4))
  for label, result in results.items():
    print(format_row(label, result["summary"]))
  if _OUTPUT_JSON.value:
    Path(_OUTPUT_JSON.value).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
  app.run(main)
