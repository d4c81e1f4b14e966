"""The exported SavedModel: its info file, signatures and equivalence."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from posedriven import atomic
from posedriven.data import pipeline
from posedriven.data import prepared_data
from posedriven.data.formats import registry
from posedriven.export import export_dir as export_dir_lib
from posedriven.export import saved_model
from posedriven.models import fusion
from posedriven.models import glimpse
from posedriven.models import streams
from posedriven.training import evaluate
from posedriven.training import run_dir
from tests import numerics
from tests.export.conftest import GLIMPSE_INPUT_SIZE
from tests.export.test_serving_copy import BFLOAT16_RELATIVE


# Slow: exports through tools/export.py and reloads in a fresh process.
# Left out of the inner loop, `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

# Reloads the export in a fresh interpreter (nothing registered, no Keras
# objects alive) and runs both signatures on saved inputs.
_FRESH_PROCESS = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    export_dir, inputs_path, outputs_path = sys.argv[1:]
    loaded = tf.saved_model.load(export_dir)
    x = np.load(inputs_path)
    features = loaded.signatures["from_features"](
        pose=tf.constant(x["pose"]),
        glimpse_features=tf.constant(x["glimpses"]))
    crops = loaded.signatures["from_crops"](
        pose=tf.constant(x["pose"]), crops=tf.constant(x["crops"]))
    default = loaded.signatures["serving_default"](
        pose=tf.constant(x["pose"]),
        glimpse_features=tf.constant(x["glimpses"]))
    bf16 = loaded.signatures["from_features_bfloat16"](
        pose=tf.constant(x["pose"]),
        glimpse_features=tf.constant(x["glimpses"]))
    sensed = loaded.signatures["glimpse_features"](
        crops=tf.constant(x["crops"]))
    out = {f"features/{k}": v.numpy() for k, v in features.items()}
    out.update({f"bf16/{k}": v.numpy() for k, v in bf16.items()})
    out["sensed"] = sensed["glimpse_features"].numpy()
    out.update({f"crops/{k}": v.numpy() for k, v in crops.items()})
    out.update({f"default/{k}": v.numpy() for k, v in default.items()})
    np.savez(outputs_path, **out)
""")


def _eval_rows(data_dir):
  """The 10 evaluation sub-sequences of the first test clip."""
  pattern = prepared_data.load_prepared(data_dir).pattern("test")
  inputs, _ = next(iter(pipeline.eval_dataset(pattern, batch_size=1)))
  return {k: v.numpy() for k, v in inputs.items()}


def _np(x):
  return np.asarray(x, np.float32)


def _assert_close(actual, expected, relative: float, what: str) -> None:
  """Agreement within ``relative`` of the values' own scale (not absolute)."""
  scale = float(np.abs(expected).max())
  assert scale > 1e-3, f"{what}: values too small to compare ({scale})"
  np.testing.assert_allclose(actual, expected, rtol=relative,
                             atol=relative * scale, err_msg=what)


def test_export_info_describes_the_model(exported, runs, sensor_weights):
  info = export_dir_lib.read_export_info(exported)
  assert info["class_names"] == list(registry.class_names("synthetic"))
  assert "export_model.pose_weight = 0.5" in (
      exported / "operative_config.gin").read_text()
  assert info["num_classes"] == 8 and info["skeleton"] == "kinect_v2"
  assert info["joint_order"] == "topological" and info["pose_width"] == 300
  assert info["num_steps"] == 20 and info["num_subsequences"] == 10
  assert info["glimpse_dim"] == 2048
  assert info["glimpse_input_size"] == GLIMPSE_INPUT_SIZE
  assert info["glimpse_weights"] == str(sensor_weights)
  assert info["crop_output_size"] == round(info["crop_size_px"])
  assert info["attention"] == {"spatial": "learned", "temporal": "learned"}
  assert info["signatures"]["from_crops"]["crops"][-3:] == [
      info["crop_output_size"], info["crop_output_size"], 3]
  assert info["precisions"] == ["float32", "bfloat16"]
  assert {"from_features_bfloat16", "from_crops_bfloat16",
          "glimpse_features"} <= set(info["signatures"])
  # Written atomically: nothing but the export is left beside it.
  assert [p.name for p in exported.parent.iterdir()] == [exported.name]
  with pytest.raises(atomic.OutputExistsError,
                     match="already holds an export.*--overwrite"):
    saved_model.export_model(exported, pose_dir=runs[0], rgb_dir=runs[1],
                             glimpse_weights=str(sensor_weights))


