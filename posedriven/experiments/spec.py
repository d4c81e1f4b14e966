"""An experiment as data: its datasets, training runs, table rows, claims.

An experiment is declared in ``gin_configs/experiments/<name>.gin`` by
binding ``experiment.*``; nothing about it is Python code, so adding a row,
a claim or a table is an edit of that file::

  experiment.name = "table6"
  experiment.datasets = {"ntu": {"gin_files": ["prepare/ntu60_cs.gin"]}}
  experiment.runs = {
      "pose": {"stage": "pose", "data": "ntu",
               "gin_files": ["pose/ntu60_cs.gin"]},
      "rgb_G": {"stage": "rgb", "data": "ntu", "pose": "pose",
                "gin_files": ["rgb/ntu60_cs.gin", "rgb/ablation_G.gin"]}}
  experiment.rows = [
      {"row": "A", "title": "Pose only", "stream": "pose", "pose": "pose"},
      {"row": "K", "title": "A+G", "stream": "fused", "pose": "pose",
       "rgb": "rgb_G"}]
  experiment.claims = [("K", "A")]
  experiment.seeds = [0]

A dataset with folds (SBU's five) is declared once more per fold, each
fold its own ``prepare_dataset`` gin files in place of the dataset's::

  experiment.folds = {"target": [["prepare/sbu_fold1.gin"], ...,
                                 ["prepare/sbu_fold5.gin"]]}

The runs on that dataset, and the runs that need them, are then trained
once per fold (and seed); the others (pre-training on another dataset) once
per seed, shared by every fold. A table of fold runs pools each fold's test
clips (``runner``).

A run's hyper-parameters live in its ``gin_files`` (and a few ``bindings``
that make it the run it is, e.g. its ablation); the user's ``--gin_files``
and ``--gin_bindings`` come after them, so a user binding always wins
(``runner.stage_config``). Paths (dataset roots, run directories) are never
in the declaration: the runner derives them (``layout``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping, Sequence

import gin

from posedriven import config

STAGES = ("pose", "rgb")
STREAMS = ("pose", "rgb", "fused")
EXPERIMENTS_DIR = config.GIN_CONFIG_DIR / "experiments"


class ExperimentError(ValueError):
  """The declaration is inconsistent (names the experiment and the part)."""


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Prepared data: the root it is read from and how it is prepared.

  ``gin_files``/``bindings`` configure ``prepare_dataset`` (dataset,
  protocol, sensor). ``per_seed``: each seed has its own root (a generated
  testbed), so the data is prepared once per seed.
  """
  name: str
  gin_files: tuple[str, ...] = ()
  bindings: tuple[str, ...] = ()
  per_seed: bool = False
  # Draw the probe clips' hand crops in the RGB runs' TensorBoard (needs
  # the root's videos).
  probe_crops: bool = True


@dataclasses.dataclass(frozen=True)
class Run:
  """One training run: a stage, its data, its configuration."""
  name: str
  stage: str
  data: str
  gin_files: tuple[str, ...] = ()
  bindings: tuple[str, ...] = ()
  # RGB runs: the pose run whose features condition them.
  pose: str | None = None
  # Transfer: the run (of this experiment) whose weights it starts from.
  init_from: str | None = None


@dataclasses.dataclass(frozen=True)
class Row:
  """A table row: one stream of one evaluation (a pose run, an RGB run)."""
  row: str
  title: str
  stream: str
  pose: str
  rgb: str | None = None
  # The table the row prints in; rows of one table share their test clips.
  table: str = "main"
  # Arg max over these 1-based classes only (an 8-action subset of a
  # dataset whose network has all the dataset's outputs); None: all.
  classes: tuple[int, ...] | None = None


