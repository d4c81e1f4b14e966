"""The transfer experiments (benchmarks/transfer.py) as declared in gin.

What the benchmark's flags set before the runner took it over is pinned
here: each run's hyper-parameters as its stage sees them, the NTU runs each
variant starts from, the tables, rows and claims.
"""

import gin
import pytest

from posedriven.data.formats import sbu as sbu_format
from posedriven.experiments import runner

VARIANTS = ("a_scratch", "b_ntu_native", "c_ntu_mapped", "d_no_finetune",
            "e_scratch_mapped")
FROM_NTU = ("b_ntu_native", "c_ntu_mapped", "d_no_finetune")
# (experiment, target dataset, with the RGB stream)
TRANSFER = [("transfer", "sbu", True), ("transfer_msr", "msr", True),
            ("transfer_pose", "sbu", False),
            ("transfer_msr_pose", "msr", False)]
# The benchmark's flag defaults: per run, what train_pose / train_rgb get.
POSE = {
    "ntu_pose": dict(learning_rate=1e-3, epochs=40, validation_fraction=0.0,
                     skeleton_layout="native"),
    "a_scratch_pose": dict(learning_rate=1e-3, epochs=40,
                           validation_fraction=0.25,
                           skeleton_layout="native"),
    "b_ntu_native_pose": dict(learning_rate=1e-4, epochs=40,
                              validation_fraction=0.25,
                              skeleton_layout="native",
                              reinitialise=["conv3"]),
    "c_ntu_mapped_pose": dict(learning_rate=1e-4, epochs=40,
                              validation_fraction=0.25,
                              skeleton_layout="kinect_v2"),
    "d_no_finetune_pose": dict(learning_rate=1e-3, epochs=40,
                               validation_fraction=0.25,
                               skeleton_layout="kinect_v2",
                               freeze_pose_network=True),
    "e_scratch_mapped_pose": dict(learning_rate=1e-3, epochs=40,
                                  validation_fraction=0.25,
                                  skeleton_layout="kinect_v2"),
}
RGB = {
    "ntu_rgb": dict(learning_rate=3e-4, epochs=20, validation_fraction=0.0),
    "a_scratch_rgb": dict(learning_rate=3e-4, epochs=40,
                          validation_fraction=0.25),
    "b_ntu_native_rgb": dict(learning_rate=3e-5, epochs=40,
                             validation_fraction=0.25),
    "c_ntu_mapped_rgb": dict(learning_rate=3e-5, epochs=40,
                             validation_fraction=0.25),
    "d_no_finetune_rgb": dict(learning_rate=3e-4, epochs=40,
                              validation_fraction=0.25,
                              freeze_rgb_network=True),
    "e_scratch_mapped_rgb": dict(learning_rate=3e-4, epochs=40,
                                 validation_fraction=0.25),
}
POSE_SHARED = dict(filters=(16, 16), features=128, batch_size=8, patience=10,
                   keep_checkpoints=0, verbose=0)
RGB_SHARED = dict(ablation="G", lstm_units=64, feature_units=64, batch_size=8,
                  patience=10, num_attention_images=0, keep_checkpoints=0,
                  verbose=0)


def _value(name):
  """A bound parameter, the macro's value where it is bound to a macro."""
  value = gin.query_parameter(name)
  if isinstance(value, gin.config.ConfigurableReference):
    return value.scoped_configurable_fn()
  return value


def _stage(run, user_bindings=()):
  runner.stage_config(run.gin_files, run.bindings, (), user_bindings)
  return f"train_{run.stage}"


