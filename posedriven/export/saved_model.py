"""SavedModel export of the two-stream model (pose + RGB, fused logits).

``export_model`` loads a finished pose run and RGB run, fuses them at logit
level (paper, section 3.4, as ``training/evaluate.py`` does) and writes::

  <export_dir>/saved_model.pb, variables/   (tf.saved_model.save)
  <export_dir>/export_info.json             (everything prediction needs)

Serving signatures (``N`` sub-sequences of ``T`` = 20 steps, 4 hands):

* ``serving_default`` = ``from_features``: ``pose`` float32 ``[N, T, W, 3]``
  and ``glimpse_features`` float32 ``[N, T, 4, D]`` (the glimpse sensor's
  outputs, as stored by preparation);
* ``from_crops``: ``pose`` and ``crops`` uint8 ``[N, T, 4, S, S, 3]`` hand
  crops as cut by :func:`posedriven.data.glimpse_crops.crop_hands` with
  preparation's settings; the module runs the glimpse sensor (same weights,
  same input size, same resize and Inception preprocessing as preparation:
  :class:`~posedriven.models.glimpse.GlimpseSensor` itself), rounds the
  features to float16 as preparation stores them, and runs the
  ``from_features`` graph.

* ``from_features_bfloat16``, ``from_crops_bfloat16`` (``export_model``'s
  default ``precisions``): the same with the fused model's weights and
  computation in bfloat16 (:mod:`posedriven.export.serving_copy`; inputs and
  outputs stay float32, the sensor float32);
* ``glimpse_features``: ``crops`` uint8 ``[N, L, 4, S, S, 3]`` (any number
  of steps ``L``) -> ``glimpse_features`` ``[N, L, 4, D]``, the sensor part
  of ``from_crops`` alone (prediction runs it once per distinct frame and
  times the stages with it; exports before this version fix ``L = T``).

All but the last return ``probabilities`` (softmax of the fused logits)
``[N, C]``, ``logits`` (fused) ``[N, C]``, ``pose_logits``, ``rgb_logits``
``[N, C]``, ``spatial_attention`` ``[N, T, 4]`` and ``temporal_attention`` ``[N, T]``.
The attention outputs are always present: the ablations without an
attention (Table 6 rows B and C: no spatial attention; B, C, E: no temporal
attention) emit *uniform* weights (1/4 over hands, 1/T over steps), and
``export_info.json`` says which are learned (``"attention"``).

Clip-level prediction averages the logits of the 10 evaluation sub-sequences
(:mod:`posedriven.export.predict`); since the fusion is linear this equals
fusing the two streams' averaged logits as evaluation does.

The directory is written under a temporary name beside ``export_dir`` and
renamed when complete, so ``export_dir`` is either absent or whole.

Trust (README, "Trust model"): ``export_info.json`` records a fingerprint
of the SavedModel files, which :func:`export_dir.load_export` checks before
loading anything (:mod:`.export_dir`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import types
from pathlib import Path
from typing import Any, Sequence

import gin
import keras
import tensorflow as tf

from posedriven import atomic
from posedriven import config
from posedriven.data import prepared_data
from posedriven.data import pose_tensor
from posedriven.data import skeletons
from posedriven.data.formats import registry
from posedriven.export import export_dir as export_dir_lib
from posedriven.export import serving_copy
from posedriven.models import fusion
from posedriven.models import glimpse
from posedriven.models import streams
from posedriven.training import best_model
from posedriven.training import run_dir

# The names this module held before the export directory had its own
# module, importable from here as before.
# pylint: disable=unused-import,g-importing-member,g-bad-import-order
from posedriven.export.export_dir import EXPORT_FORMAT
from posedriven.export.export_dir import EXPORT_INFO
from posedriven.export.export_dir import ExportVerificationError
from posedriven.export.export_dir import fingerprint
from posedriven.export.export_dir import load_export
from posedriven.export.export_dir import read_export_info
from posedriven.export.export_dir import verify_export
# pylint: enable=unused-import,g-importing-member,g-bad-import-order

FROM_FEATURES = "from_features"
FROM_CROPS = "from_crops"
# crops -> the glimpse features from_crops computes (float16-rounded), so
# that prediction can time the sensor and the fused model apart.
GLIMPSE_FEATURES = "glimpse_features"
OUTPUT_KEYS = ("probabilities", "logits", "pose_logits", "rgb_logits",
               "spatial_attention", "temporal_attention")


def _serving_outputs(model: keras.Model, pose, glimpses) -> dict[str, Any]:
  outputs = model({"pose": pose, "glimpses": glimpses}, training=False)
  result = {k: tf.cast(outputs[k], tf.float32) for k in OUTPUT_KEYS[1:]}
  result["probabilities"] = tf.nn.softmax(result["logits"], axis=-1)
  return result


def signature_name(base: str, precision: str = "float32") -> str:
  """``from_features`` / ``from_crops`` of a precision: float32 keeps the
  plain name, others get a suffix (``from_features_bfloat16``)."""
  serving_copy.check_precision(precision)
  return base if precision == "float32" else f"{base}_{precision}"


class TwoStreamModule(tf.Module):
  """The fused model and its glimpse sensor with serving functions.

  Only the variables are tracked, not the Keras objects: the SavedModel then
  holds the serving functions and the weights, without the Keras object graph
  (thousands of nodes) and a default signature traced per nested Keras model,
  which halves the export time of a model with InceptionV3 inside.

  Args:
    model: ``build_two_stream`` model, ``{"pose", "glimpses"}`` -> outputs.
    sensor: Built glimpse sensor for ``from_crops``, or None (then only
      ``from_features``).
    crop_size: Side ``S`` of the crops ``from_crops`` takes.
    precisions: Weight precisions served (:data:`serving_copy.PRECISIONS`);
      each gets its ``from_features`` (and ``from_crops``) signature, named
      by :func:`signature_name`, and its own copy of the model's weights. The
      sensor is shared and stays float32 (its features are rounded to
      float16 as preparation stores them, whatever the model's precision).
  """

  def __init__(self, model: keras.Model, sensor: keras.layers.Layer | None,
               crop_size: int | None = None,
               precisions: Sequence[str] = ("float32",)):
    super().__init__(name="two_stream_module")
    if sensor is not None and crop_size is None:
      raise ValueError("TwoStreamModule with a sensor needs crop_size")
    if "float32" not in precisions:
      raise ValueError(f"precisions {precisions!r} must include float32"
                       " (serving_default)")
    models = {p: serving_copy.serving_model(model, p) for p in precisions}
    self.model_variables = [v.value for v in models["float32"].variables]
    self.reduced_precision_variables = [
        v.value for p in precisions if p != "float32"
        for v in models[p].variables]
    self.sensor_variables = ([] if sensor is None else
                             [v.value for v in sensor.variables])
    pose_spec = tf.TensorSpec((None,) + tuple(model.input["pose"].shape[1:]),
                              tf.float32, name="pose")
    num_steps, num_hands, glimpse_dim = model.input["glimpses"].shape[1:]
    features_spec = tf.TensorSpec((None, num_steps, num_hands, glimpse_dim),
                                  tf.float32, name="glimpse_features")
    crops_spec = tf.TensorSpec(
        (None, num_steps, num_hands, crop_size, crop_size, 3), tf.uint8,
        name="crops")
    # The sensor alone takes any number of steps, so that prediction can
    # sense each distinct frame of a clip once (predict.py).
    sensor_crops_spec = tf.TensorSpec(
        (None, None, num_hands, crop_size, crop_size, 3), tf.uint8,
        name="crops")

    def glimpse_features(crops):
      shape = tf.shape(crops)
      images = tf.reshape(crops, tf.concat([[-1], shape[3:]], 0))
      # The sensor resizes to its input size and applies the Inception
      # preprocessing, exactly as in preparation (GlimpseSensor.call).
      features = sensor(images, training=False)
      # Rounded as preparation stores them (float16), so that a clip gets
      # the logits evaluation gives it.
      features = tf.cast(tf.cast(features, tf.float16), tf.float32)
      return {"glimpse_features": tf.reshape(features, tf.concat(
          [shape[:3], [tf.shape(features)[-1]]], 0))}

    # from_crops calls the sensor's and the model's functions rather than
    # holding copies of their graphs: the SavedModel then stores InceptionV3
    # and each model once, and tf.saved_model.load, which rebuilds every
    # stored graph in Python, has a third of the work (BUILD_NOTES,
    # "Prediction latency").
    functions = {}
    if sensor is not None:
      functions[GLIMPSE_FEATURES] = tf.function(
          glimpse_features, input_signature=[sensor_crops_spec])
    for name, served in models.items():
      from_features = tf.function(_features_to_outputs(served),
                                  input_signature=[pose_spec, features_spec])
      functions[signature_name(FROM_FEATURES, name)] = from_features
      if sensor is not None:
        functions[signature_name(FROM_CROPS, name)] = tf.function(
            _crops_to_outputs(functions[GLIMPSE_FEATURES], from_features),
            input_signature=[pose_spec, crops_spec])
    # Kept off the module's tracked attributes: tracked, each function would
    # be saved a second time beside its signature.
    self._signature_functions = types.MappingProxyType(functions)

  def signatures(self) -> dict[str, Any]:
    functions = {"serving_default": self._signature_functions[FROM_FEATURES],
                 **self._signature_functions}
    return {k: f.get_concrete_function() for k, f in functions.items()}


def _features_to_outputs(served: keras.Model):
  def from_features(pose, glimpse_features):
    return _serving_outputs(served, pose, glimpse_features)
  return from_features


def _crops_to_outputs(sense, from_features):
  def from_crops(pose, crops):
    return from_features(pose, sense(crops)["glimpse_features"])
  return from_crops


def load_two_stream(pose_dir: str | os.PathLike, rgb_dir: str | os.PathLike,
                    pose_weight: float = fusion.PAPER_POSE_WEIGHT
                    ) -> keras.Model:
  """The fused Keras model of two finished runs (what gets exported)."""
  pose_model = best_model.load_best_model(pose_dir)
  rgb_model = best_model.load_best_model(rgb_dir)
  return streams.build_two_stream(pose_model, rgb_model,
                                  pose_weight=pose_weight)


def _check_target(export_dir: str | os.PathLike, overwrite: bool) -> Path:
  export_dir = Path(export_dir)
  if export_dir.exists() and not overwrite:
    raise atomic.OutputExistsError(
        export_dir,
        "an export" if (export_dir / export_dir_lib.EXPORT_INFO).is_file()
        else "other files")
  return export_dir


def write_saved_model(export_dir: str | os.PathLike, model: keras.Model,
                      info: dict[str, Any], *,
                      sensor: keras.layers.Layer | None = None,
                      crop_size: int | None = None,
                      precisions: Sequence[str] = ("float32",),
                      overwrite: bool = False) -> Path:
  """Writes ``model`` (and ``sensor``) as a SavedModel plus ``info``.

  Args:
    export_dir: Final directory; written under a temporary name beside it
      and renamed when complete.
    model: ``build_two_stream`` model with ``{"pose", "glimpses"}`` inputs.
    info: Written as ``export_info.json`` inside the directory, with the
      ``fingerprint`` of the SavedModel files added.
    sensor: Glimpse sensor for the ``from_crops`` signature (None: only
      ``from_features``).
    crop_size: ``S`` of the ``from_crops`` input.
    precisions: Weight precisions served (see :class:`TwoStreamModule`).
    overwrite: Replace an existing ``export_dir``.

  Returns:
    ``export_dir`` as a Path.

  Raises:
    atomic.OutputExistsError: ``export_dir`` exists and ``overwrite`` is
      False.
  """
  export_dir = _check_target(export_dir, overwrite)
  export_dir.parent.mkdir(parents=True, exist_ok=True)
  module = TwoStreamModule(model, sensor, crop_size, precisions)
  signatures = module.signatures()
  tmp = Path(tempfile.mkdtemp(prefix=f".{export_dir.name}.tmp-",
                              dir=export_dir.parent))
  try:
    os.chmod(tmp, 0o755)  # mkdtemp's directory is owner-only
    tf.saved_model.save(module, str(tmp), signatures=signatures)
    info = {**info, "fingerprint": {
        "sha256": export_dir_lib.fingerprint(tmp),
        "covers": list(export_dir_lib.FINGERPRINTED)}}
    (tmp / export_dir_lib.EXPORT_INFO).write_text(
        json.dumps(info, indent=2, sort_keys=True))
    config.save_operative_config(tmp)
    if export_dir.exists():
      old = export_dir.with_name(f".{export_dir.name}.old-{os.getpid()}")
      os.replace(export_dir, old)
      shutil.rmtree(old, ignore_errors=True)
    os.replace(tmp, export_dir)
  finally:
    if tmp.exists():
      shutil.rmtree(tmp, ignore_errors=True)
  logging.info("Exported SavedModel to %s (signatures: %s)", export_dir,
               ", ".join(signatures))
  return export_dir


def _preparation_settings(data_dir: str | os.PathLike) -> dict[str, Any]:
  try:
    settings = prepared_data.load_prepared(data_dir).manifest.get("settings")
  except (FileNotFoundError, ValueError) as e:
    raise FileNotFoundError(
        f"cannot read the preparation settings (crop size, glimpse sensor"
        f" input size) from {data_dir}: {e}; pass data_dir= pointing at the"
        " prepared data the RGB run was trained on") from e
  if not settings:
    raise ValueError(f"{data_dir}/manifest.json has no settings")
  return settings


def _same_weights(a: str | None, b: str | None) -> bool:
  if a is None or b is None or a == "imagenet" or b == "imagenet":
    return a == b
  return Path(a).resolve() == Path(b).resolve()


@gin.configurable(denylist=["export_dir", "pose_dir", "rgb_dir"])
def export_model(export_dir: str | os.PathLike, *,
                 pose_dir: str | os.PathLike,
                 rgb_dir: str | os.PathLike,
                 glimpse_weights: str | os.PathLike | None = "imagenet",
                 glimpse_input_size: int | None = None,
                 pose_weight: float = fusion.PAPER_POSE_WEIGHT,
                 data_dir: str | os.PathLike | None = None,
                 precisions: Sequence[str] = serving_copy.PRECISIONS,
                 overwrite: bool = False) -> Path:
  """Exports the fused pose + RGB model of two finished runs.

  Args:
    export_dir: Output directory (must not exist unless ``overwrite``).
    pose_dir: A finished ``train_pose`` run.
    rgb_dir: A finished ``train_rgb`` run (any ablation).
    glimpse_weights: The glimpse sensor weights preparation used:
      ``"imagenet"``, a weights file, or None (random weights; tests only).
      A value other than the one recorded by preparation is logged.
    glimpse_input_size: Sensor input side; default: preparation's.
    pose_weight: Weight of the pose logits (paper: 0.5).
    data_dir: The prepared data of the RGB run; default: the one recorded in
      its ``stage.json`` (give it when the data moved).
    precisions: Weight precisions served: float32 (``serving_default``)
      and, by default, bfloat16 (``from_features_bfloat16``,
      ``from_crops_bfloat16``: half the bytes to read per call; agreement
      with float32 in BUILD_NOTES.md, "Serving speed").
    overwrite: Replace an existing ``export_dir``.

  Returns:
    ``export_dir`` as a Path.
  """
  _check_target(export_dir, overwrite)  # fail before loading anything
  precisions = tuple(serving_copy.check_precision(p) for p in precisions)
  pose_info = run_dir.read_stage_info(pose_dir)
  rgb_info = run_dir.read_stage_info(rgb_dir)
  if pose_info.get("stage") != "pose" or rgb_info.get("stage") != "rgb":
    raise ValueError(f"{pose_dir} must be a pose run and {rgb_dir} an RGB run"
                     f" (stages {pose_info.get('stage')!r},"
                     f" {rgb_info.get('stage')!r})")
  if pose_info["joint_order"] != rgb_info["joint_order"]:
    raise ValueError(
        f"{pose_dir} uses joint order {pose_info['joint_order']!r} but"
        f" {rgb_dir} {rgb_info['joint_order']!r}: not a matching pair")
  layouts = (pose_info.get("skeleton_layout", "native"),
             rgb_info.get("skeleton_layout", "native"))
  if layouts[0] != layouts[1]:
    raise ValueError(f"{pose_dir} uses skeleton layout {layouts[0]!r} but"
                     f" {rgb_dir} {layouts[1]!r}: not a matching pair")
  if pose_info["num_classes"] != rgb_info["num_classes"]:
    raise ValueError(f"{pose_dir} has {pose_info['num_classes']} classes,"
                     f" {rgb_dir} {rgb_info['num_classes']}")
  settings = _preparation_settings(data_dir or rgb_info["data_dir"])
  if glimpse_input_size is None:
    glimpse_input_size = settings.get("glimpse_input_size")
    if glimpse_input_size is None:
      raise ValueError(f"preparation of {rgb_info['data_dir']} recorded no"
                       " glimpse_input_size; pass glimpse_input_size=")
  elif glimpse_input_size != settings.get("glimpse_input_size"):
    logging.warning("glimpse_input_size=%s but preparation used %s: crops"
                    " will not give the features the RGB stream learnt from",
                    glimpse_input_size, settings.get("glimpse_input_size"))
  weights = None if glimpse_weights is None else os.fspath(glimpse_weights)
  if not _same_weights(weights, settings.get("glimpse_weights")):
    logging.warning(
        "glimpse_weights=%s but preparation recorded %s; from_crops is only"
        " right if they are the same network", weights,
        settings.get("glimpse_weights"))

  model = load_two_stream(pose_dir, rgb_dir, pose_weight)
  sensor = glimpse.GlimpseSensor(weights=weights,
                                 input_size=int(glimpse_input_size))
  crop_size = int(settings["crop_output_size"])
  sensor.build((None, crop_size, crop_size, 3))
  glimpse_dim = int(model.input["glimpses"].shape[-1])
  if sensor.output_dim != glimpse_dim:
    raise ValueError(f"the glimpse sensor gives {sensor.output_dim} features,"
                     f" {rgb_dir} expects {glimpse_dim}")

  num_steps, pose_width = (int(d) for d in model.input["pose"].shape[1:3])
  ablation = rgb_info.get("ablation", "G")
  ablation_kwargs = streams.ABLATIONS.get(ablation, {})
  info = {
      "format": export_dir_lib.EXPORT_FORMAT,
      "dataset": pose_info["dataset"],
      "class_names": list(registry.class_names(pose_info["dataset"])),
      "num_classes": int(pose_info["num_classes"]),
      "skeleton": pose_info["skeleton"],
      "joint_order": pose_info["joint_order"],
      "skeleton_layout": layouts[0],
      "pose_width": pose_width,
      "num_steps": num_steps,
      "num_subsequences": pose_tensor.NUM_EVAL_SUBSEQUENCES,
      "subsequence_mode": "segments",
      "hand_names": list(skeletons.HAND_NAMES),
      "glimpse_dim": glimpse_dim,
      "crop_size_px": float(settings["crop_size_px"]),
      "crop_output_size": crop_size,
      "glimpse_input_size": int(glimpse_input_size),
      "glimpse_weights": weights,
      "prepared_glimpse_weights": settings.get("glimpse_weights"),
      "pose_weight": float(pose_weight),
      "ablation": ablation,
      "conditioning": rgb_info.get("conditioning"),
      "attention": {
          "spatial": ("learned" if ablation_kwargs.get("integration") ==
                      "attention" else "uniform"),
          "temporal": ("learned" if ablation_kwargs.get("temporal") ==
                       "attention" else "uniform"),
      },
      "precisions": list(precisions),
      "signatures": {
          **{signature_name(FROM_FEATURES, p): {
              "pose": [None, num_steps, pose_width, 3],
              "glimpse_features": [None, num_steps, skeletons.NUM_HANDS,
                                   glimpse_dim]} for p in precisions},
          **{signature_name(FROM_CROPS, p): {
              "pose": [None, num_steps, pose_width, 3],
              "crops": [None, num_steps, skeletons.NUM_HANDS, crop_size,
                        crop_size, 3]} for p in precisions},
          GLIMPSE_FEATURES: {"crops": [None, None, skeletons.NUM_HANDS,
                                       crop_size, crop_size, 3]},
      },
      "outputs": list(OUTPUT_KEYS),
      "pose_dir": str(pose_dir),
      "rgb_dir": str(rgb_dir),
  }
  return write_saved_model(export_dir, model, info, sensor=sensor,
                           crop_size=crop_size, precisions=precisions,
                           overwrite=overwrite)