@dataclasses.dataclass(frozen=True)
class Experiment:
  name: str
  title: str
  datasets: Mapping[str, Dataset]
  runs: Mapping[str, Run]
  rows: tuple[Row, ...]
  claims: tuple[tuple[str, str], ...]
  seeds: tuple[int, ...]
  # Run -> candidate binding lists, tried in order on validation data; the
  # best by its row's top-1 is used by the runs and rows that follow.
  grid: Mapping[str, tuple[tuple[str, ...], ...]]
  evaluate_bindings: tuple[str, ...]
  # Rows whose claims print with the synthetic halves (motion, object).
  synthetic_halves: bool
  # (pose run, RGB run) exported as a SavedModel, or None.
  export: tuple[str, str] | None
  # The dataset prepared once per fold, and each fold's gin files (which
  # replace the dataset's own); None and () without folds.
  fold_dataset: str | None = None
  folds: tuple[tuple[str, ...], ...] = ()

  def fold_runs(self) -> frozenset[str]:
    """Runs trained once per fold: on the fold dataset, or needing such a
    run (its pose run, the run it starts from)."""
    if self.fold_dataset is None:
      return frozenset()
    out = set()
    for name in self.run_order():
      run = self.runs[name]
      if run.data == self.fold_dataset or run.pose in out \
          or run.init_from in out:
        out.add(name)
    return frozenset(out)

  def fold_evaluation(self, pose: str, rgb: str | None) -> bool:
    """Whether an evaluation is made once per fold."""
    return bool({pose, rgb} & self.fold_runs())

  def fold_tables(self) -> list[str]:
    """Tables whose rows are scored on the folds' test clips."""
    return [t for t in self.tables() if any(
        self.fold_evaluation(*self.evaluation(r))
        for r in self.rows if r.table == t)]

  def evaluation(self, row: Row) -> tuple[str, str | None]:
    """The (pose run, RGB run) evaluation a row reads.

    A pose row is read from the first evaluation of its pose run that the
    table holds (the pose logits do not depend on the RGB run), so no extra
    evaluation pass is made for it.
    """
    if row.stream == "pose":
      for other in self.rows:
        if other.pose == row.pose and other.rgb is not None \
            and other.table == row.table:
          return (row.pose, other.rgb)
    return (row.pose, row.rgb)

  def evaluations(self) -> list[tuple[str, str | None]]:
    """Distinct evaluations, in the order rows need them."""
    seen: list[tuple[str, str | None]] = []
    for row in self.rows:
      key = self.evaluation(row)
      if key not in seen:
        seen.append(key)
    return seen

  def tables(self) -> list[str]:
    return list(dict.fromkeys(row.table for row in self.rows))

  def run_order(self) -> list[str]:
    """Runs in an order where every run follows the runs it needs."""
    order: list[str] = []

    def visit(name, chain=()):
      if name in order:
        return
      if name in chain:
        raise ExperimentError(f"experiment {self.name}: runs depend on each"
                              f" other in a cycle: {' -> '.join(chain)}")
      run = self.runs[name]
      for need in (run.pose, run.init_from):
        if need is not None:
          visit(need, chain + (name,))
      order.append(name)

    for name in self.runs:
      visit(name)
    return order


def _strings(value: Any, where: str) -> tuple[str, ...]:
  if value is None:
    return ()
  if isinstance(value, str) or not all(isinstance(v, str) for v in value):
    raise ExperimentError(f"{where}: a list of strings, got {value!r}")
  return tuple(value)


def _known_keys(entry: Mapping[str, Any], allowed: Sequence[str],
                where: str) -> None:
  if not isinstance(entry, Mapping):
    raise ExperimentError(f"{where}: a dict, got {entry!r}")
  unknown = set(entry) - set(allowed)
  if unknown:
    raise ExperimentError(f"{where}: unknown keys {sorted(unknown)}; "
                          f"allowed: {list(allowed)}")


def _dataset(name: str, entry: Mapping[str, Any], where: str) -> Dataset:
  _known_keys(entry, ("gin_files", "bindings", "per_seed", "probe_crops"),
              where)
  return Dataset(name=name,
                 gin_files=_strings(entry.get("gin_files"), where),
                 bindings=_strings(entry.get("bindings"), where),
                 per_seed=bool(entry.get("per_seed", False)),
                 probe_crops=bool(entry.get("probe_crops", True)))


def _run(name: str, entry: Mapping[str, Any], where: str) -> Run:
  _known_keys(entry, ("stage", "data", "gin_files", "bindings", "pose",
                      "init_from"), where)
  stage = entry.get("stage")
  if stage not in STAGES:
    raise ExperimentError(f"{where}: stage must be one of {STAGES}, got "
                          f"{stage!r}")
  if (stage == "rgb") != (entry.get("pose") is not None):
    raise ExperimentError(f"{where}: an rgb run names its pose run, a pose"
                          " run does not")
  return Run(name=name, stage=stage, data=entry.get("data"),
             gin_files=_strings(entry.get("gin_files"), where),
             bindings=_strings(entry.get("bindings"), where),
             pose=entry.get("pose"), init_from=entry.get("init_from"))


