"""What an experiment would run, and what it would cost, running nothing.

The costs are the project's own measurements on its 2-core CPU machine
(BUILD_NOTES.md; each constant names its benchmark). They are upper bounds
for the training runs (early stopping may stop before ``epochs``) and scale
with the number of clips; on a GPU every stage is far cheaper, and no GPU
figure has been measured by the project.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping, Sequence

import gin

from posedriven.data.formats import registry
from posedriven.experiments import runner
from posedriven.experiments import spec as spec_lib
from posedriven.prepare import sharding

# benchmarks/glimpse_pipeline.py, InceptionV3 at 299 px on real NTU H.264
# Full-HD video, decode included: CPU-ms per hand crop (BUILD_NOTES, "NTU
# RGB+D 120 plan"). Scaled by (input side / 299)^2 for other sensor sizes.
SENSOR_CPU_MS_PER_CROP_299 = 104.9
# benchmarks/input_pipeline.py: examples/s consumed by one training step of
# the paper-size pose stream (batch 64), and benchmarks/rgb_training.py:
# samples/s of the paper-size RGB stream G (batch 32), 2 cores.
POSE_EXAMPLES_PER_S = 99.8
RGB_EXAMPLES_PER_S = 35.2
# benchmarks/inference.py, batch 64: sub-sequences/s of the fused model.
EVAL_SUBSEQUENCES_PER_S = 89.8
SUBSEQUENCES_PER_CLIP = 10
# Published clip counts (train, test) for a plan without the data on disk
# (Shahroudy et al. 2016; Liu et al. 2019), and the mean NTU clip length.
PUBLISHED_SPLITS = {
    "ntu60_cs": (40320, 16560), "ntu60_cv": (37920, 18960),
    "ntu120_csub": (63026, 50919), "ntu120_cset": (54468, 59477),
}
MEAN_FRAMES_PER_CLIP = 100
HANDS = 4
# The measurements' machine: CPU-seconds spread over its 2 cores.
CORES = 2


@dataclasses.dataclass
class Step:
  stage: str
  what: str
  runs: int
  # None: the clips could not be counted (no root, no published size).
  seconds: float | None
  note: str = ""


def split_sizes(dataset: str, protocol: str, root: Path | None
                ) -> tuple[int | None, int | None, str]:
  """(train clips, test clips, where the counts come from); None when
  neither a root nor a published size gives them."""
  if root is not None and root.exists():
    by_split, _ = sharding.split_sources(
        registry.list_clips(root, dataset), protocol)
    return (len(by_split.get("train", ())), len(by_split.get("test", ())),
            f"counted in {root}")
  if protocol in PUBLISHED_SPLITS:
    train, test = PUBLISHED_SPLITS[protocol]
    return train, test, "published size"
  return None, None, "not counted: give --dataset_root"


def _query(name: str, default: Any) -> Any:
  try:
    value = gin.query_parameter(name)
  except ValueError:
    return default
  # A parameter bound to a macro (``train_pose.epochs = %TRANSFER_EPOCHS``)
  # is queried as the reference; its value is the macro's.
  if isinstance(value, gin.config.ConfigurableReference) and value.evaluate:
    return value.scoped_configurable_fn()
  return value


def make_plan(experiment: spec_lib.Experiment,
              dataset_roots: Mapping[str, str | Path],
              gin_files: Sequence[str] = (),
              gin_bindings: Sequence[str] = ()) -> list[Step]:
  """The stages of ``experiment``, each with its runs and estimated cost."""
  seeds = len(experiment.seeds)
  num_folds = len(experiment.folds)
  fold_runs = experiment.fold_runs()
  steps, sizes = [], {}
  for ds in experiment.datasets.values():
    folded = ds.name == experiment.fold_dataset
    # Fold 1's sizes stand for every fold's; folds 2.. copy its records.
    runner.stage_config(experiment.folds[0] if folded else ds.gin_files,
                        ds.bindings, gin_files, gin_bindings)
    dataset = _query("prepare_dataset.dataset", "ntu60")
    protocol = _query("prepare_dataset.protocol", "ntu60_cs")
    store = _query("prepare_dataset.store", "features")
    side = _query("prepare_dataset.glimpse_input_size", 299)
    root = dataset_roots.get(ds.name)
    root = (Path(str(root)) if root is not None and "{" not in str(root)
            else None)
    train, test, source = split_sizes(dataset, protocol, root)
    sizes[ds.name] = (train, test)
    copies = seeds if ds.per_seed else 1
    cost = None
    if train is not None:
      crops = (train + test) * MEAN_FRAMES_PER_CLIP * HANDS
      cost = copies * (crops * SENSOR_CPU_MS_PER_CROP_299 / 1e3
                       * (side / 299) ** 2 / CORES
                       if store == "features" else 0.0)
    counts = (f"{train} train + {test} test clips" if train is not None
              else "clips")
    note = (f"InceptionV3 {side} px" if store == "features"
            else "skeletons only")
    if folded:
      note += (f"; {num_folds} folds, the sensor once per clip (folds 2-"
               f"{num_folds} copy fold 1's records)")
    steps.append(Step("prepare", f"{ds.name}: {dataset} {protocol},"
                      f" {counts} ({source})", copies, cost, note))
  for name in experiment.run_order():
    run = experiment.runs[name]
    runner.stage_config(run.gin_files, run.bindings, gin_files, gin_bindings)
    stage = f"train_{run.stage}"
    epochs = _query(f"{stage}.epochs", 200)
    rate = POSE_EXAMPLES_PER_S if run.stage == "pose" else RGB_EXAMPLES_PER_S
    candidates = len(experiment.grid.get(name, ())) or 1
    if name in fold_runs:
      candidates *= num_folds
    train = sizes[run.data][0]
    steps.append(Step(
        "train", f"{name}: {run.stage} stream, {' '.join(run.gin_files)}"
        f"{' ' + '; '.join(run.bindings) if run.bindings else ''}",
        seeds * candidates, None if train is None else
        seeds * candidates * epochs * train / rate,
        f"<= {epochs} epochs" + (f", from {run.init_from}"
                                 if run.init_from else "")))
  for pose, rgb in experiment.evaluations():
    test = sizes[experiment.runs[pose].data][1]
    times = seeds * (num_folds if experiment.fold_evaluation(pose, rgb)
                     else 1)
    steps.append(Step("evaluate", pose if rgb is None else f"{pose}+{rgb}",
                      times, None if test is None else
                      times * test * SUBSEQUENCES_PER_CLIP
                      / EVAL_SUBSEQUENCES_PER_S, "10 sub-sequences per clip"))
  return steps


def _duration(seconds: float | None) -> str:
  if seconds is None:
    return "?"
  if seconds < 120:
    return f"{seconds:.0f} s"
  if seconds < 7200:
    return f"{seconds / 60:.0f} min"
  return f"{seconds / 3600:.1f} h"


def format_plan(experiment: spec_lib.Experiment, steps: Sequence[Step]
                ) -> str:
  lines = [f"Plan of experiment {experiment.name} ({experiment.title}),"
           f" seeds {list(experiment.seeds)}:",
           f"{'stage':9} {'runs':>4} {'estimate':>12}  what"]
  for s in steps:
    lines.append(f"{s.stage:9} {s.runs:4d} {_duration(s.seconds):>12}  "
                 f"{s.what}" + (f" [{s.note}]" if s.note else ""))
  known = [s.seconds for s in steps if s.seconds is not None]
  unknown = " (stages marked ? not counted)" if len(known) < len(steps) else ""
  lines.append(f"total: {_duration(sum(known))}{unknown} of wall time at this project's"
               " 2-core CPU figures (an upper bound for training, which may"
               " stop early; a GPU is far faster, and not measured here)")
  lines.append("rows: " + ", ".join(f"{r.row} ({r.stream})"
                                    for r in experiment.rows))
  lines.append("claims: " + (", ".join(f"{b} > {w}"
                                       for b, w in experiment.claims)
                             or "none"))
  return "\n".join(lines)