def test_fresh_process_matches_keras_model(exported, runs, sensor_weights,
                                           tiny_prepared, tmp_path):
  rows = _eval_rows(tiny_prepared)
  info = export_dir_lib.read_export_info(exported)
  s = info["crop_output_size"]
  rng = np.random.default_rng(0)
  # One sub-sequence: the sensor is the slow part of the crops path.
  crops = rng.integers(0, 256, size=(1, 20, 4, s, s, 3), dtype=np.uint8)
  pose = rows["pose"][:1]
  np.savez(tmp_path / "inputs.npz", pose=pose, glimpses=rows["glimpses"][:1],
           crops=crops)
  out = subprocess.run(
      [sys.executable, "-c", _FRESH_PROCESS, str(exported),
       str(tmp_path / "inputs.npz"), str(tmp_path / "outputs.npz")],
      capture_output=True, text=True, timeout=300, cwd=tmp_path)
  assert out.returncode == 0, out.stderr[-3000:]
  served = dict(np.load(tmp_path / "outputs.npz"))

  model = saved_model.load_two_stream(*runs)
  expected = model({"pose": pose, "glimpses": rows["glimpses"][:1]},
                   training=False)
  sensor = glimpse.GlimpseSensor(weights=str(sensor_weights),
                                 input_size=GLIMPSE_INPUT_SIZE)
  features = _np(sensor(crops.reshape(-1, s, s, 3))).reshape(1, 20, 4, -1)
  features = features.astype(np.float16).astype(np.float32)  # as stored
  # The served sensor and this one run InceptionV3 with other kernels
  # (graph vs eager, maybe another oneDNN choice): in float32 they agree to
  # INCEPTION_FLOAT32_RELATIVE of the scale; each result is then rounded to
  # float16, so an element may land one float16 step further apart.
  scale = float(np.abs(features).max())
  assert scale > 1e-3, scale  # calibrated statistics: features of order 1
  numerics.assert_within(
      served["sensed"], features,
      numerics.float16_step(features) +
      numerics.INCEPTION_FLOAT32_RELATIVE * scale,
      "glimpse_features")
  # ... and stored as preparation stores them: every value a float16.
  np.testing.assert_array_equal(
      served["sensed"], served["sensed"].astype(np.float16).astype(np.float32))
  # The crops path is the sensor above, then the model. Checked on the
  # features the served sensor gave, the model part crosses only float32
  # re-ordering, plus one float16 step per feature should from_crops'
  # own sensor pass round an element differently from the glimpse_features
  # signature's (same graph and shapes: normally none).
  sensed = {"pose": pose, "glimpses": served["sensed"]}
  expected_crops = model(sensed, training=False)
  step_bounds = numerics.float16_step_bound(model, sensed, "glimpses")
  for key in expected:
    _assert_close(served[f"features/{key}"], _np(expected[key]),
                  numerics.FLOAT32_RELATIVE, key)
    np.testing.assert_array_equal(served[f"default/{key}"],
                                  served[f"features/{key}"])
    reference = _np(expected_crops[key])
    numerics.assert_within(
        served[f"crops/{key}"], reference,
        numerics.FLOAT32_RELATIVE * float(np.abs(reference).max()) +
        step_bounds[key], f"crops {key}")
    # bfloat16 weights and arithmetic: see test_serving_copy.BFLOAT16_RELATIVE.
    _assert_close(served[f"bf16/{key}"], _np(expected[key]),
                  BFLOAT16_RELATIVE, f"bfloat16 {key}")
  # The crops path saw other inputs than the features path: its outputs
  # differ by more than the tolerances above, which therefore mean something.
  assert not np.allclose(served["crops/rgb_logits"],
                         served["features/rgb_logits"], rtol=1e-3, atol=0)
  probabilities = served["features/probabilities"]
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
  np.testing.assert_allclose(
      np.log(probabilities) - np.log(probabilities[:, :1]),
      served["features/logits"] - served["features/logits"][:, :1],
      atol=1e-4)
  assert served["features/spatial_attention"].shape == (1, 20, 4)
  assert served["features/temporal_attention"].shape == (1, 20)
  # The fusion is the paper's average of the two streams' logits.
  _assert_close(served["features/logits"],
                0.5 * served["features/pose_logits"] +
                0.5 * served["features/rgb_logits"], 1e-5, "fusion")


