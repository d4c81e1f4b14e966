"""The synthetic dataset on disk: names, paths, ground truth, generation."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

import gin
import numpy as np

from posedriven import config
from posedriven import atomic
from posedriven.data import clip as clip_lib
from posedriven.data.formats import ntu
from posedriven.data.formats import ntu_dataset
from posedriven.data import protocols
from posedriven.data import skeletons
from posedriven.data.synthetic import motion
from posedriven.data.synthetic import render
from posedriven.data.synthetic import views

SKELETON_DIR = "nturgb+d_skeletons"
RGB_DIR = "nturgb+d_rgb"
META_FILE = "synthetic_meta.json"
META_FORMAT = "posedriven-synthetic-ntu/1"

# The synthetic set reuses the NTU metadata keys but not NTU's subject list:
# its subjects are numbered 1..N, so "odd trains" splits any N.
PROTOCOLS = (
    protocols.Protocol(
        "synthetic_cs", "subject",
        "synthetic cross-subject: odd subjects train, even test",
        lambda s: protocols.split(int(s) % 2 == 1)),
    # Hyper-parameters are chosen on this one, never on the test subjects:
    # it splits synthetic_cs's training subjects (odd) into train (1, 5, 7,
    # 11, ...) and held-out validation (3, 9, 15, ...: subject % 6 == 3),
    # and leaves the even (test) subjects out.
    protocols.Protocol(
        "synthetic_cs_val", "subject",
        "validation split of synthetic_cs's training subjects: subjects "
        "3, 9, 15, ... validate, the other odd subjects train, even subjects "
        "are left out",
        lambda s: (protocols.OUTSIDE if int(s) % 2 == 0
                   else protocols.split(int(s) % 6 != 3))),
    protocols.Protocol(
        "synthetic_cv", "camera",
        "synthetic cross-view: cameras 2, 3 train, every other test",
        lambda c: protocols.split(int(c) in ntu_dataset.NTU_CV_TRAIN_CAMERAS)),
)

# ----------------------------------------------------------------------------
# Dataset.


def sample_name(setup: int, camera: int, subject: int, replication: int,
                action: int) -> str:
  return str(ntu_dataset.SampleName(setup, camera, subject, replication,
                                     action))


def skeleton_path(root: str | os.PathLike, name: str) -> Path:
  return Path(root) / SKELETON_DIR / f"{name}.skeleton"


def video_path(root: str | os.PathLike, name: str) -> Path:
  return Path(root) / RGB_DIR / f"{name}_rgb.avi"


def _temp_paths(root: Path, name: str) -> list[Path]:
  skel, video = skeleton_path(root, name), video_path(root, name)
  return [atomic.temp_path(skel), atomic.temp_path(video, keep_suffix=True)]


def _clip_meta(performance: motion.Performance, seq: ntu.SkeletonSequence,
               name: str) -> dict[str, Any]:
  label = motion.class_index(performance.motion, performance.class_object)
  hands = []
  for h in range(skeletons.NUM_HANDS):
    obj = performance.hand_objects[h]
    hands.append({
        "object": obj,
        "object_name": (motion.OBJECT_NAMES[obj] if obj != motion.NO_OBJECT
                        else None),
        "frames": list(performance.hand_windows[h]),
        "present": h // 2 < performance.num_people,
    })
  return {
      "name": name,
      "label": label,
      "class_name": motion.SYNTHETIC_CLASS_NAMES[label],
      "motion": performance.motion,
      "motion_name": motion.MOTION_NAMES[performance.motion],
      "object": performance.class_object,
      "object_name": motion.OBJECT_NAMES[performance.class_object],
      "active_hand": performance.active_hand,
      "active_hand_name": skeletons.HAND_NAMES[performance.active_hand],
      "motion_frames": list(performance.hand_windows[performance.active_hand]),
      "num_frames": performance.num_frames,
      "num_people": performance.num_people,
      "hands": hands,
      "draw_order": list(performance.draw_order),
      # Where objects are drawn, rounded as drawn, [T][4][2] (0 if absent).
      "hand_xy_px": np.round(views.hand_pixels(seq)).astype(int).tolist(),
  }


def load_meta(root: str | os.PathLike) -> dict[str, Any]:
  """Reads ``<root>/synthetic_meta.json``."""
  path = Path(root) / META_FILE
  try:
    return json.loads(path.read_text())
  except FileNotFoundError:
    raise FileNotFoundError(
        f"{path} not found: {root} is not a synthetic dataset"
        " (make one with tools/make_synthetic.py)") from None


def load_clip(root: str | os.PathLike, name: str) -> clip_lib.Clip:
  """An NTU clip of the synthetic set, with its image size and ground truth.

  ``Clip.metadata`` holds the NTU keys plus ``synthetic`` (the clip's entry
  in the meta file) and ``crop_size_px``.
  """
  meta = load_meta(root)
  if name not in meta["clips"]:
    raise KeyError(f"{name} is not a clip of the synthetic dataset at {root}")
  clip = ntu.load_clip(skeleton_path(root, name))
  metadata = dict(clip.metadata, synthetic=meta["clips"][name],
                  crop_size_px=meta["crop_size_px"])
  return dataclasses.replace(clip, image_size=tuple(meta["image_size"]),
                             metadata=metadata)


def plan_clips(generation: dict[str, Any]
               ) -> list[tuple[str, int, motion.Performance,
                               ntu.SkeletonSequence]]:
  """Every clip of a dataset: ``(name, camera, performance, skeletons)``.

  Args:
    generation: the settings :func:`generate_dataset` records in the meta
      file (``load_meta(root)["generation"]``), so a dataset's
      performances can be drawn again without its files.
  """
  width, height = generation["image_size"]
  seed, setup = generation["seed"], generation["setup"]
  work = []
  for subject in range(1, generation["num_subjects"] + 1):
    for replication in range(1, generation["replications"] + 1):
      for action in generation["actions"]:
        performance = motion.make_performance(
            seed, setup, subject, replication, action,
            num_frames_range=tuple(generation["num_frames_range"]),
            second_person_probability=generation[
                "second_person_probability"],
            uniform_appearance=generation.get("uniform_appearance", False),
            counter_object_probability=generation.get(
                "counter_object_probability", 1.0),
            paired_objects=generation.get("paired_objects", False),
            object_amplitude=generation.get("object_amplitude", 0.0))
        for camera in generation["cameras"]:
          name = sample_name(setup, camera, subject, replication, action)
          seq = views.skeleton_sequence(name, performance,
                                        views.camera_view(seed, setup, camera),
                                        (width, height))
          work.append((name, camera, performance, seq))
  return work


def _write_meta(root: Path, meta: dict[str, Any]) -> None:
  # One line per clip keeps the file readable and small ([T][4][2] pixels).
  head = {k: v for k, v in meta.items() if k != "clips"}
  clips = ",\n".join(
      f"  {json.dumps(name)}: "
      + json.dumps(c, sort_keys=True, separators=(",", ":"))
      for name, c in sorted(meta["clips"].items()))
  text = json.dumps(head, indent=1, sort_keys=True)
  text = text[:-2] + ',\n "clips": {\n' + clips + "\n }\n}\n"
  atomic.write_text(root / META_FILE, text)


@gin.configurable(denylist=["root"])
def generate_dataset(root: str | os.PathLike, *, num_subjects: int = 6,
                     cameras: Sequence[int] = (1, 2, 3), replications: int = 1,
                     image_size: tuple[int, int] = (480, 270),
                     num_frames_range: tuple[int, int] = (28, 40),
                     seed: int = 0, setup: int = 1,
                     actions: Sequence[int] | None = None,
                     second_person_probability: float = 0.5,
                     uniform_appearance: bool = False,
                     counter_object_probability: float = 1.0,
                     paired_objects: bool = False,
                     object_amplitude: float = 0.0,
                     crop_size_px: int | None = None,
                     log_every: int = 20,
                     overwrite: bool = False) -> list[str]:
  """Writes (or completes) the synthetic dataset under ``root``.

  Clips already on disk are skipped, so an interrupted run can be started
  again with the same arguments; the result is byte-identical to an
  uninterrupted one. A clip is complete once its ``.skeleton`` and video
  exist (the video is written first, both atomically, so a listed skeleton
  always has its video).

  Args:
    root: dataset directory (created).
    num_subjects: subjects ``P001``..; each performs every action.
    cameras: views among 1 (yaw 0), 2 (+45 deg), 3 (-45 deg).
    replications: performances per subject and action (``R001``..).
    image_size: ``(width, height)`` of the videos.
    num_frames_range: inclusive range of clip lengths (frames, >= 8).
    seed: dataset seed; every clip derives its own generator from it.
    setup: the ``Sxxx`` setup number.
    actions: 1-based action ids to write (default all of ``A001..A008``).
    second_person_probability: fraction of clips with a second person.
    uniform_appearance: same clothes and skin for everybody (see
      :func:`motion.make_performance`).
    counter_object_probability: chance that another hand holds the other
      class object (see :func:`motion.make_performance`).
    paired_objects: the two classes of a motion share one performance (see
      :func:`motion.make_performance`).
    object_amplitude: relative amplitude difference of the active hand's
      motion between the two class objects, so that pose carries part of
      the object (see :func:`motion.make_performance`; 0: none).
    crop_size_px: hand glimpse size recorded in the meta file; default
      :func:`render.crop_size_for_width`. Objects are drawn to fill most of it.
    overwrite: replace a dataset in ``root`` made with other arguments.
    log_every: log progress every this many written clips.
    overwrite: Replace a synthetic dataset made in ``root`` with other
      arguments (its skeletons, videos and meta file are removed first).

  Returns:
    The sample names of the dataset, sorted (written now or before).

  Raises:
    ValueError: bad arguments.
    atomic.OutputExistsError: ``root`` holds a synthetic dataset made with
      other arguments (resuming it would mix two datasets) and
      ``overwrite`` is False.
  """
  root = Path(root)
  width, height = (int(v) for v in image_size)
  if width < 32 or height < 32:
    raise ValueError(f"image_size {image_size} is too small (min 32x32)")
  actions = (list(range(1, motion.NUM_CLASSES + 1)) if actions is None
             else list(actions))
  if any(not 1 <= a <= motion.NUM_CLASSES for a in actions):
    raise ValueError(
        f"actions must lie in 1..{motion.NUM_CLASSES}, got {actions}")
  for camera in cameras:
    views.camera_view(seed, setup, camera)  # validates the camera ids.
  if num_subjects < 1 or replications < 1:
    raise ValueError("num_subjects and replications must be >= 1")
  crop = (int(crop_size_px) if crop_size_px
          else render.crop_size_for_width(width))
  obj_size = render.object_size_px(crop)
  generation = {
      "num_subjects": num_subjects, "cameras": list(cameras),
      "replications": replications, "image_size": [width, height],
      "num_frames_range": list(num_frames_range), "seed": seed,
      "setup": setup, "actions": actions,
      "second_person_probability": second_person_probability,
      "crop_size_px": crop,
      **({"uniform_appearance": True} if uniform_appearance else {}),
      # Recorded only when set, so that older datasets still resume.
      **({"counter_object_probability": counter_object_probability}
         if counter_object_probability != 1.0 else {}),
      **({"paired_objects": True} if paired_objects else {}),
      **({"object_amplitude": object_amplitude} if object_amplitude else {}),
  }
  old = root / META_FILE
  if old.exists():
    previous = json.loads(old.read_text()).get("generation")
    if previous != generation:
      diff = sorted(k for k in set(generation) | set(previous or {})
                    if (previous or {}).get(k) != generation.get(k))
      if not overwrite:
        raise atomic.OutputExistsError(
            root, "a synthetic dataset made with other arguments"
            f" ({', '.join(diff)})")
      logging.warning("synthetic: %s: replacing the dataset made with other"
                      " arguments (%s)", root, ", ".join(diff))
      for directory in (SKELETON_DIR, RGB_DIR):
        shutil.rmtree(root / directory, ignore_errors=True)
      old.unlink()
  (root / SKELETON_DIR).mkdir(parents=True, exist_ok=True)
  (root / RGB_DIR).mkdir(parents=True, exist_ok=True)

  # Plan every clip first (cheap: poses only) so the meta file is complete
  # before any video is written.
  work = plan_clips(generation)
  clips = {name: _clip_meta(performance, seq, name)
           for name, _, performance, seq in work}
  meta = {
      "format": META_FORMAT,
      "class_names": list(motion.SYNTHETIC_CLASS_NAMES),
      "motion_names": list(motion.MOTION_NAMES),
      "object_names": list(motion.OBJECT_NAMES),
      "hand_names": list(skeletons.HAND_NAMES),
      "image_size": [width, height],
      "fps": motion.FPS,
      "crop_size_px": crop,
      "object_size_px": obj_size,
      "object_center_bgr": {
          str(k): list(v) for k, v in render.OBJECT_CENTER_BGR.items()},
      "seed": seed,
      "generation": generation,
      "clips": clips,
  }
  _write_meta(root, meta)

  backgrounds: dict[int, np.ndarray] = {}
  written, skipped, started = 0, 0, time.monotonic()
  for name, camera, performance, seq in sorted(work, key=lambda w: w[0]):
    for tmp in _temp_paths(root, name):
      if tmp.exists():
        logging.info("%s: removing stale temporary file %s", name, tmp.name)
        tmp.unlink()
    if skeleton_path(root, name).exists() and video_path(root, name).exists():
      skipped += 1
      continue
    if camera not in backgrounds:
      backgrounds[camera] = render.make_background(seed, setup, camera,
                                                   (width, height))
    frames = render.render_frames(performance, seq, backgrounds[camera],
                                  obj_size, crop)
    count = render.write_video(video_path(root, name), frames, (width, height))
    if count != seq.num_frames:
      raise RuntimeError(f"{name}: wrote {count} frames for {seq.num_frames}"
                         " skeleton frames")
    ntu.write_skeleton(skeleton_path(root, name), seq)
    written += 1
    if written % log_every == 0:
      elapsed = time.monotonic() - started
      logging.info("synthetic: %d/%d clips written (%.1f clips/s)", written,
                   len(work) - skipped, written / max(elapsed, 1e-9))
  elapsed = time.monotonic() - started
  logging.info("synthetic: %s: wrote %d clips, %d already complete, in %.1f s"
               " (%.1f clips/s)", root, written, skipped, elapsed,
               written / max(elapsed, 1e-9))
  config.save_operative_config(root)
  return sorted(clips)
