"""Where an experiment's parts live (experiments.output_layout)."""

from posedriven.experiments import output_layout
from posedriven.experiments import runner


def test_folds_have_their_own_level_and_shared_runs_keep_theirs(tmp_path):
  table4 = runner.load("table4_sbu",
                       gin_bindings=["experiment.seeds = [0, 1]"])
  layout = output_layout.Layout(tmp_path, table4)
  # The NTU runs, shared by the folds: where a run without folds lives.
  assert layout.run("ntu_pose", 1) == tmp_path / "seed_1/runs/ntu_pose"
  assert layout.run("pose", 1, 3) == tmp_path / "seed_1/fold_3/runs/pose"
  assert layout.evaluation("pose", "rgb", 0, 5) == (
      tmp_path / "seed_0/fold_5/eval/pose+rgb")
  assert layout.data_dir("target", 0, 2) == tmp_path / "tfrecords_target_fold2"
  assert layout.data_dir("ntu", 1) == tmp_path / "tfrecords_ntu"
  assert layout.results() == tmp_path / "table4_sbu_results.json"
  assert output_layout.results_file(table4) == "table4_sbu_results.json"
  # One seed: no seed level, the fold level stays.
  one = output_layout.Layout(tmp_path, runner.load("table4_sbu"))
  assert one.run("rgb", 0, 1) == tmp_path / "fold_1/runs/rgb"
  assert one.fold_dir(0, None) == tmp_path
