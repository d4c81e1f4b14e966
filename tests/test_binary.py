"""A binary sets each value one way: the gin binding (posedriven.binary).

The flags that duplicated a binding (``train_pose --strategy``, ``export
--pose_weight``, ``prepare_data --protocol``, ``demo --seed`` ...) are gone:
absl refuses them as unknown (``tests/faults/test_bad_flags.py`` runs the
real processes), and the binding reaches the library call instead. The
shorthands left (``--overwrite``, ``export --data_dir``) are written as
their binding by :func:`binary.with_shorthands`.
"""

from __future__ import annotations

from absl import flags
import gin
import pytest

from posedriven import binary
from posedriven import config
from posedriven.training import distribute
# Registers train_pose's gin configurable.
from posedriven.training import train_pose  # pylint: disable=unused-import
from tests import helpers

_GIN = {"gin_files", "gin_bindings"}
# What each binary may define: paths, gin and --overwrite. The rest, and
# why it is no gin binding: demo's modes pick which function runs (issue 23
# moves them into experiments); make_synthetic's --format picks the writer
# (choices: the library's registry); prepare_data's worker share is
# denylisted in gin (each worker differs); predict parses no gin (a serving
# call, its choices from the library).
FLAGS_OF = {
    "demo": {"output_dir", "overwrite", "full", "select_hyperparameters",
             *_GIN},
    "evaluate": {"output_dir", "data_dir", "pose_dir", "rgb_dir", "overwrite",
                 *_GIN},
    "export": {"output_dir", "pose_dir", "rgb_dir", "data_dir", "overwrite",
               *_GIN},
    "make_synthetic": {"output_dir", "format", "overwrite", *_GIN},
    "predict": {"model", "skeleton", "video", "attention_png", "output_json",
                "overwrite", "top_k", "precision", "skeleton_image_size"},
    "prepare_data": {"dataset_root", "output_dir", "overwrite", "num_shards",
                     "shard_index", *_GIN},
    "train_pose": {"output_dir", "data_dir", "overwrite", *_GIN},
    "train_rgb": {"output_dir", "data_dir", "pose_dir", "overwrite", *_GIN},
    # --experiment names a file; --plan is a mode, like demo's --full.
    "run_experiment": {"experiment", "dataset_root", "output_dir", "plan",
                       "overwrite", *_GIN},
}
# The stage function each training binary calls, and its paths.
_TRAINING = {
    "train_pose": ("train_pose", ["--data_dir={missing}"]),
    "train_rgb": ("train_rgb", ["--data_dir={missing}",
                                "--pose_dir={missing}"]),
}


@pytest.fixture(autouse=True)
def _native_logs_untouched(monkeypatch):
  # Importing a binary would route this process's stderr through
  # console.filter_native_logs; pytest's capture needs it as it is.
  monkeypatch.setenv("POSEDRIVEN_NATIVE_LOGS", "1")


class _Reached(Exception):
  """The stage function was entered: gin has recorded its arguments."""


def _operative_config(tool: str, tmp_path, args: list[str],
                      monkeypatch) -> str:
  """Runs ``tools/<tool>.py`` ``main`` until its stage function starts.

  Returns:
    gin's operative config at that point: every argument the stage
    function was called with (gin records it before the call).
  """
  function, paths = _TRAINING[tool]

  def stop(name):
    raise _Reached(name)

  # The stage's first check: nothing is created and no data is read.
  monkeypatch.setattr(distribute, "check_strategy", stop)
  missing = tmp_path / "does_not_exist"
  argv = [tool, f"--output_dir={tmp_path / 'run'}",
          *(p.format(missing=missing) for p in paths), *args]
  with helpers.imported_alone(f"tools.{tool}") as module:
    flags.FLAGS(argv)
    try:
      with pytest.raises(_Reached):
        module.main([tool])
    finally:
      flags.FLAGS.unparse_flags()
  assert not (tmp_path / "run").exists()
  operative = gin.operative_config_str()
  assert f"{function}." in operative, operative
  gin.clear_config()
  return operative


def test_shorthand_is_appended_as_its_binding_text():
  assert binary.with_shorthands(
      ["train_pose.epochs = 2"],
      {"train_pose.overwrite": True, "train_rgb.overwrite": None,
       "export_model.data_dir": "/runs/it's here"}) == [
           "train_pose.epochs = 2", "train_pose.overwrite = True",
           "export_model.data_dir = \"/runs/it's here\""]


def test_shorthand_flag_wins_over_an_earlier_binding():
  config.parse_gin([], binary.with_shorthands(
      ["train_pose.overwrite = False", "train_pose.seed = 3"],
      {"train_pose.overwrite": True, "train_pose.seed": None}))
  assert gin.query_parameter("train_pose.overwrite") is True
  assert gin.query_parameter("train_pose.seed") == 3


def test_every_binary_is_listed():
  assert sorted(p.stem for p in (helpers.REPO_ROOT / "tools").glob("*.py")
                if p.stem != "__init__") == sorted(FLAGS_OF)


@pytest.mark.parametrize("tool", sorted(FLAGS_OF))
def test_binary_defines_only_paths_gin_and_overwrite(tool):
  with helpers.imported_alone(f"tools.{tool}"):
    defined = {f.name for f in
               flags.FLAGS.flags_by_module_dict()[f"tools.{tool}"]}
  assert defined == FLAGS_OF[tool]


@pytest.mark.parametrize("tool", sorted(_TRAINING))
def test_removed_flag_is_unknown_and_its_binding_reaches_the_stage(
    tool, tmp_path, monkeypatch):
  with helpers.imported_alone(f"tools.{tool}"):
    for removed in ("strategy", "mixed_precision", "jit_compile"):
      with pytest.raises(flags.UnrecognizedFlagError,
                         match=f"Unknown command line flag '{removed}'"):
        flags.FLAGS([tool, f"--{removed}=1"])
      flags.FLAGS.unparse_flags()
  operative = _operative_config(tool, tmp_path, [
      f"--gin_bindings={tool}.strategy = 'mirrored'",
      f"--gin_bindings={tool}.mixed_precision = 'mixed_bfloat16'",
      f"--gin_bindings={tool}.jit_compile = True"], monkeypatch)
  for line in (f"{tool}.strategy = 'mirrored'",
               f"{tool}.mixed_precision = 'mixed_bfloat16'",
               f"{tool}.jit_compile = True"):
    assert line in operative, operative


@pytest.mark.parametrize("tool", sorted(_TRAINING))
def test_overwrite_flag_equals_its_binding(tool, tmp_path, monkeypatch):
  by_flag = _operative_config(tool, tmp_path, ["--overwrite"], monkeypatch)
  by_binding = _operative_config(
      tool, tmp_path, [f"--gin_bindings={tool}.overwrite = True"],
      monkeypatch)
  assert f"{tool}.overwrite = True" in by_flag
  assert by_flag == by_binding
  assert f"{tool}.overwrite = False" in _operative_config(
      tool, tmp_path, [], monkeypatch)