def _row(entry: Mapping[str, Any], where: str) -> Row:
  _known_keys(entry, ("row", "title", "stream", "pose", "rgb", "table",
                      "classes"), where)
  stream = entry.get("stream")
  if stream not in STREAMS:
    raise ExperimentError(f"{where}: stream must be one of {STREAMS}")
  if (stream == "pose") != (entry.get("rgb") is None):
    raise ExperimentError(f"{where}: rgb and fused rows name an rgb run, a"
                          " pose row does not")
  classes = entry.get("classes")
  return Row(row=str(entry["row"]), title=str(entry.get("title", "")),
             stream=stream, pose=entry.get("pose"), rgb=entry.get("rgb"),
             table=str(entry.get("table", "main")),
             classes=tuple(int(c) for c in classes) if classes else None)


def _merged(parts: Any) -> dict[str, Any]:
  """A dict, or the union of a list of dicts (gin macros composed)."""
  if isinstance(parts, Mapping):
    return dict(parts)
  merged: dict[str, Any] = {}
  for part in parts:
    merged.update(_merged(part))
  return merged


def _flattened(items: Any, is_leaf) -> list[Any]:
  """Nested lists (gin macros composed) flattened down to their leaves."""
  out = []
  for item in items:
    out += [item] if is_leaf(item) else _flattened(item, is_leaf)
  return out


def _folds(folds: Any, datasets: Mapping[str, Dataset], where: str
           ) -> tuple[str | None, tuple[tuple[str, ...], ...]]:
  """``(fold dataset, each fold's gin files)`` of a ``folds`` declaration."""
  if not folds:
    return None, ()
  if not isinstance(folds, Mapping):
    raise ExperimentError(f"{where}: folds is {{dataset: [each fold's gin"
                          f" files]}}, got {folds!r}")
  if len(folds) != 1:
    raise ExperimentError(f"{where}: folds for one dataset only, got"
                          f" {sorted(folds)}")
  (dataset, lists), = folds.items()
  if dataset not in datasets:
    raise ExperimentError(f"{where}: folds for {dataset!r}, not one of the"
                          f" datasets {list(datasets)}")
  if isinstance(lists, (str, Mapping)) or len(lists) < 2:
    raise ExperimentError(f"{where}: folds for {dataset}: a list of at least"
                          f" 2 folds, each a list of gin files; got"
                          f" {lists!r}")
  files = tuple(_strings(f, f"{where}, fold {i + 1} of {dataset}")
                for i, f in enumerate(lists))
  if len(set(files)) != len(files):
    raise ExperimentError(f"{where}: folds of {dataset} repeat: {files}")
  return dataset, files


def _check_folds(x: Experiment, where: str) -> None:
  """What the runner cannot do with folds, named."""
  if x.fold_dataset is None:
    return
  folded = x.fold_runs()
  if x.grid:
    raise ExperimentError(f"{where}: a grid (selection) with folds is not"
                          " supported; select on a validation protocol"
                          " without folds, then bind the chosen settings")
  if x.export is not None and set(x.export) & folded:
    raise ExperimentError(f"{where}: export {x.export} is trained once per"
                          " fold; export one fold's runs from its"
                          " directory instead")
  for table in x.tables():
    rows = [r for r in x.rows if r.table == table]
    on_folds = [r.row for r in rows
                if x.fold_evaluation(*x.evaluation(r))]
    if on_folds and len(on_folds) != len(rows):
      raise ExperimentError(
          f"{where}: table {table} mixes rows on the folds ({on_folds}) and"
          f" rows on shared data"
          f" ({[r.row for r in rows if r.row not in on_folds]}): a table's"
          " rows share their test clips")


