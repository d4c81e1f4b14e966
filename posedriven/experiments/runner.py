"""Runs a declared experiment: prepare, train, evaluate, tabulate, claim.

Every stage goes through ``training.run_dir``: finished preparations, runs
and evaluations are reused, unfinished ones resume, and the results are one
JSON file written atomically. Rerunning the command after an interruption
(or after adding a row) does only what is missing.

Where everything goes under ``output_dir``: :mod:`.output_layout`. With
folds (``spec``), the runs on the fold dataset, and those that need them,
are trained per fold; a fold table pools the folds' test clips
(:mod:`.folds`).

Each stage is configured afresh (``stage_config``): the run's declared gin
files, the user's ``gin_files``, the run's declared bindings, the user's
``gin_bindings``, in that order, so a user binding overrides the
declaration and a run's identity (its ablation) overrides a user file.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import gin
import numpy as np

from posedriven import atomic
from posedriven import config
from posedriven.data import prepared_data
from posedriven.evaluation import outcomes as outcomes_lib
from posedriven.experiments import folds as folds_lib
from posedriven.experiments import spec as spec_lib
# pylint: disable=unused-import,g-importing-member
from posedriven.experiments.output_layout import Layout
from posedriven.experiments.output_layout import results_file
# pylint: enable=unused-import,g-importing-member
from posedriven.export import saved_model
from posedriven.prepare import preparer
from posedriven.training import evaluate as evaluate_lib
from posedriven.training import metrics
from posedriven.training import run_dir
from posedriven.training import train_pose
from posedriven.training import train_rgb

# What a run was started with; a rerun with other settings is refused.
REQUESTED_FILE = "experiment_stage.json"
SELECTION_KEY = "selection"


def load(name: str, gin_files: Sequence[str] = (),
         gin_bindings: Sequence[str] = ()) -> spec_lib.Experiment:
  """Parses an experiment with the user's configuration on top.

  The user's files and bindings are parsed here too, so that they may
  change the declaration itself (``experiment.seeds = [0, 1, 2]``) and so
  that an unknown name in them fails before anything runs. The
  configuration stays parsed: a caller may read other configurables of the
  experiment's files (the demo's testbed) before the first stage replaces
  it (``stage_config``).
  """
  gin.clear_config()  # Also unlocks it.
  config.parse_gin([str(spec_lib.experiment_file(name)), *gin_files],
                   gin_bindings)
  return spec_lib.declared()


def parse_dataset_roots(values: Sequence[str],
                        datasets: Sequence[str]) -> dict[str, str]:
  """``--dataset_root`` values (``PATH``, or ``NAME=PATH`` each) by dataset.

  Raises:
    ValueError: a bare path for an experiment of several datasets, or a
      name the experiment does not have.
  """
  roots = {}
  for value in values:
    name, sep, path = value.partition("=")
    if not sep:
      if len(datasets) != 1:
        raise ValueError(f"--dataset_root={value}: the experiment has"
                         f" datasets {list(datasets)}; give NAME=PATH for"
                         " each")
      name, path = next(iter(datasets)), value
    if name not in datasets:
      raise ValueError(f"--dataset_root={value}: no dataset {name!r} (the"
                       f" experiment's: {list(datasets)})")
    roots[name] = path
  return roots


def clear_output_dir(output_dir: str | Path) -> None:
  """``--overwrite``: the experiment starts again from nothing."""
  out = Path(output_dir)
  if out.exists():
    logging.warning("overwrite: deleting %s", out)
    shutil.rmtree(out)


def stage_config(declared_files: Sequence[str],
                 declared_bindings: Sequence[str],
                 user_files: Sequence[str],
                 user_bindings: Sequence[str]) -> None:
  """Replaces the gin configuration by one stage's (see module docstring)."""
  gin.clear_config()  # Also unlocks it.
  config.parse_gin([*declared_files, *user_files],
                   [*declared_bindings, *user_bindings])


def restrict_logits(logits: np.ndarray,
                    classes: Sequence[int] | None) -> np.ndarray:
  """Logits with every class outside ``classes`` (1-based) at -inf.

  The arg max then runs over a subset (MSR Action3D's 8-action sets are
  8-class problems although the network has all 20 outputs).
  """
  logits = np.asarray(logits, np.float64)
  if classes is None:
    return logits
  allowed = np.asarray(classes, np.int64) - 1
  out = np.full_like(logits, -np.inf)
  out[:, allowed] = logits[:, allowed]
  return out