@pytest.mark.parametrize("name, target, with_rgb", TRANSFER)
def test_runs_rows_and_claims(name, target, with_rgb):
  x = runner.load(name)
  assert x.name == name and set(x.datasets) == {"ntu", "target"}
  assert x.seeds == (0, 1, 2)
  streams = ("pose", "rgb", "fused") if with_rgb else ("pose",)
  expected_runs = {f"{v}_{s}" for v in ("ntu", *VARIANTS)
                   for s in (("pose", "rgb") if with_rgb else ("pose",))}
  assert set(x.runs) == expected_runs
  for stage in ("pose", "rgb") if with_rgb else ("pose",):
    assert x.runs[f"ntu_{stage}"].data == "ntu"
    assert x.runs[f"ntu_{stage}"].init_from is None
    for variant in ("a_scratch", "e_scratch_mapped"):
      assert x.runs[f"{variant}_{stage}"].init_from is None
      assert x.runs[f"{variant}_{stage}"].data == "target"
    for variant in FROM_NTU:
      run = x.runs[f"{variant}_{stage}"]
      assert run.data == "target" and run.init_from == f"ntu_{stage}"
  if with_rgb:
    # Each RGB run stands on its own variant's pose run.
    for variant in ("ntu", *VARIANTS):
      assert x.runs[f"{variant}_rgb"].pose == f"{variant}_pose"
  order = x.run_order()
  assert order.index("ntu_pose") < order.index("c_ntu_mapped_pose")
  assert x.tables() == ["ntu_pretrain", "target"]
  # The old benchmark's record order: per variant, its streams.
  assert [(r.row, r.table) for r in x.rows] == (
      [(f"ntu_pretrain/{s}", "ntu_pretrain") for s in streams]
      + [(f"{v}/{s}", "target") for v in VARIANTS for s in streams])
  assert x.claims == (
      (("c_ntu_mapped/pose", "a_scratch/pose"),
       ("c_ntu_mapped/pose", "e_scratch_mapped/pose"))
      + (tuple((f"c_ntu_mapped/{s}", f"a_scratch/{s}") for s in streams[1:])
         + tuple((f"c_ntu_mapped/{s}", f"e_scratch_mapped/{s}")
                 for s in streams[1:])))
  # One evaluation per variant, both streams in it.
  assert x.evaluations() == [
      (f"{v}_pose", f"{v}_rgb" if with_rgb else None)
      for v in ("ntu", *VARIANTS)]
  assert x.evaluate_bindings == ("evaluate.num_attention_images = 0",)
  for ds in x.datasets.values():
    assert not ds.per_seed and not ds.probe_crops
    runner.stage_config(ds.gin_files, ds.bindings, (), ())
    assert _value("prepare_dataset.store") == (
        "features" if with_rgb else "none")
    assert _value("prepare_dataset.glimpse_input_size") == 75
    assert _value("prepare_dataset.clips_per_file") == 32
  runner.stage_config(x.datasets["target"].gin_files,
                      x.datasets["target"].bindings, (), ())
  assert _value("prepare_dataset.dataset") == target
  assert _value("prepare_dataset.protocol") == {"sbu": "sbu_fold1",
                                                "msr": "msr_cs"}[target]
  # SBU: the five folds, the target's runs per fold, the NTU runs shared.
  if target == "sbu":
    assert x.fold_dataset == "target"
    assert x.folds == tuple((f"prepare/sbu_fold{k}.gin",)
                            for k in range(1, 6))
    assert x.fold_runs() == {r for r in x.runs if not r.startswith("ntu_")}
    assert x.fold_tables() == ["target"]
  else:
    assert x.fold_dataset is None and x.folds == ()


@pytest.mark.parametrize("name, base, seeds", [
    ("transfer_table4", "transfer", (0,)),
    ("transfer_table5", "transfer_msr", (0, 1, 2))])
def test_the_paper_tables_are_the_benchmarks_runs_c_and_d_alone(name, base,
                                                                  seeds):
  """Tables 4 and 5: the fine-tuned and frozen variants, each run exactly as
  the full benchmark declares it, on the same folds and data."""
  full, x = runner.load(base), runner.load(name)
  kept = {f"{v}_{s}" for v in ("ntu", "c_ntu_mapped", "d_no_finetune")
          for s in ("pose", "rgb")}
  assert x.name == name and set(x.runs) == kept
  assert {n: x.runs[n] for n in kept} == {n: full.runs[n] for n in kept}
  assert x.datasets == full.datasets and x.folds == full.folds
  assert x.seeds == seeds
  assert [r.row for r in x.rows] == [
      f"{v}/{s}" for v in ("ntu_pretrain", "c_ntu_mapped", "d_no_finetune")
      for s in ("pose", "rgb", "fused")]
  assert x.claims == (("c_ntu_mapped/fused", "c_ntu_mapped/pose"),
                      ("c_ntu_mapped/fused", "c_ntu_mapped/rgb"),
                      ("c_ntu_mapped/fused", "d_no_finetune/fused"))