def build(*, name: str, title: str = "",
          datasets: Mapping[str, Mapping[str, Any]],
          runs: Mapping[str, Mapping[str, Any]] | Sequence[Any],
          rows: Sequence[Any],
          claims: Sequence[Sequence[str]] = (),
          seeds: Sequence[int] = (0,),
          grid: Mapping[str, Sequence[Sequence[str]]] | None = None,
          evaluate_bindings: Sequence[str] = (),
          synthetic_halves: bool = False,
          export: Sequence[str] | None = None,
          folds: Mapping[str, Sequence[Sequence[str]]] | None = None
          ) -> Experiment:
  """Checks a declaration and returns it as an ``Experiment``.

  Raises:
    ExperimentError: naming the experiment and the inconsistent part.
  """
  where = f"experiment {name}"
  runs = _merged(runs)
  rows = _flattened(rows, lambda r: isinstance(r, Mapping))
  claims = _flattened(claims, lambda c: all(isinstance(x, str) for x in c))
  sets = {k: _dataset(k, v, f"{where}, dataset {k}")
          for k, v in datasets.items()}
  if not sets:
    raise ExperimentError(f"{where}: no datasets")
  declared = {}
  for k, v in runs.items():
    run = _run(k, v, f"{where}, run {k}")
    if run.data is None and len(sets) == 1:
      run = dataclasses.replace(run, data=next(iter(sets)))
    if run.data not in sets:
      raise ExperimentError(f"{where}, run {k}: data {run.data!r} is not"
                            f" one of the datasets {list(sets)}")
    declared[k] = run
  for run in declared.values():
    for role, need in (("pose", run.pose), ("init_from", run.init_from)):
      if need is not None and need not in declared:
        raise ExperimentError(f"{where}, run {run.name}: {role} {need!r} is"
                              " not a run of the experiment")
    if run.pose is not None and declared[run.pose].stage != "pose":
      raise ExperimentError(f"{where}, run {run.name}: {run.pose} is not a"
                            " pose run")
  parsed = tuple(_row(r, f"{where}, row {i}") for i, r in enumerate(rows))
  names = [r.row for r in parsed]
  if len(set(names)) != len(names):
    raise ExperimentError(f"{where}: row names repeat: {names}")
  for row in parsed:
    for role, need, stage in (("pose", row.pose, "pose"),
                              ("rgb", row.rgb, "rgb")):
      if need is None:
        continue
      if need not in declared or declared[need].stage != stage:
        raise ExperimentError(f"{where}, row {row.row}: {role} {need!r} is"
                              f" not a {stage} run of the experiment")
    if row.rgb is not None and declared[row.rgb].pose != row.pose:
      raise ExperimentError(
          f"{where}, row {row.row}: rgb run {row.rgb} was trained on pose"
          f" run {declared[row.rgb].pose}, not {row.pose}")
  by_name = {r.row: r for r in parsed}
  pairs = []
  for claim in claims:
    if len(claim) != 2:
      raise ExperimentError(f"{where}: a claim is (better, worse), got"
                            f" {claim!r}")
    better, worse = claim
    for r in (better, worse):
      if r not in by_name:
        raise ExperimentError(f"{where}: claim {better} > {worse}: no row"
                              f" {r}")
    if by_name[better].table != by_name[worse].table:
      raise ExperimentError(f"{where}: claim {better} > {worse} compares"
                            " rows of different tables (other clips)")
    pairs.append((better, worse))
  if not seeds:
    raise ExperimentError(f"{where}: no seeds")
  candidates = {}
  for run, lists in (grid or {}).items():
    if run not in declared:
      raise ExperimentError(f"{where}: grid for {run!r}, not a run")
    if not any(_selects(r, declared[run]) for r in parsed):
      raise ExperimentError(f"{where}: grid for {run}, but no row scores"
                            " it (a pose row of a pose run, an rgb row of"
                            " an rgb run)")
    candidates[run] = tuple(_strings(c, f"{where}, grid {run}")
                            for c in lists)
    if not candidates[run]:
      raise ExperimentError(f"{where}: grid for {run} is empty")
  if export is not None:
    export = tuple(export)
    if (len(export) != 2 or declared.get(export[0]) is None
        or declared.get(export[1]) is None
        or declared[export[1]].pose != export[0]):
      raise ExperimentError(f"{where}: export is (pose run, its rgb run),"
                            f" got {export}")
  fold_dataset, fold_files = _folds(folds, sets, where)
  experiment = Experiment(
      name=name, title=title or name, datasets=sets, runs=declared,
      rows=parsed, claims=tuple(pairs), seeds=tuple(int(s) for s in seeds),
      grid=candidates, evaluate_bindings=_strings(evaluate_bindings, where),
      synthetic_halves=bool(synthetic_halves), export=export,
      fold_dataset=fold_dataset, folds=fold_files)
  _check_folds(experiment, where)
  return experiment


def _selects(row: Row, run: Run) -> bool:
  """Whether ``row`` scores ``run`` in a selection."""
  if run.stage == "pose":
    return row.stream == "pose" and row.pose == run.name
  return row.stream == "rgb" and row.rgb == run.name


@gin.configurable("experiment")
def declared(**kwargs: Any) -> Experiment:
  """The gin-declared experiment (``experiment.*`` bindings)."""
  return build(**kwargs)


def experiment_file(name: str) -> Path:
  """``gin_configs/experiments/<name>.gin``, or ``name`` if it is a file."""
  path = Path(name)
  if path.suffix == ".gin" and path.is_file():
    return path
  path = EXPERIMENTS_DIR / f"{name}.gin"
  if not path.is_file():
    known = sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.gin"))
    raise FileNotFoundError(f"no experiment {name!r}: {path} does not exist"
                            f" (experiments: {', '.join(known)})")
  return path


def available() -> list[str]:
  return sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.gin"))