def row_logits(logits: Mapping[str, np.ndarray], row: spec_lib.Row
               ) -> dict[str, np.ndarray]:
  """An evaluation's logits as a row sees them (its stream, its classes)."""
  return {"names": logits["names"], "labels": logits["labels"],
          row.stream: restrict_logits(logits[row.stream], row.classes)}


def _check_requested(run: Path, requested: dict[str, Any]) -> None:
  """Refuses to reuse or resume a run started with other settings."""
  path = run / REQUESTED_FILE
  if path.exists():
    old = json.loads(path.read_text())
    if old != requested:
      raise atomic.OutputExistsError(
          run, f"a run started with other settings ({old}; now "
          f"{requested}); delete it or use another output_dir")
  else:
    run.mkdir(parents=True, exist_ok=True)
    run_dir.write_json(path, requested)


class _Stopwatch:

  def __init__(self):
    self.seconds: dict[str, float] = {}

  def stage(self, key: str, message: str) -> "_Stopwatch":
    logging.info("=" * 20 + " %s " + "=" * 20, message)
    self._key, self._start = key, time.time()
    return self

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.seconds[self._key] = (self.seconds.get(self._key, 0.0)
                               + time.time() - self._start)


class _Progress:
  """Training runs done out of the experiment's, with a time estimate."""

  def __init__(self, total: int):
    self.total, self.done, self.start = total, 0, time.monotonic()

  def run_finished(self, name: str, seed: int, fold: int | None = None
                   ) -> None:
    self.done += 1
    elapsed = time.monotonic() - self.start
    where = f"seed {seed}" + (f", fold {fold}" if fold else "")
    logging.info("[%d/%d runs] %s (%s) finished; %.0f s elapsed, ~%.0f s"
                 " left", self.done, self.total, name, where, elapsed,
                 elapsed / self.done * (self.total - self.done))


