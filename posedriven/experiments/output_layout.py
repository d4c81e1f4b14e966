"""Where each part of an experiment lives under its output directory.

::

  tfrecords[_<dataset>][_fold<f>]/  prepared data (per seed when the
                                    dataset is; per fold when it has folds)
  [seed_<k>/]runs/<run>/            training runs (one seed: no seed_<k>/)
  [seed_<k>/]eval/<pose>[+<rgb>]/   evaluations
  [seed_<k>/]fold_<f>/runs|eval/    a fold's own runs and evaluations
  [seed_<k>/]export/                the declared export, if any
  <experiment>_results.json         tables, intervals, claims, records

Runs shared by the folds (pre-training on another dataset) keep the layout
of an experiment without folds, so adding folds reuses them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from posedriven.experiments import spec as spec_lib


def results_file(experiment: spec_lib.Experiment) -> str:
  return f"{experiment.name}_results.json"


@dataclasses.dataclass(frozen=True)
class Layout:
  """Where each part of an experiment lives under its output directory."""
  output_dir: Path
  experiment: spec_lib.Experiment

  def seed_dir(self, seed: int) -> Path:
    if len(self.experiment.seeds) == 1:
      return self.output_dir
    return self.output_dir / f"seed_{seed}"

  def fold_dir(self, seed: int, fold: int | None) -> Path:
    """A fold's runs and evaluations; None: those shared by the folds."""
    base = self.seed_dir(seed)
    return base if fold is None else base / f"fold_{fold}"

  def data_dir(self, dataset: str, seed: int, fold: int | None = None
               ) -> Path:
    name = ("tfrecords" if len(self.experiment.datasets) == 1
            else f"tfrecords_{dataset}")
    if fold is not None:
      name += f"_fold{fold}"
    base = (self.seed_dir(seed) if self.experiment.datasets[dataset].per_seed
            else self.output_dir)
    return base / name

  def run(self, name: str, seed: int, fold: int | None = None) -> Path:
    return self.fold_dir(seed, fold) / "runs" / name

  def evaluation(self, pose: str, rgb: str | None, seed: int,
                 fold: int | None = None) -> Path:
    name = pose if rgb is None else f"{pose}+{rgb}"
    return self.fold_dir(seed, fold) / "eval" / name

  def export(self, seed: int) -> Path:
    return self.seed_dir(seed) / "export"

  def results(self) -> Path:
    return self.output_dir / results_file(self.experiment)