def test_each_graph_is_stored_once(exported):
  """from_crops calls the sensor's and the model's functions: InceptionV3
  is stored once, which tf.saved_model.load then rebuilds once."""
  proto = saved_model_pb2.SavedModel.FromString(
      (exported / "saved_model.pb").read_bytes())
  library = proto.meta_graphs[0].graph_def.library.function
  convolutions = [sum(node.op == "Conv2D" for node in function.node_def)
                  for function in library]
  # InceptionV3 has 94 convolutions; the pose network a handful.
  assert sum(n >= 94 for n in convolutions) == 1, convolutions
  # One graph per precision's model, plus the sensor's.
  big = [f.signature.name for f, n in zip(library, convolutions) if n]
  assert len(big) == 3, big


def test_sensor_takes_any_number_of_steps(exported, loaded):
  info = export_dir_lib.read_export_info(exported)
  assert info["signatures"]["glimpse_features"]["crops"][:2] == [None, None]
  s = info["crop_output_size"]
  crops = np.random.default_rng(2).integers(0, 256, (1, 20, 4, s, s, 3),
                                            dtype=np.uint8)
  sensor = loaded.signatures["glimpse_features"]
  every = sensor(crops=tf.constant(crops))["glimpse_features"].numpy()
  first = sensor(crops=tf.constant(crops[:, :3]))["glimpse_features"].numpy()
  assert first.shape == (1, 3, 4, info["glimpse_dim"])
  # Another batch size (12 crops, not 80) may pick other kernels: float32
  # re-ordering, then one float16 step in any element (tests/numerics.py).
  scale = float(np.abs(every).max())
  numerics.assert_within(
      first, every[:, :3],
      numerics.float16_step(every[:, :3]) +
      numerics.INCEPTION_FLOAT32_RELATIVE * scale, "first 3 steps")


def test_evaluation_and_export_fuse_alike(runs, sensor_weights, tiny_prepared,
                                          tmp_path):
  """One fusion: evaluate and the exported model agree at pose_weight 0.3."""
  evaluate.evaluate(tmp_path / "eval", tiny_prepared, *runs, pose_weight=0.3,
                    num_attention_images=0)
  evaluated = np.load(tmp_path / "eval" / run_dir.LOGITS_FILE)
  export_dir = saved_model.export_model(
      tmp_path / "export", pose_dir=runs[0], rgb_dir=runs[1],
      glimpse_weights=str(sensor_weights), pose_weight=0.3)
  assert export_dir_lib.read_export_info(export_dir)["pose_weight"] == 0.3
  loaded = tf.saved_model.load(str(export_dir))
  pattern = prepared_data.load_prepared(tiny_prepared).pattern("test")
  served, names = [], []
  for inputs, _ in pipeline.eval_dataset(pattern, batch_size=2,
                                         with_names=True):
    out = loaded.signatures["from_features"](
        pose=inputs["pose"], glimpse_features=inputs["glimpses"])
    served.append(out["logits"].numpy())
    names.extend(inputs["name"].numpy()[::10].astype(str))
  served = pipeline.average_logits_per_clip(np.concatenate(served))
  assert names == list(evaluated["names"]) and len(names) >= 2
  # Same stored features, other batches (evaluation's vs 2 clips): float32
  # re-ordering only (tests/numerics.py), then an average of 10 logits.
  _assert_close(served, evaluated["fused"], numerics.FLOAT32_RELATIVE,
                "fused logits")
  np.testing.assert_allclose(
      evaluated["fused"],
      0.3 * evaluated["pose"] + 0.7 * evaluated["rgb"], rtol=1e-5)
  # The weight matters on these logits, so agreeing at 0.3 means something.
  assert not np.allclose(
      evaluated["fused"],
      fusion.fuse_logits(evaluated["pose"], evaluated["rgb"], 0.5),
      rtol=1e-3, atol=1e-4)


def test_ablation_without_attention_exports_uniform_weights(tmp_path):
  pose_model = streams.build_pose_stream(3, 300, filters=(4, 4), features=8)
  model = streams.build_two_stream(pose_model, streams.build_rgb_stream(
      3, lstm_units=4, glimpse_dim=6, feature_units=4,
      **streams.ABLATIONS["B"]))
  export_dir = saved_model.write_saved_model(tmp_path / "b", model,
                                             {"ablation": "B"})
  loaded = tf.saved_model.load(str(export_dir))
  assert set(loaded.signatures) == {"serving_default", "from_features"}
  rng = np.random.default_rng(1)
  out = loaded.signatures["from_features"](
      pose=tf.constant(rng.normal(size=(2, 20, 300, 3)), tf.float32),
      glimpse_features=tf.constant(rng.normal(size=(2, 20, 4, 6)),
                                   tf.float32))
  np.testing.assert_allclose(out["spatial_attention"].numpy(), 0.25)
  np.testing.assert_allclose(out["temporal_attention"].numpy(), 1 / 20,
                             rtol=1e-6)