class _SeedRun:
  """One seed of an experiment (one fold of it, with folds): its runs,
  evaluations and records. A fold's runs that are shared by the folds are
  trained by the first fold and reused by the others."""

  def __init__(self, experiment, layout, seed, roots, prepare_bindings,
               user_files, user_bindings, action_groups, clock,
               progress=None, fold=None):
    self.x, self.layout, self.seed = experiment, layout, seed
    self.progress, self.fold = progress, fold
    self.fold_runs = experiment.fold_runs()
    self.roots, self.prepare_bindings = roots, prepare_bindings
    self.user_files, self.user_bindings = user_files, user_bindings
    self.action_groups, self.clock = action_groups, clock
    # Declared run name -> the directory used (a grid's chosen candidate).
    self.run_dirs: dict[str, Path] = {}
    self.selection: dict[str, Any] = {}

  def fill(self, template: str) -> str:
    """``{seed}`` and ``{seed_dir}`` of a caller's root or binding."""
    return str(template).format(seed=self.seed,
                                seed_dir=self.layout.seed_dir(self.seed))

  def root(self, dataset: str) -> Path:
    return Path(self.fill(self.roots[dataset]))

  def _fold_of(self, run: str) -> int | None:
    return self.fold if run in self.fold_runs else None

  def data(self, dataset: str) -> Path:
    fold = self.fold if dataset == self.x.fold_dataset else None
    out = self.layout.data_dir(dataset, self.seed, fold)
    if (out / "manifest.json").exists():
      return out
    ds = self.x.datasets[dataset]
    files = ds.gin_files if fold is None else self.x.folds[fold - 1]
    extra = [self.fill(b) for b in self.prepare_bindings.get(dataset, ())]
    if fold is not None and fold > 1:
      # The folds split the same clips: fold 1's records are copied, the
      # sensor runs once per clip (prepare.record_reuse).
      first = self.layout.data_dir(dataset, self.seed, 1)
      extra.append(f"prepare_dataset.records_from = {str(first)!r}")
    where = f"seed {self.seed}" + (f", fold {fold}" if fold else "")
    with self.clock.stage(f"prepare_{dataset}",
                          f"prepare {dataset} ({where})"):
      stage_config(files, [*ds.bindings, *extra], self.user_files,
                   self.user_bindings)
      preparer.prepare_dataset(self.root(dataset), out)
    return out

  def train(self, run: spec_lib.Run, directory: Path,
            extra_bindings: Sequence[str] = ()) -> Path:
    data = self.data(run.data)
    requested = {"stage": run.stage, "gin_files": list(run.gin_files),
                 "bindings": [*run.bindings, *extra_bindings],
                 "user_gin_files": list(self.user_files),
                 "user_gin_bindings": list(self.user_bindings),
                 "seed": self.seed}
    if self._fold_of(run.name) is not None:
      requested["fold"] = self.fold
    if run_dir.is_finished(directory) and not (
        directory / REQUESTED_FILE).exists():
      # Finished by an older version: reused as it is.
      return directory
    _check_requested(directory, requested)
    if run_dir.is_finished(directory):
      return directory
    kwargs: dict[str, Any] = {"seed": self.seed}
    if run.init_from is not None:
      kwargs["init_from"] = str(self.run_dirs[run.init_from])
    fold = self._fold_of(run.name)
    with self.clock.stage(f"train_{directory.name}",
                          f"{run.stage} run {directory.name}"
                          f" (seed {self.seed}"
                          + (f", fold {fold})" if fold else ")")):
      stage_config(run.gin_files, [*run.bindings, *extra_bindings],
                   self.user_files, self.user_bindings)
      if run.stage == "pose":
        train_pose.train_pose(directory, data, **kwargs)
      else:
        if self.x.datasets[run.data].probe_crops:
          kwargs["probe_dataset_root"] = str(self.root(run.data))
        train_rgb.train_rgb(directory, data, self.run_dirs[run.pose],
                            **kwargs)
    if self.progress is not None:
      self.progress.run_finished(directory.name, self.seed, fold)
    return directory

  def evaluate(self, pose: str, rgb: str | None
               ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    pose_dir = self.run_dirs[pose]
    rgb_dir = self.run_dirs[rgb] if rgb is not None else None
    data = self.data(self.x.runs[pose].data)
    fold = self.fold if self.x.fold_evaluation(pose, rgb) else None
    eval_dir = self.layout.evaluation(pose_dir.name,
                                      rgb_dir.name if rgb_dir else None,
                                      self.seed, fold)
    if not run_dir.is_evaluated(eval_dir):
      stage_config((), self.x.evaluate_bindings, self.user_files,
                   self.user_bindings)
    with self.clock.stage(f"evaluate_{eval_dir.name}",
                          f"evaluate {eval_dir.name} (seed {self.seed})"):
      return run_dir.reuse_or_evaluate(eval_dir, evaluate_lib.evaluate,
                                       data, pose_dir, rgb_dir)

  def select(self, name: str) -> Path:
    """Trains a run's grid candidates and keeps the best on its row."""
    run = self.x.runs[name]
    row = next(r for r in self.x.rows if spec_lib._selects(r, run))  # pylint: disable=protected-access
    scores = []
    for i, candidate in enumerate(self.x.grid[name]):
      directory = self.train(run, self.layout.run(f"{name}_{i}", self.seed),
                             candidate)
      self.run_dirs[name] = directory
      # A pose run is scored alone: no RGB run is trained yet.
      _, logits = self.evaluate(row.pose,
                                row.rgb if run.stage == "rgb" else None)
      record = outcomes_lib.ClipOutcomes(self.action_groups, halves=False)
      record.add(row.row, row_logits(logits, row), row.stream)
      ci = outcomes_lib.summarize_outcomes([record.to_json()],
                                           [row.row])["rows"][row.row]
      scores.append({"candidate": list(candidate), "run": directory.name,
                     "top1": ci["top1"], "low": ci["low"],
                     "high": ci["high"]})
    best = max(range(len(scores)), key=lambda i: (scores[i]["top1"], -i))
    self.run_dirs[name] = self.layout.run(f"{name}_{best}", self.seed)
    self.selection[name] = {"row": row.row, "candidates": scores,
                            "chosen": scores[best]["candidate"]}
    return self.run_dirs[name]

  def run_all(self) -> None:
    for name in self.x.run_order():
      if name in self.x.grid:
        self.select(name)
      else:
        self.run_dirs[name] = self.train(
            self.x.runs[name],
            self.layout.run(name, self.seed, self._fold_of(name)))

  def tables(self, tables: Sequence[str] | None = None
             ) -> dict[str, dict[str, Any]]:
    """Per table (``tables``, default all): figures per row and the
    per-clip record."""
    tables = self.x.tables() if tables is None else list(tables)
    out: dict[str, dict[str, Any]] = {}
    evaluations = {key: self.evaluate(*key)
                   for key in self.x.evaluations()
                   if any(self.x.evaluation(r) == key and r.table in tables
                          for r in self.x.rows)}
    for table in tables:
      record = outcomes_lib.ClipOutcomes(
          self.action_groups, halves=self.x.synthetic_halves)
      figures = {}
      for row in self.x.rows:
        if row.table != table:
          continue
        results, logits = evaluations[self.x.evaluation(row)]
        seen = row_logits(logits, row)
        record.add(row.row, seen, row.stream)
        figures[row.row] = (dict(results[row.stream]) if row.classes is None
                            else metrics.classification_report(
                                seen[row.stream], logits["labels"]))
      out[table] = {"table": figures, "clip_outcomes": record.to_json()}
    return out

  def export(self) -> Path | None:
    if self.x.export is None:
      return None
    export_dir = self.layout.export(self.seed)
    if not export_dir.exists():
      pose, rgb = (self.run_dirs[r] for r in self.x.export)
      settings = prepared_data.load_prepared(
          self.data(self.x.runs[self.x.export[0]].data)).manifest["settings"]
      with self.clock.stage("export", f"SavedModel export ({pose.name} +"
                            f" {rgb.name})"):
        stage_config((), (), self.user_files, self.user_bindings)
        saved_model.export_model(export_dir, pose_dir=pose, rgb_dir=rgb,
                                 glimpse_weights=settings["glimpse_weights"])
    return export_dir


def summarize(experiment: spec_lib.Experiment,
              per_seed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
  """Tables pooled over seeds: mean figures, intervals and claims.

  Args:
    per_seed: Each seed's ``{"tables": {table: {"table",
      "clip_outcomes"}}}``; with folds, a fold table's record pools the
      folds' test clips and its figures are the folds' mean
      (``folds.pool_tables``), and ``folds`` holds each fold's tables.
  """
  tables = {}
  fold_tables = experiment.fold_tables() if experiment.folds else []
  for table in experiment.tables():
    rows = [r.row for r in experiment.rows if r.table == table]
    claims = [c for c in experiment.claims if c[0] in rows]
    records = [s["tables"][table]["clip_outcomes"] for s in per_seed]
    intervals = outcomes_lib.summarize_outcomes(records, rows, claims)
    figures = [s["tables"][table]["table"] for s in per_seed]
    if len(figures) == 1:
      mean = figures[0]
    else:
      mean = {r: {k: float(np.mean([f[r][k] for f in figures]))
                  for k in ("top1", "top5", "mean_class")} for r in rows}
    tables[table] = {"table": mean, "intervals": intervals,
                     "per_seed_top1": outcomes_lib.per_seed_top1(records,
                                                                 rows)}
    if table in fold_tables and all("folds" in s for s in per_seed):
      tables[table]["per_fold_top1"] = folds_lib.per_fold_top1(per_seed,
                                                               table)
  return tables


def run(experiment: spec_lib.Experiment, output_dir: str | Path, *,
        dataset_roots: Mapping[str, str | Path],
        prepare_bindings: Mapping[str, Sequence[str]] | None = None,
        gin_files: Sequence[str] = (), gin_bindings: Sequence[str] = (),
        action_groups: Mapping[int, int] | None = None,
        before_seed: Callable[[int, Path], None] | None = None) -> dict[str, Any]:
  """Runs (or finishes) an experiment and writes its results file.

  Args:
    experiment: The declaration (``load``).
    output_dir: Everything goes here (``Layout``).
    dataset_roots: Dataset name -> its root; in a per-seed dataset's root
      ``{seed}`` and ``{seed_dir}`` (``Layout.seed_dir``) are filled in.
    prepare_bindings: Dataset name -> extra ``prepare_dataset`` bindings
      the caller derives (a generated sensor's weights); filled in too.
    gin_files, gin_bindings: The user's, applied to every stage last.
    action_groups: Action id -> group, for the bootstrap's units
      (``bootstrap.performance_ids``; the synthetic testbed's pairs).
    before_seed: Called with each seed and its directory before its
      stages (the demo makes that seed's synthetic data there).

  Returns:
    The results, as written to ``<output_dir>/<name>_results.json``.
  """
  missing = set(experiment.datasets) - set(dataset_roots)
  if missing:
    raise ValueError(f"experiment {experiment.name}: no root given for "
                     f"dataset(s) {sorted(missing)}")
  if experiment.grid:
    _check_validation_only(experiment, gin_files, gin_bindings)
  out = Path(output_dir)
  out.mkdir(parents=True, exist_ok=True)
  layout = Layout(out, experiment)
  # experiment.* bindings shape the declaration (load applied them), not a
  # stage: kept out of the stages' recorded settings, so that adding a
  # seed or a row reuses the runs already finished.
  stage_bindings = [b for b in gin_bindings
                    if not b.lstrip().startswith("experiment.")]
  per_seed = []
  fold_runs = experiment.fold_runs()
  progress = _Progress(len(experiment.seeds) * sum(
      (len(experiment.grid.get(name, ())) or 1)
      * (len(experiment.folds) if name in fold_runs else 1)
      for name in experiment.runs))
  for seed in experiment.seeds:
    clock = _Stopwatch()
    if before_seed is not None:
      with clock.stage("setup", f"setup (seed {seed})"):
        before_seed(seed, layout.seed_dir(seed))
    seed_runs = [
        _SeedRun(experiment, layout, seed, dataset_roots,
                 prepare_bindings or {}, gin_files, stage_bindings,
                 action_groups, clock, progress, fold)
        for fold in (range(1, len(experiment.folds) + 1)
                     if experiment.folds else [None])]
    for seed_run in seed_runs:
      seed_run.run_all()
    seed_run = seed_runs[0]
    record = {"seed": seed}
    if experiment.folds:
      folded = experiment.fold_tables()
      per_fold = [r.tables(folded) for r in seed_runs]
      shared = seed_run.tables([t for t in experiment.tables()
                                if t not in folded])
      pooled = folds_lib.pool_tables(per_fold, folded)
      record["tables"] = {t: shared.get(t) or pooled[t]
                          for t in experiment.tables()}
      record["folds"] = [{"fold": k, "tables": t}
                         for k, t in enumerate(per_fold, 1)]
    else:
      record["tables"] = seed_run.tables()
    export_dir = seed_run.export()
    per_seed.append({**record, "seconds": clock.seconds,
                     SELECTION_KEY: seed_run.selection,
                     "export_dir": str(export_dir) if export_dir else None})
  folds = ({"folds": len(experiment.folds),
            "fold_dataset": experiment.fold_dataset}
           if experiment.folds else {})
  results = {"experiment": experiment.name, "title": experiment.title,
             "seeds": list(experiment.seeds), **folds,
             "claims": [f"{b} > {w}" for b, w in experiment.claims],
             "tables": summarize(experiment, per_seed),
             "titles": {r.row: r.title for r in experiment.rows},
             "per_seed": per_seed,
             "gin_files": list(gin_files), "gin_bindings": list(gin_bindings),
             "tensorboard": str(out)}
  run_dir.write_json(layout.results(), results)
  return results


def _check_validation_only(experiment, gin_files, gin_bindings) -> None:
  """A selection (a grid) scores on held-out training subjects only."""
  for ds in experiment.datasets.values():
    stage_config(ds.gin_files, ds.bindings, gin_files, gin_bindings)
    protocol = gin.query_parameter("prepare_dataset.protocol")
    if not str(protocol).endswith("_val"):
      raise ValueError(
          f"experiment {experiment.name} selects settings (grid) but its"
          f" dataset {ds.name} is prepared with protocol {protocol!r}: a"
          " selection scores on a validation protocol (*_val) only, never"
          " on test subjects")
