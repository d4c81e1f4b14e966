"""The synthetic performances written as SBU Kinect Interaction and MSR Daily
Activity 3D datasets, for fine-tuning from the synthetic NTU set.

The paper transfers NTU-trained networks to SBU and MSR, which differ from
NTU in skeleton, camera and classes. These sets do the same with the
synthetic data: the bodies and arm motions are drawn by
:func:`motion.make_performance` (so they share structure with the synthetic
NTU set: the same four motions), but

* the skeleton is SBU's 15 OpenNI joints / MSR's 20 Kinect v1 joints, taken
  from the Kinect v2 body by name (``_SBU_FROM_V2``, ``_V1_FROM_V2``);
* the camera is a Kinect v1 (640x480, focal 525 px) at other places
  (:data:`SBU_VIEW`, :data:`MSR_VIEWS`);
* the classes are other ones:

  - SBU (always two people), decided by the pose alone: action folder ``k``
    (01-08) is motion ``(k-1) % 4`` done by person A (``k <= 4``) or
    person B, whichever hand;
  - MSR (one person), as the real MSR Daily Activity's (drink, eat, read
    book, ...), motion x object: action ``aXX`` (01-08) is motion
    ``(X-1) % 4`` done with class object ``(X-1) // 4`` (the synthetic NTU
    set's red disc / striped square, :data:`motion.CLASS_OBJECT_NAMES`;
    :func:`msr_class_parts`), held in whichever hand the performance draws.
    As in the synthetic NTU set (without ``paired_objects``), the two
    classes of a motion are separate performances whose draws never read
    the object, so the skeleton says nothing about the object (swapping
    the objects leaves the skeleton files byte-identical; tested): pose
    alone sees the motion, not the object, so it is capped near 50%, and
    only the RGB glimpse of the active hand tells the object. By default the other hand
    is empty (``counter_object_probability = 0``: real MSR subjects handle
    one object), so the object shows in whichever hand's glimpse holds it;
    at 1 the other hand holds the other object, as in the synthetic NTU
    set, and only attention to the moving hand tells them apart.
    Environment ``e01`` / ``e02`` are two cameras (as MSR's sofa /
    standing recordings differ).

The class names are the real datasets' (the readers' lists); only the first
8 MSR labels are used. Files are written as the real datasets store them and
read back by :mod:`posedriven.data.formats.sbu` / ``msr``:

* SBU: ``<root>/sXXsYY/AA/SSS/skeleton_pos.txt`` (metric camera
  coordinates normalised as the SBU README defines them:
  ``x = (1280 - X_mm) / 2560``, ``y = (960 - Y_mm) / 1920``,
  ``z = Z_mm * 7.8125 / 10000``, :func:`sbu.normalize`) and
  ``rgb_NNNNNN.png`` 640x480 frames, numbered from ``first_frame``, drawn
  with the reader's Kinect v1 colour projection
  (:data:`sbu.KINECT_V1_COLOR`), so that a round trip tests the real
  convention: the hands the reader projects are where the frames show them;
* MSR: ``<root>/aXX_sYY_eZZ_skeleton.txt`` and ``aXX_sYY_eZZ_rgb.avi``.

The NTU-format generator (:mod:`.dataset`) is not touched by any of this.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from pathlib import Path
from typing import Sequence

import cv2
import gin
import numpy as np

from posedriven import atomic
from posedriven import config
from posedriven.data import skeletons
from posedriven.data.formats import msr
from posedriven.data.formats import ntu
from posedriven.data.formats import sbu
from posedriven.data.synthetic import motion
from posedriven.data.synthetic import render
from posedriven.data.synthetic import views

NUM_MOTIONS = len(motion.MOTION_NAMES)
# SBU: person A / B; MSR: the two class objects.
NUM_CLASSES = 2 * NUM_MOTIONS
IMAGE_SIZE = (640, 480)
# Kinect v1 colour camera at 640x480.
_FOCAL_PX = 525.0
CROP_SIZE_PX = 100  # registry.SBU_MSR_CROP_SIZE_PX: what preparation cuts
# Object cards are drawn at render.object_size_px(CROP_SIZE_PX) = 120 px
# whatever the depth, as the synthetic NTU set draws them at its crop size:
# a glimpse centred on the hand sees the card only, as the NTU glimpses the
# RGB stream is pre-trained on do. At the MSR views' 2.4 / 3.0 m (focal
# 525 px) that is a card of 0.55 / 0.69 m: large for an object, but what
# keeps the MSR glimpses like the NTU ones.
# Setups keep these performances apart from the synthetic NTU set's (setup 1).
SBU_SETUP = 11
MSR_SETUP = 12

SBU_VIEW = views.View(yaw_deg=20.0, distance_m=2.7, height_m=0.8)
MSR_VIEWS = {1: views.View(yaw_deg=-25.0, distance_m=2.4, height_m=1.3),
             2: views.View(yaw_deg=10.0, distance_m=3.0, height_m=0.7)}

# SBU / Kinect v1 joints from the Kinect v2 body (same name unless listed).
_SBU_FROM_V2 = {"Neck": "SpineShoulder", "Torso": "SpineMid"}
_V1_FROM_V2 = {"HipCenter": "SpineBase", "Spine": "SpineMid",
               "ShoulderCenter": "SpineShoulder"}


def _joint_indices(skeleton: skeletons.SkeletonDef,
                   renames: dict[str, str]) -> np.ndarray:
  return np.array([motion.JOINT_INDEX[renames.get(n, n)]
                   for n in skeleton.joint_names])


def project(xyz: np.ndarray) -> np.ndarray:
  """Camera space ``[..., 3]`` (metres) -> 640x480 pixels ``[..., 2]``."""
  width, height = IMAGE_SIZE
  z = xyz[..., 2]
  return np.stack([width / 2 + _FOCAL_PX * xyz[..., 0] / z,
                   height / 2 - _FOCAL_PX * xyz[..., 1] / z], -1)


def msr_class_parts(label: int) -> tuple[int, int]:
  """0-based MSR label (``aXX`` is ``X - 1``) -> ``(motion, class object)``.

  Raises:
    ValueError: a label outside the synthetic MSR set's 8 classes.
  """
  if not 0 <= label < NUM_CLASSES:
    raise ValueError(f"label {label} is not a synthetic MSR class"
                     f" (0..{NUM_CLASSES - 1})")
  obj, motion_id = divmod(label, NUM_MOTIONS)
  return motion_id, obj


def _performance(seed: int, setup: int, subject: int, sequence: int,
                 motion_id: int, active_person: int | None,
                 class_object: int | None, two_people: bool,
                 counter_object_probability: float = 1.0
                 ) -> motion.Performance:
  """The ``sequence``-th performance of ``motion_id`` by ``active_person``
  with ``class_object`` (None: any person / any object).

  ``make_performance`` draws the active hand itself; replications are tried
  in order until one matches, so the choice is deterministic. The object is
  the synthetic NTU action's (``motion.class_index``): fixed, it matches at
  once; None alternates it with the replication.
  """
  found, replication = 0, 0
  while True:
    replication += 1
    obj = replication % 2 if class_object is None else class_object
    action = motion.class_index(motion_id, obj) + 1
    perf = motion.make_performance(
        seed, setup, subject, replication, action,
        second_person_probability=1.0 if two_people else 0.0,
        uniform_appearance=True,
        counter_object_probability=counter_object_probability)
    if active_person is None or perf.active_hand // 2 == active_person:
      found += 1
      if found == sequence:
        return perf


def _project_sbu(xyz: np.ndarray) -> np.ndarray:
  """What :func:`sbu.load_clip` computes from the file (default camera)."""
  return sbu.project_to_color(xyz, sbu.KINECT_V1_COLOR)


def _view_sequence(perf: motion.Performance, view: views.View,
                   project_fn=project) -> ntu.SkeletonSequence:
  seq = views.skeleton_sequence("synthetic", perf, view, IMAGE_SIZE)
  color = project_fn(seq.xyz.astype(np.float64)).astype(np.float32)
  return dataclasses.replace(seq, color_xy=color)


def _frames(perf: motion.Performance, seq: ntu.SkeletonSequence, seed: int,
            setup: int, camera: int) -> list[np.ndarray]:
  background = render.make_background(seed, setup, camera, IMAGE_SIZE)
  return list(render.render_frames(perf, seq, background,
                                   render.object_size_px(CROP_SIZE_PX),
                                   CROP_SIZE_PX))


@gin.configurable(denylist=["root"])
def generate_sbu(root: str | os.PathLike, *,
                 sets: Sequence[str] = ("s01s02", "s01s03", "s02s03",
                                        "s02s01", "s04s02"),
                 sequences: int = 1, seed: int = 0, first_frame: int = 1,
                 write_frames: bool = True,
                 overwrite: bool = False) -> list[Path]:
  """Writes a synthetic SBU Kinect Interaction tree under ``root``.

  Sequences already written (their ``skeleton_pos.txt`` exists; it is
  written last) are skipped.

  Args:
    root: Dataset directory (created).
    sets: ``sXXsYY`` set names (:data:`sbu.SBU_SETS`); the default holds
      one set of each fold.
    sequences: Sequences per set and action.
    seed: Dataset seed.
    first_frame: Number of the first frame (real files do not always start
      at 1).
    write_frames: Also write the ``rgb_*.png`` frames (False: skeletons
      only, for pose-only runs).
    overwrite: Delete the ``sXXsYY`` set folders already in ``root`` first,
      so that no sequence of other settings is kept.

  Returns:
    The sequence directories, sorted.
  """
  root = Path(root)
  unknown = [s for s in sets if s not in sbu.SBU_SETS]
  if unknown:
    raise ValueError(f"unknown SBU sets {unknown}; expected some of"
                     f" {list(sbu.SBU_SETS)}")
  if overwrite:
    for old_set in sorted(root.glob("s[0-9][0-9]s[0-9][0-9]")):
      logging.warning("overwrite: deleting %s", old_set)
      shutil.rmtree(old_set)
  root.mkdir(parents=True, exist_ok=True)
  joints = _joint_indices(skeletons.SBU, _SBU_FROM_V2)
  out = []
  for set_name in sets:
    subject = int(set_name[1:3])
    for action in range(1, NUM_CLASSES + 1):
      for k in range(1, sequences + 1):
        seq_dir = root / set_name / f"{action:02d}" / f"{k:03d}"
        out.append(seq_dir)
        if (seq_dir / sbu.SKELETON_FILE).exists():
          continue
        seq_dir.mkdir(parents=True, exist_ok=True)
        # Sequences of one set differ by replication and subject key.
        perf = _performance(seed, SBU_SETUP, 100 * subject + int(set_name[4:]),
                            k, (action - 1) % NUM_MOTIONS,
                            (action - 1) // NUM_MOTIONS, None, True)
        seq = _view_sequence(perf, SBU_VIEW, _project_sbu)
        frame_index = first_frame + np.arange(seq.num_frames)
        if write_frames:
          for number, image in zip(frame_index,
                                   _frames(perf, seq, seed, SBU_SETUP, 1)):
            with atomic.replacing(sbu.frame_path(seq_dir, number),
                                  keep_suffix=True) as tmp:
              if not cv2.imwrite(str(tmp), image):
                raise OSError(f"cannot write {tmp}")
        # The synthetic camera space is NTU's, which SBU's README axes
        # match (sbu module docstring): no mirroring.
        normalized = sbu.normalize(seq.xyz[:, :, joints])
        atomic.write_text(seq_dir / sbu.SKELETON_FILE,
                          sbu.format_rows(frame_index, normalized),
                          encoding="ascii")
  config.save_operative_config(root)
  logging.info("synthetic SBU: %s: %d sequences", root, len(out))
  return sorted(out)


@gin.configurable(denylist=["root"])
def generate_msr(root: str | os.PathLike, *, num_subjects: int = 4,
                 environments: Sequence[int] = (1, 2), seed: int = 0,
                 counter_object_probability: float = 0.0,
                 write_videos: bool = True,
                 overwrite: bool = False) -> list[Path]:
  """Writes a synthetic MSR Daily Activity 3D folder under ``root``.

  Samples whose skeleton file exists (written after the video) are skipped.
  Action ``aXX`` is motion x object (:func:`msr_class_parts`; module
  docstring).

  Args:
    root: Dataset directory (created).
    num_subjects: Subjects ``s01``.. (odd ones train under ``msr_cs``).
    environments: ``e01`` / ``e02``: the two cameras of :data:`MSR_VIEWS`.
    seed: Dataset seed.
    counter_object_probability: Chance that the other hand holds the other
      class object (:func:`motion.make_performance`). 0: the class object
      is the only one in the clip, as in MSR Daily Activity; 1: as in the
      synthetic NTU set, only the moving hand tells which object counts.
    write_videos: Also write the ``_rgb.avi`` videos.
    overwrite: Delete the samples (skeletons and videos) already in
      ``root`` first, so that no sample of other settings is kept.

  Returns:
    The skeleton files, sorted.
  """
  root = Path(root)
  if overwrite:
    for old in sorted(root.glob(f"a[0-9][0-9]_s[0-9][0-9]_e[0-9][0-9]_*")):
      logging.warning("overwrite: deleting %s", old)
      old.unlink()
  if not 1 <= num_subjects <= msr.NUM_SUBJECTS:
    raise ValueError(f"num_subjects must be 1-{msr.NUM_SUBJECTS}")
  if any(e not in MSR_VIEWS for e in environments):
    raise ValueError(f"environments must be among {sorted(MSR_VIEWS)}")
  root.mkdir(parents=True, exist_ok=True)
  joints = _joint_indices(skeletons.KINECT_V1, _V1_FROM_V2)
  out = []
  for subject in range(1, num_subjects + 1):
    for action in range(1, NUM_CLASSES + 1):
      motion_id, class_object = msr_class_parts(action - 1)
      perf = _performance(seed, MSR_SETUP, subject, 1, motion_id, None,
                          class_object, False, counter_object_probability)
      for env in environments:
        name = f"a{action:02d}_s{subject:02d}_e{env:02d}"
        path = root / f"{name}{msr.SKELETON_SUFFIX}"
        out.append(path)
        if path.exists():
          continue
        seq = _view_sequence(perf, MSR_VIEWS[env])
        if write_videos:
          count = render.write_video(
              msr.video_path(path), _frames(perf, seq, seed, MSR_SETUP, env),
              IMAGE_SIZE)
          if count != seq.num_frames:
            raise RuntimeError(f"{name}: wrote {count} of {seq.num_frames}"
                               " frames")
        t = seq.num_frames
        present = np.zeros((t, skeletons.MAX_PEOPLE), bool)
        present[:, 0] = True
        xyz = np.zeros((t, 2, msr.NUM_JOINTS, 3), np.float32)
        xyz[:, :1] = seq.xyz[:, :1][:, :, joints]
        uvd = np.zeros_like(xyz)
        uvd[:, :1, :, :2] = (seq.color_xy[:, :1][:, :, joints] /
                             np.array(IMAGE_SIZE, np.float32))
        uvd[:, :1, :, 2] = xyz[:, :1, :, 2]
        atomic.write_text(path, msr.format_file(present, xyz, uvd),
                          encoding="ascii")
  config.save_operative_config(root)
  logging.info("synthetic MSR: %s: %d samples", root, len(out))
  return sorted(out)
