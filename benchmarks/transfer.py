r"""Does NTU pre-training help on a small SBU or MSR set? (paper, Tables 4-5)

Generates the synthetic testbed, then runs the experiment
``gin_configs/experiments/transfer.gin`` (or ``--experiment=transfer_msr``,
``transfer_pose``, ``transfer_msr_pose``) with the experiments runner: both
streams pre-trained on a synthetic NTU set, then five variants trained on a
small synthetic SBU-format (MSR-format) set (``data/synthetic/sbu_msr.py``:
other skeleton, camera and classes, the same kind of motions; SBU's classes
are motion x person, which pose decides, MSR's motion x the object held,
``sbu_msr.msr_class_parts``, so only MSR's RGB and fused rows can show
whether RGB transfer works), (a) from
scratch, (b) from NTU on the target's joint layout, (c) from NTU with the
target's joints on the NTU layout, (d) (c)'s copies frozen, (e) from
scratch on the NTU layout; the experiment file says how each is configured
(``pose/transfer*.gin``, ``rgb/transfer*.gin``), its rows, and the claims
(c) > (a) (the paper's recipe against scratch) and (c) > (e) (pre-training
alone, the layout held fixed) per stream.

What is made here, in front of the runner, once for every seed:

* the synthetic NTU set (``generate_dataset.*``) and the target set
  (``generate_sbu.*`` or ``generate_msr.*``, by the target dataset's
  ``prepare_dataset.dataset``), as the experiment's gin files bind them;
* with RGB (``prepare_dataset.store`` not ``none``) the glimpse sensor both
  sets are prepared with: a seeded random InceptionV3 with batch-norm
  statistics from NTU hand crops, as in the demo (no ImageNet weights
  here).

Each seed pre-trains its own NTU runs and trains every variant; the figures
are top-1 of the pose stream, the RGB stream and their logit-level fusion
on the target's test clips (10 sub-sequences averaged per clip), pooled
over seeds, with the project's 95% interval (a two-stage bootstrap over
seeds, then test clips), and the claims per stream on the paired
bootstrap of the difference.

Every setting is a gin binding over the experiment's files, e.g.
``--gin_bindings='experiment.seeds = [0]'``,
``--gin_bindings='train_pose.epochs = 5'`` (every pose run),
``--gin_bindings='generate_sbu.sequences = 1'``. Everything is resumable
(re-run the command to continue); the results and each seed's per-clip
outcomes go to ``<output_dir>/<experiment>_results.json`` (written
atomically). Run from the repository root::

  python3 benchmarks/transfer.py --output_dir=/tmp/transfer_bench
  python3 benchmarks/transfer.py --experiment=transfer_msr \
      --output_dir=/tmp/transfer_msr
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging
import gin

from posedriven import binary
from posedriven import demo
from posedriven.data import synthetic
from posedriven.data.synthetic import sbu_msr
from posedriven.evaluation import claims as claims_lib
from posedriven.evaluation import tables
from posedriven.experiments import report
from posedriven.experiments import runner

_OUT = flags.DEFINE_string("output_dir", None, "Work directory.",
                           required=True)
_EXPERIMENT = flags.DEFINE_string(
    "experiment", "transfer",
    "transfer (SBU target), transfer_msr (MSR target), transfer_pose or"
    " transfer_msr_pose (the pose stream only), or a .gin file declaring"
    " datasets ntu and target.")
_GIN_FILES = flags.DEFINE_multi_string("gin_files", [], "Gin config files.")
_GIN_BINDINGS = flags.DEFINE_multi_string("gin_bindings", [], "Gin bindings.")
_OVERWRITE = flags.DEFINE_boolean(
    "overwrite", False, "Delete output_dir's contents and start again.")

# The experiment's datasets: the pre-training set and the one transferred to.
NTU, TARGET = "ntu", "target"
TESTBEDS = ("generate_dataset", "generate_sbu", "generate_msr")
_GENERATORS = {"sbu": sbu_msr.generate_sbu, "msr": sbu_msr.generate_msr}


def _prepare_setting(name: str, default: Any) -> Any:
  try:
    value = gin.query_parameter(f"prepare_dataset.{name}")
  except ValueError:  # Not bound: prepare_dataset's default.
    return default
  if isinstance(value, gin.config.ConfigurableReference) and value.evaluate:
    return value.scoped_configurable_fn()  # Bound to a macro: its value.
  return value


def _preparation(dataset, gin_files, gin_bindings) -> dict[str, Any]:
  """The ``prepare_dataset`` settings a dataset of the experiment gets."""
  runner.stage_config(dataset.gin_files, dataset.bindings, gin_files,
                      gin_bindings)
  return {"dataset": _prepare_setting("dataset", "ntu60"),
          "store": _prepare_setting("store", "features"),
          "glimpse_input_size": _prepare_setting("glimpse_input_size", 299)}


def make_testbed(experiment, work: Path, testbed: Mapping[str, dict],
                 gin_files: Sequence[str], gin_bindings: Sequence[str]
                 ) -> tuple[dict[str, str], dict[str, list[str]], str]:
  """Writes the synthetic NTU and target sets and the glimpse sensor.

  Args:
    experiment: The declaration, with datasets ``ntu`` and ``target``.
    work: The output directory.
    testbed: ``{generator: its bound keywords}`` (``TESTBEDS``), as the
      experiment's files and the user bound them.

  Returns:
    The runner's ``dataset_roots`` and ``prepare_bindings``, and the
    target's dataset name (``sbu`` or ``msr``).
  """
  missing = {NTU, TARGET} - set(experiment.datasets)
  if missing:
    raise app.UsageError(f"experiment {experiment.name}: no dataset(s)"
                         f" {sorted(missing)} (a transfer experiment has"
                         f" datasets {NTU!r} and {TARGET!r})")
  ntu = _preparation(experiment.datasets[NTU], gin_files, gin_bindings)
  target = _preparation(experiment.datasets[TARGET], gin_files, gin_bindings)
  if target["dataset"] not in _GENERATORS:
    raise app.UsageError(f"experiment {experiment.name}: the target is"
                         f" {target['dataset']!r}; synthetic data exists for"
                         f" {sorted(_GENERATORS)}")
  with_rgb = {ntu["store"], target["store"]} != {"none"}
  if with_rgb and (ntu["glimpse_input_size"]
                   != target["glimpse_input_size"]):
    raise app.UsageError(
        f"experiment {experiment.name}: one glimpse sensor prepares both"
        f" sets, but NTU is prepared at {ntu['glimpse_input_size']} px and"
        f" the target at {target['glimpse_input_size']} px")
  ntu_root = work / "synthetic_ntu"
  logging.info("synthetic NTU set: %s", ntu_root)
  synthetic.generate_dataset(ntu_root, **testbed["generate_dataset"])
  name = target["dataset"]
  target_root = work / f"synthetic_{name}"
  logging.info("synthetic %s set: %s", name, target_root)
  _GENERATORS[name](target_root, **testbed[f"generate_{name}"])
  prepare_bindings = {}
  if with_rgb:
    weights = demo.make_sensor_weights(work / demo.SENSOR_WEIGHTS,
                                       ntu["glimpse_input_size"], 0,
                                       ntu_root)
    binding = f"prepare_dataset.glimpse_weights = {str(weights)!r}"
    prepare_bindings = {NTU: [binding], TARGET: [binding]}
  return ({NTU: str(ntu_root), TARGET: str(target_root)}, prepare_bindings,
          name)


def summary_lines(results: Mapping[str, Any], target: str) -> list[str]:
  """Per variant and stream: top-1, its interval and each seed's figure;
  then the claims and whether each holds."""
  seeds = results["seeds"]
  lines = [f"top-1 % on the {target} test clips ({len(seeds)} seeds"
           " pooled [95% interval]; ntu_pretrain: NTU's own test clips):"]
  for table in results["tables"].values():
    for row, figures in table["intervals"]["rows"].items():
      variant, stream = row.split("/")
      per_seed = [round(100 * v, 1) for v in table["per_seed_top1"][row]]
      lines.append(f"  {variant:14s} {stream:5s} {100 * figures['top1']:6.1f}"
                   f" {tables.format_interval(figures)}  per seed {per_seed}")
  intervals = results["tables"]["target"]["intervals"]
  lines += ["Claims, paired:", tables.format_claims(intervals)]
  holds = {c["claim"]: claims_lib.holds(c) for c in intervals["claims"]}
  lines.append(f"claims that hold: {holds}")
  return lines


@binary.flags_only
def main(argv):
  del argv
  started, load_start = time.monotonic(), os.getloadavg()
  gin_files, gin_bindings = _GIN_FILES.value, _GIN_BINDINGS.value
  experiment = runner.load(_EXPERIMENT.value, gin_files, gin_bindings)
  # Read before the first stage replaces the configuration.
  testbed = {name: gin.get_bindings(name) for name in TESTBEDS}
  work = Path(_OUT.value)
  if _OVERWRITE.value:
    runner.clear_output_dir(work)
  work.mkdir(parents=True, exist_ok=True)
  roots, prepare_bindings, target = make_testbed(
      experiment, work, testbed, gin_files, gin_bindings)
  results = runner.run(experiment, work, dataset_roots=roots,
                       prepare_bindings=prepare_bindings,
                       gin_files=gin_files, gin_bindings=gin_bindings)
  print(report.format_results(results))
  print()
  print("\n".join(summary_lines(results, target)))
  print(f"{time.monotonic() - started:.0f} s, load average {load_start} ->"
        f" {os.getloadavg()}; results:"
        f" {runner.Layout(work, experiment).results()}")


if __name__ == "__main__":
  app.run(main)