@pytest.mark.parametrize("name", ["transfer", "transfer_msr_pose"])
def test_each_run_gets_the_benchmarks_hyper_parameters(name):
  x = runner.load(name)
  for run_name, run in x.runs.items():
    stage = _stage(run)
    expected = {**POSE_SHARED, **POSE[run_name]} if run.stage == "pose" else {
        **RGB_SHARED, **RGB[run_name]}
    for key, value in expected.items():
      got = _value(f"{stage}.{key}")
      assert (list(got) if isinstance(got, (list, tuple)) else got) == (
          list(value) if isinstance(value, (list, tuple)) else value), (
              run_name, key)
    for flag in (f"freeze_{run.stage}_network", "reinitialise"):
      if flag not in expected:
        with pytest.raises(ValueError):  # Not bound: the default.
          gin.query_parameter(f"{stage}.{flag}")
    # Not the paper-size base configs: XLA off, as the benchmark ran.
    with pytest.raises(ValueError):
      gin.query_parameter(f"{stage}.jit_compile")


def test_fine_tuning_is_a_tenth_of_the_learning_rate():
  x = runner.load("transfer")
  for stage in ("pose", "rgb"):
    _stage(x.runs[f"a_scratch_{stage}"])
    scratch = _value(f"train_{stage}.learning_rate")
    for variant in ("b_ntu_native", "c_ntu_mapped"):
      _stage(x.runs[f"{variant}_{stage}"])
      assert _value(f"train_{stage}.learning_rate") == pytest.approx(
          scratch / 10)


def test_a_macro_binding_reaches_only_its_runs():
  bindings = ["TRANSFER_EPOCHS = 3", "TRANSFER_NTU_POSE_EPOCHS = 5",
              "TRANSFER_POSE_FINETUNE_LR = 2e-4"]
  x = runner.load("transfer", gin_bindings=bindings)
  epochs = {}
  for run_name, run in x.runs.items():
    stage = _stage(run, bindings)
    epochs[run_name] = _value(f"{stage}.epochs")
    if run_name in ("b_ntu_native_pose", "c_ntu_mapped_pose"):
      assert _value(f"{stage}.learning_rate") == 2e-4
    elif run.stage == "pose":
      assert _value(f"{stage}.learning_rate") == 1e-3
  assert epochs == {"ntu_pose": 5, "ntu_rgb": 20,
                    **{f"{v}_{s}": 3 for v in VARIANTS
                       for s in ("pose", "rgb")}}
  # A parameter binding still reaches every run of its stage.
  x = runner.load("transfer", gin_bindings=["train_pose.epochs = 2"])
  for run in x.runs.values():
    stage = _stage(run, ["train_pose.epochs = 2"])
    assert _value(f"{stage}.epochs") == (2 if run.stage == "pose" else
                                         20 if run.name == "ntu_rgb" else 40)


def test_the_testbed_is_declared_with_the_experiment():
  runner.load("transfer")
  assert gin.get_bindings("generate_dataset") == {
      "num_subjects": 8, "image_size": (480, 270),
      "uniform_appearance": True}
  sbu = gin.get_bindings("generate_sbu")
  # One set of each fold: fold k tests on the k-th, trains on the others.
  assert [[s in fold for s in sbu["sets"]].index(True)
          for fold in sbu_format.SBU_FOLDS] == [0, 1, 2, 3, 4]
  assert len(sbu["sets"]) == 5 and sbu["sequences"] == 1
  assert gin.get_bindings("generate_msr")["num_subjects"] == 6
  runner.load("transfer_msr_pose")
  assert gin.get_bindings("generate_dataset")["image_size"] == (64, 48)
  assert gin.get_bindings("generate_sbu")["write_frames"] is False
  assert gin.get_bindings("generate_msr")["write_videos"] is False
