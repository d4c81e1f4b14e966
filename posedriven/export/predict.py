"""Clip-level prediction with an exported model: skeleton + video -> classes.

``predict_clip`` does for one clip what preparation and evaluation do for a
dataset, with the same functions:

1. the skeleton is read with its dataset's reader (NTU ``.skeleton``, MSR
   ``*_skeleton.txt`` or an SBU sequence directory; :func:`load_skeleton_clip`);
2. the video is decoded frame by frame (:mod:`posedriven.data.video`) and the
   4 hands of every frame are cropped with preparation's crop function and
   settings (:func:`posedriven.data.glimpse_crops.crop_hands`, crop side and
   output size from ``export_info.json``, hand pixels scaled to the video's
   resolution by :func:`~posedriven.data.glimpse_crops.scale_to_frames`);
3. the 10 evaluation sub-sequences are sampled
   (:func:`pose_tensor.evaluation_subsequences`), with their pose tensors and
   hand crops;
4. the ``glimpse_features`` signature runs the glimpse sensor once on each
   distinct (frame, hand) crop the sub-sequences use
   (:func:`distinct_glimpse_features`: 10 sub-sequences of 20 steps repeat
   frames, a 28-frame clip has 112 distinct crops for 800 places), the
   features are gathered per sub-sequence, and ``from_features`` (or its
   reduced-precision twin, ``precision="bfloat16"``) runs the fused model;
   the logits of the sub-sequences are averaged (paper, section 4) and
   softmaxed. Exports without ``glimpse_features`` (older versions) run
   ``from_crops``.

Each stage is timed (``Prediction.stage_seconds``, logged): ``load_model``
(fingerprint check and ``tf.saved_model.load``; absent when the caller
passes the loaded model), ``skeleton`` (reading it and building the pose
tensors), ``decode`` (video frames), ``crops`` (cutting and resizing the
hands), ``inception_v3`` (the glimpse sensor), ``model`` (the fused model),
``attention_png`` (drawing the figure, when asked for) and ``total`` (the
whole call). The first call of a signature in a process includes its
one-time initialisation.

Documented fallbacks:

* **Frame alignment** (as in preparation): skeleton frame ``t`` is video
  frame ``t``. A video that decodes fewer frames than the skeleton has keeps
  the first ``min(T_skeleton, T_video)`` frames of both (logged, naming both
  files); extra video frames are not decoded.
* **Pixel reference.** NTU skeleton files give hand pixels in the 1920x1080
  RGB frame. A skeleton inside a synthetic dataset directory
  (``synthetic_meta.json`` two levels up) refers to that dataset's image size.
  ``skeleton_image_size`` overrides both.

Errors name the file: a missing or unreadable skeleton raises its reader's
format error (a ``file_guards.FormatError``: ``ntu.SkeletonFormatError``,
``sbu.SbuFormatError``, ``msr.MsrFormatError``), a missing or undecodable
video ``video.VideoError``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from posedriven import atomic
from posedriven import visualization
from posedriven.data import clip as clip_lib
from posedriven.data import glimpse_crops
from posedriven.data import pipeline
from posedriven.data import pose_tensor
from posedriven.data.formats import registry
from posedriven.export import export_dir as export_dir_lib
from posedriven.export import saved_model
from posedriven.export import serving_copy



@dataclasses.dataclass
class Prediction:
  """The result of :func:`predict_clip`.

  Attributes:
    clip_name: Sample name of the skeleton file.
    top_k: ``(class name, probability)``, most probable first.
    probabilities: float32 ``[C]``, softmax of the averaged fused logits.
    logits: float32 ``[C]``, fused logits averaged over sub-sequences.
    frame_indices: int64 ``[K, T]`` frames of the sub-sequences.
    spatial_attention: float32 ``[K, T, 4]``.
    temporal_attention: float32 ``[K, T]``.
    num_frames: Frames used (skeleton and video aligned).
    attention_png: The image written, or None.
    attention_error: Why the requested image could not be written (the
      prediction is returned anyway), or None.
    precision: Weight precision of the signature that ran.
    stage_seconds: Wall seconds per stage (module docstring) and
      ``"total"``.
  """

  clip_name: str
  top_k: list[tuple[str, float]]
  probabilities: np.ndarray
  logits: np.ndarray
  frame_indices: np.ndarray
  spatial_attention: np.ndarray
  temporal_attention: np.ndarray
  num_frames: int
  attention_png: Path | None = None
  attention_error: str | None = None
  precision: str = "float32"
  stage_seconds: dict[str, float] = dataclasses.field(default_factory=dict)


def load_skeleton_clip(skeleton_path: str | os.PathLike,
                       skeleton_image_size: Sequence[int] | None = None
                       ) -> clip_lib.Clip:
  """Reads a clip's skeleton with its dataset's reader.

  The dataset is told by the path (``registry.format_of_skeleton``): an SBU
  sequence directory (``sXXsYY/AA/SSS`` holding ``skeleton_pos.txt``), an
  MSR ``aXX_sYY_eZZ_skeleton.txt``, a ``.skeleton`` inside a synthetic
  dataset (its pixels refer to that dataset's image size), else an
  NTU-format ``.skeleton``.

  Args:
    skeleton_path: The file (SBU: the sequence directory).
    skeleton_image_size: ``(width, height)`` the file's colour pixels refer
      to; default: the dataset's (NTU 1920x1080, SBU and MSR 640x480, a
      synthetic dataset's own).

  Raises:
    file_guards.FormatError: missing, unreadable or malformed file (its
      subclass for the format; the message names the file).
    clip.EmptySkeletonError: no usable joint in any frame (no body
      tracked, or every joint NaN): as in preparation, an error, never an
      all-zero pose tensor.
  """
  path = Path(skeleton_path)
  fmt = registry.format_of_skeleton(path)
  clip = fmt.load_clip(path)
  clip_lib.check_usable(clip, path)
  if skeleton_image_size is not None:
    return dataclasses.replace(
        clip, image_size=tuple(int(v) for v in skeleton_image_size))
  if fmt.name == "synthetic":
    logging.info("%s: in a synthetic dataset, pixels refer to %dx%d", path,
                 *clip.image_size)
  return clip


def default_video(skeleton_path: str | os.PathLike, clip: clip_lib.Clip
                  ) -> Path | list[Path]:
  """Where the dataset keeps the clip's RGB frames.

  Raises:
    ValueError: NTU keeps skeletons and videos in separate folders: the
      video must be given.
  """
  path = Path(skeleton_path)
  frames = registry.format_of_skeleton(path).frames_beside(path, clip)
  if frames is None:
    raise ValueError(f"{path}: give the clip's video (NTU keeps videos apart"
                     " from skeletons)")
  return frames


# One crop path for prediction and training's TensorBoard probes.
crop_clip_hands = glimpse_crops.crop_clip_hands


def _stack_images(images: Sequence[np.ndarray]) -> np.ndarray:
  width = max(i.shape[1] for i in images)
  padded = [np.pad(i, ((0, 0), (0, width - i.shape[1]), (0, 0)),
                   constant_values=255) for i in images]
  return np.concatenate(padded, axis=0)


def attention_figure(prediction: Prediction, crops: np.ndarray,
                     subsequence: int = 0) -> np.ndarray:
  """Attention over hands and time above the attended hand crops.

  Args:
    prediction: Output of :func:`predict_clip`.
    crops: uint8 ``[T, 4, S, S, 3]`` crops of the shown sub-sequence.
    subsequence: Which of the ``K`` sub-sequences is shown.

  Returns:
    RGB uint8 image.
  """
  name, prob = prediction.top_k[0]
  title = f"{prediction.clip_name}: {name} ({prob:.2f})"
  heat = visualization.attention_image(
      prediction.spatial_attention[subsequence],
      prediction.temporal_attention[subsequence], title)
  grid = visualization.attention_on_crops(
      crops, prediction.spatial_attention[subsequence])
  return _stack_images([heat, grid])


@dataclasses.dataclass
class ClipInputs:
  """The model inputs of one clip's evaluation sub-sequences.

  Attributes:
    clip: The skeleton clip, cut to the frames its video has.
    frame_indices: int64 ``[K, T]``.
    pose: float32 ``[K, T, W, 3]`` pose tensors.
    frame_crops: uint8 ``[F, 4, S, S, 3]`` hand crops of every frame.
  """

  clip: clip_lib.Clip
  frame_indices: np.ndarray
  pose: np.ndarray
  frame_crops: np.ndarray

  @property
  def crops(self) -> np.ndarray:
    """uint8 ``[K, T, 4, S, S, 3]``: the crops of each sub-sequence."""
    return self.frame_crops[self.frame_indices]


def _fixed_steps(sensor) -> int | None:
  """``T`` when the sensor signature's crops are ``[N, T, ...]`` with a
  fixed ``T`` (exports before ``[N, None, ...]``), else None."""
  spec = sensor.structured_input_signature[1]["crops"]
  return spec.shape[1]


def distinct_glimpse_features(sensor, frame_crops: np.ndarray,
                              frame_indices: np.ndarray, *,
                              frames_per_call: int,
                              steps_per_row: int | None = None,
                              stage_seconds: dict[str, float] | None = None
                              ) -> np.ndarray:
  """Glimpse features of the sub-sequences, the sensor run once per crop.

  The sub-sequences repeat frames (10 x 20 steps from a clip of a few dozen
  frames), and the sensor's features depend on the crop alone, so each
  distinct (frame, hand) crop is sensed once and its features gathered into
  every place that uses it.

  Args:
    sensor: ``crops`` uint8 ``[N, L, 4, S, S, 3]`` ->
      ``{"glimpse_features": float32 [N, L, 4, D]}`` (the export's
      ``glimpse_features`` signature).
    frame_crops: uint8 ``[F, 4, S, S, 3]`` the crops of every frame.
    frame_indices: int ``[K, T]`` frames of the sub-sequences.
    frames_per_call: At most this many frames per sensor call (memory:
      ``4 * frames_per_call`` crops at the sensor's input size).
    steps_per_row: ``L`` when the signature fixes it (older exports): the
      frames of a call are laid out in rows of ``L``, the last row padded
      with blank crops whose features are dropped; None: one row per call.
    stage_seconds: If given, the sensor's seconds are added to its
      ``"inception_v3"``.

  Returns:
    float32 ``[K, T, 4, D]``.
  """
  seconds = {} if stage_seconds is None else stage_seconds
  frames, positions = np.unique(frame_indices, return_inverse=True)
  crops = frame_crops[frames]
  step = max(1, int(frames_per_call))
  if steps_per_row:
    step = max(1, step // steps_per_row) * steps_per_row
  features = []
  for start in range(0, len(crops), step):
    chunk = crops[start:start + step]
    rows = chunk
    if steps_per_row:
      blank = -len(chunk) % steps_per_row
      rows = np.concatenate([chunk, np.zeros((blank,) + chunk.shape[1:],
                                             chunk.dtype)])
    rows = rows.reshape((-1, steps_per_row or len(rows)) + rows.shape[1:])
    sensed = _timed_call(seconds, "inception_v3", sensor,
                         crops=tf.constant(rows))["glimpse_features"]
    features.append(sensed.reshape((-1,) + sensed.shape[2:])[:len(chunk)])
  features = np.concatenate(features)
  return features[positions.reshape(frame_indices.shape)]


def clip_inputs(info: dict[str, Any], skeleton_path: str | os.PathLike,
                video_path: str | os.PathLike | None = None,
                skeleton_image_size: Sequence[int] | None = None,
                stage_seconds: dict[str, float] | None = None
                ) -> ClipInputs:
  """Pose tensors and hand crops of the ``K`` evaluation sub-sequences.

  Args:
    info: ``export_info.json`` of the model (joint order, steps, crop size).
    skeleton_path, video_path, skeleton_image_size: as in
      :func:`predict_clip`.
    stage_seconds: If given, the seconds of ``"skeleton"``, ``"decode"`` and
      ``"crops"`` are added to it.
  """
  seconds = {} if stage_seconds is None else stage_seconds
  start = time.perf_counter()
  clip = load_skeleton_clip(skeleton_path, skeleton_image_size)
  if clip.skeleton != info["skeleton"]:
    raise ValueError(f"{skeleton_path}: skeleton {clip.skeleton!r}, the model"
                     f" expects {info['skeleton']!r}")
  if video_path is None:
    video_path = default_video(skeleton_path, clip)
  _add(seconds, "skeleton", time.perf_counter() - start)
  crops = crop_clip_hands(clip, video_path,
                          crop_size_px=info["crop_size_px"],
                          crop_output_size=info["crop_output_size"],
                          stage_seconds=seconds)
  start = time.perf_counter()
  clip = clip_lib.first_frames(clip, len(crops))
  indices = pose_tensor.evaluation_subsequences(
      clip.num_frames, info["num_steps"], info["num_subsequences"],
      mode=info["subsequence_mode"])
  layout = info.get("skeleton_layout", "native")
  pose = np.stack([pose_tensor.clip_pose_tensor(clip, i, info["joint_order"],
                                                layout) for i in indices])
  _add(seconds, "skeleton", time.perf_counter() - start)
  return ClipInputs(clip, indices, pose, crops)


def _add(seconds: dict[str, float], stage: str, value: float) -> None:
  seconds[stage] = seconds.get(stage, 0.0) + value


def predict_clip(model_dir: str | os.PathLike,
                 skeleton_path: str | os.PathLike,
                 video_path: str | os.PathLike | None = None, *,
                 top_k: int = 5,
                 attention_png: str | os.PathLike | None = None,
                 skeleton_image_size: Sequence[int] | None = None,
                 batch_size: int = 10,
                 sensor_frames_per_call: int = 40,
                 precision: str = "float32",
                 overwrite: bool = False,
                 loaded: Any = None) -> Prediction:
  """Classifies one clip with an exported model.

  Args:
    model_dir: Output of :func:`saved_model.export_model`.
    skeleton_path: NTU-format ``.skeleton`` file, MSR
      ``aXX_sYY_eZZ_skeleton.txt`` or SBU sequence directory (see
      :func:`load_skeleton_clip`).
    video_path: The clip's RGB video; default: where SBU and MSR keep it
      (:func:`default_video`; required for NTU).
    top_k: Classes returned.
    attention_png: Where to write the attention figure (None: not drawn).
      Checked before anything is computed (``atomic.check_output_file``);
      if writing still fails, the prediction is returned with
      ``attention_error`` set and no temporary file is left.
    skeleton_image_size: ``(width, height)`` the skeleton's pixels refer to
      (see :func:`load_skeleton_clip`).
    batch_size: Sub-sequences per call of the model (10: the evaluation
      sub-sequences of a clip in one call; at paper size its inputs are
      13 MB of glimpse features).
    sensor_frames_per_call: Distinct frames per call of the glimpse sensor
      (memory: ``4`` crops each at its input size and InceptionV3's
      activations).
    precision: Weight precision of the fused model: ``"float32"`` or
      ``"bfloat16"`` (the export's ``from_features_bfloat16``; agreement and
      speed in ``BUILD_NOTES.md``, "Serving speed"). The glimpse sensor runs
      in float32 either way.
    overwrite: Replace an existing ``attention_png``.
    loaded: The loaded SavedModel of ``model_dir`` when already loaded (to
      predict many clips without reloading; the caller verified it, e.g.
      with ``export_dir.load_export``).

  Returns:
    A :class:`Prediction`.

  Raises:
    export_dir.ExportVerificationError: ``model_dir`` is not an intact
      export (README, "Trust model"); nothing of it is loaded.
    atomic.OutputExistsError: ``attention_png`` exists (without
      ``overwrite``); other bad output paths raise their OSError. Both
      before any work.
    ValueError: the export has no signature of ``precision``.
  """
  started = time.perf_counter()
  if attention_png is not None:
    atomic.check_output_file(attention_png, overwrite)
  info = export_dir_lib.read_export_info(model_dir)
  serving_copy.check_precision(precision)
  if precision not in info.get("precisions", ["float32"]):
    raise ValueError(
        f"{model_dir} serves no {precision} signature (precisions"
        f" {info.get('precisions', ['float32'])}); re-export it with"
        " tools/export.py")
  seconds: dict[str, float] = {}
  if loaded is None:
    start = time.perf_counter()
    export_dir_lib.verify_export(model_dir, info)
    seconds["load_model"] = time.perf_counter() - start
  inputs = clip_inputs(info, skeleton_path, video_path, skeleton_image_size,
                       stage_seconds=seconds)
  if loaded is None:
    start = time.perf_counter()
    loaded = tf.saved_model.load(os.fspath(model_dir))
    seconds["load_model"] += time.perf_counter() - start
  sensor = loaded.signatures.get(saved_model.GLIMPSE_FEATURES)
  if sensor is None:  # an earlier version's export: "model" has the sensor
    model = loaded.signatures[saved_model.FROM_CROPS]
  else:
    model = loaded.signatures[saved_model.signature_name(
        saved_model.FROM_FEATURES, precision)]
  step = max(1, int(batch_size))
  if sensor is not None:
    features = distinct_glimpse_features(
        sensor, inputs.frame_crops, inputs.frame_indices,
        frames_per_call=sensor_frames_per_call,
        steps_per_row=_fixed_steps(sensor), stage_seconds=seconds)
  outputs: dict[str, list[np.ndarray]] = {}
  for start in range(0, len(inputs.pose), step):
    pose = tf.constant(inputs.pose[start:start + step])
    if sensor is None:
      crops = tf.constant(inputs.crops[start:start + step])
      result = _timed_call(seconds, "model", model, pose=pose, crops=crops)
    else:
      result = _timed_call(
          seconds, "model", model, pose=pose,
          glimpse_features=tf.constant(features[start:start + step]))
    for key in ("logits", "spatial_attention", "temporal_attention"):
      outputs.setdefault(key, []).append(result[key])
  # Paper, section 4: the sub-sequences' logits are averaged per clip.
  logits = pipeline.average_logits_per_clip(
      np.concatenate(outputs["logits"]), len(inputs.pose))[0]
  probabilities = tf.nn.softmax(logits).numpy()
  order = np.argsort(-probabilities)[:top_k]
  prediction = Prediction(
      clip_name=inputs.clip.name,
      top_k=[(info["class_names"][i], float(probabilities[i])) for i in order],
      probabilities=probabilities, logits=logits,
      frame_indices=inputs.frame_indices,
      spatial_attention=np.concatenate(outputs["spatial_attention"]),
      temporal_attention=np.concatenate(outputs["temporal_attention"]),
      num_frames=inputs.clip.num_frames, precision=precision,
      stage_seconds=seconds)
  if attention_png is not None:
    start = time.perf_counter()
    path = Path(attention_png)
    try:
      path.parent.mkdir(parents=True, exist_ok=True)
      visualization.write_png(path,
                              attention_figure(prediction, inputs.crops[0]))
      prediction.attention_png = path
    except OSError as e:
      # The prediction is already computed: return it and say what failed.
      prediction.attention_error = f"{path}: {e}"
      logging.error("could not write the attention figure %s", e)
    seconds["attention_png"] = time.perf_counter() - start
  seconds["total"] = time.perf_counter() - started
  logging.info("%s: %s", prediction.clip_name, format_stages(prediction))
  return prediction


def _timed_call(seconds: dict[str, float], stage: str, function, **kwargs
                ) -> dict[str, np.ndarray]:
  start = time.perf_counter()
  # .numpy(): the outputs are computed by the time the clock stops.
  result = {k: v.numpy() for k, v in function(**kwargs).items()}
  _add(seconds, stage, time.perf_counter() - start)
  return result


def format_stages(prediction: Prediction) -> str:
  """``decode 0.123 s, crops ..., total ...``: the stage times in one line."""
  return ", ".join(f"{stage} {value:.3f} s" for stage, value
                   in prediction.stage_seconds.items())


def prediction_json(prediction: Prediction) -> dict[str, Any]:
  """What ``tools/predict.py --output_json`` writes: a JSON-able summary."""
  return {
      "clip_name": prediction.clip_name,
      "num_frames": prediction.num_frames,
      "precision": prediction.precision,
      "top_k": [[name, prob] for name, prob in prediction.top_k],
      "stage_seconds": dict(prediction.stage_seconds),
      "attention_png": (None if prediction.attention_png is None
                        else str(prediction.attention_png)),
      "attention_error": prediction.attention_error,
  }


def format_top_k(prediction: Prediction) -> str:
  """One line per class: rank, probability, name."""
  return "\n".join(f"{rank}. {prob:.4f}  {name}" for rank, (name, prob)
                   in enumerate(prediction.top_k, 1))
