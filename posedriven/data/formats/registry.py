"""The one list of dataset formats.

Preparation (which clips a dataset directory holds and how to read them),
prepared data (class names), prediction (which reader a skeleton path
needs, where its video is), the protocols and the gin binding
``prepare_dataset.dataset = '<name>'`` read this registry and nothing else.
Adding a dataset is one module in ``posedriven/data/formats/`` (reader,
class names, protocols) plus one :class:`DatasetFormat` entry in
:data:`FORMATS` (README, "Adding a dataset").

Entries call their module's functions through the module at call time, so
that fault-injection tests can patch a reader.
"""

from __future__ import annotations

import dataclasses
import os
import types
from pathlib import Path
from typing import Any, Callable, Mapping

from posedriven.data import clip as clip_lib
from posedriven.data import protocols as protocols_lib
from posedriven.data.formats import msr
from posedriven.data.formats import msr3d
from posedriven.data.formats import ntu
from posedriven.data.formats import ntu_classes
from posedriven.data.formats import ntu_dataset
from posedriven.data.formats import sbu
from posedriven.data.synthetic import dataset as synthetic_dataset
from posedriven.data.synthetic import motion as synthetic_motion
from posedriven.data.synthetic import sbu_msr as synthetic_sbu_msr

# Crop side in source pixels (paper, section 4).
NTU_CROP_SIZE_PX = 50.0
SBU_MSR_CROP_SIZE_PX = 100.0

# A video path, SBU's list of per-frame images, or None (not known).
FrameSource = Path | list[Path] | None


@dataclasses.dataclass(frozen=True)
class ClipSource:
  """Where one clip's files are, known before anything is parsed.

  Attributes:
    name: Clip name (sort key, manifest key).
    skeleton_path: Skeleton file, or SBU sequence directory.
    video_path: Video file; None for image-sequence datasets (SBU).
    metadata: Protocol keys parsed from the name / path.
    skip_reason: Set for clips excluded up front (official missing lists).
  """

  name: str
  skeleton_path: Path
  video_path: Path | None
  metadata: dict[str, Any]
  skip_reason: str | None = None


@dataclasses.dataclass(frozen=True)
class DatasetFormat:
  """One dataset: its files, reader, classes and protocols.

  Attributes:
    name: Its ``prepare_dataset.dataset`` value (``"ntu60"``).
    description: One line for ``--help`` texts.
    class_names: One name per label.
    protocols: Its train / test rules.
    list_sources: Dataset root -> every clip's :class:`ClipSource`.
    load_clip: Skeleton path (SBU: sequence directory) -> ``Clip``.
    crop_size_px: Dataset root -> hand crop side in source pixels.
    is_skeleton: Whether a path is one of this format's skeletons
      (prediction picks the reader by it).
    frames_beside: ``(skeleton path, clip)`` -> the clip's frames where the
      dataset keeps them next to the skeleton; None where they live apart.
  """

  name: str
  description: str
  class_names: tuple[str, ...]
  protocols: tuple[protocols_lib.Protocol, ...]
  list_sources: Callable[[Path], list[ClipSource]]
  load_clip: Callable[[Path], clip_lib.Clip]
  crop_size_px: Callable[[Path], float]
  is_skeleton: Callable[[Path], bool]
  frames_beside: Callable[[Path, clip_lib.Clip], FrameSource]

  def frame_source(self, source: ClipSource, clip: clip_lib.Clip
                   ) -> FrameSource:
    """The listed video, else the frames kept beside the skeleton."""
    if source.video_path is not None:
      return source.video_path
    return self.frames_beside(source.skeleton_path, clip)


def _ntu_sources(root: Path, num_actions: int) -> list[ClipSource]:
  rgb_dir = root / "nturgb+d_rgb"
  files = ntu_dataset.list_skeleton_files(
      root / "nturgb+d_skeletons", num_actions, skip_missing=False)
  missing = ntu_dataset.missing_skeleton_samples(num_actions)
  sources = []
  for path in files:
    name = path.name.split(".")[0]
    sources.append(ClipSource(
        name=name, skeleton_path=path, video_path=rgb_dir / f"{name}_rgb.avi",
        metadata=dataclasses.asdict(ntu_dataset.parse_sample_name(name)),
        skip_reason=("on the official list of samples with missing skeletons"
                     if name in missing else None)))
  return sources


def _synthetic_root(skeleton_path: Path) -> Path:
  return skeleton_path.parent.parent


def _synthetic_sources(root: Path) -> list[ClipSource]:
  # The NTU listing: a file that is not a sample name is logged and left out
  # instead of stopping the run. Synthetic actions stay below 120.
  files = ntu_dataset.list_skeleton_files(
      root / synthetic_dataset.SKELETON_DIR, 120, skip_missing=False)
  sources = []
  for path in files:
    name = path.name.split(".")[0]
    sources.append(ClipSource(
        name=name, skeleton_path=path,
        video_path=synthetic_dataset.video_path(root, name),
        metadata=dataclasses.asdict(ntu_dataset.parse_sample_name(name))))
  return sources


def _synthetic_clip(skeleton_path: Path) -> clip_lib.Clip:
  # Hand pixels of the synthetic set refer to its own image size (meta file).
  return synthetic_dataset.load_clip(_synthetic_root(skeleton_path),
                                     skeleton_path.name.split(".")[0])


def _is_synthetic_skeleton(path: Path) -> bool:
  return (path.suffix == ".skeleton" and
          (_synthetic_root(path) / synthetic_dataset.META_FILE).is_file())


def _sbu_sources(root: Path) -> list[ClipSource]:
  sources = []
  for seq_dir in sbu.list_sequences(root):
    seq_id = sbu.parse_sequence_dir(seq_dir)
    sources.append(ClipSource(
        name=seq_id.name, skeleton_path=seq_dir, video_path=None,
        metadata={"set_name": seq_id.set_name, "action": seq_id.action,
                  "sequence": seq_id.sequence}))
  return sources


def _msr_sources(root: Path) -> list[ClipSource]:
  sources = []
  for path in msr.list_skeleton_files(root):
    sample = msr.parse_sample_name(path)
    sources.append(ClipSource(
        name=str(sample), skeleton_path=path, video_path=msr.video_path(path),
        metadata=dataclasses.asdict(sample)))
  return sources


def _msr3d_sources(root: Path) -> list[ClipSource]:
  return [ClipSource(name=str(sample), skeleton_path=path, video_path=None,
                     metadata=dataclasses.asdict(sample))
          for path in msr3d.list_skeleton_files(root)
          for sample in (msr3d.parse_sample_name(path),)]


def _ntu_format(name: str, description: str, class_names, protocols
                ) -> DatasetFormat:
  return DatasetFormat(
      name=name, description=description, class_names=tuple(class_names),
      protocols=protocols,
      list_sources=lambda root: _ntu_sources(root, len(class_names)),
      load_clip=lambda path: ntu.load_clip(path),
      crop_size_px=lambda root: NTU_CROP_SIZE_PX,
      is_skeleton=lambda path: path.suffix == ".skeleton",
      # NTU keeps videos in another folder: prediction needs --video.
      frames_beside=lambda path, clip: None)


# Prediction asks in this order: the first format whose ``is_skeleton``
# holds reads the file (a synthetic .skeleton before NTU's).
FORMATS: Mapping[str, DatasetFormat] = types.MappingProxyType({
    "synthetic": DatasetFormat(
        name="synthetic",
        description="built-in synthetic set in the NTU layout",
        class_names=tuple(synthetic_motion.SYNTHETIC_CLASS_NAMES),
        protocols=synthetic_dataset.PROTOCOLS,
        list_sources=_synthetic_sources,
        load_clip=lambda path: _synthetic_clip(path),
        crop_size_px=lambda root: float(
            synthetic_dataset.load_meta(root)["crop_size_px"]),
        is_skeleton=_is_synthetic_skeleton,
        frames_beside=lambda path, clip: synthetic_dataset.video_path(
            _synthetic_root(path), clip.name)),
    "sbu": DatasetFormat(
        name="sbu", description="SBU Kinect Interaction",
        class_names=tuple(sbu.SBU_CLASS_NAMES), protocols=sbu.PROTOCOLS,
        list_sources=_sbu_sources,
        load_clip=lambda path: sbu.load_clip(path),
        crop_size_px=lambda root: SBU_MSR_CROP_SIZE_PX,
        is_skeleton=lambda path: path.is_dir(),
        frames_beside=lambda path, clip: sbu.clip_frame_paths(path, clip)),
    "msr": DatasetFormat(
        name="msr", description="MSR Daily Activity 3D",
        class_names=tuple(msr.MSR_CLASS_NAMES), protocols=msr.PROTOCOLS,
        list_sources=_msr_sources,
        load_clip=lambda path: msr.load_clip(path),
        crop_size_px=lambda root: SBU_MSR_CROP_SIZE_PX,
        is_skeleton=lambda path: path.name.endswith(msr.SKELETON_SUFFIX),
        frames_beside=lambda path, clip: msr.video_path(path)),
    "msr3d": DatasetFormat(
        name="msr3d", description="MSR Action3D (skeletons only, no RGB)",
        class_names=tuple(msr3d.MSR3D_CLASS_NAMES),
        protocols=msr3d.PROTOCOLS,
        list_sources=_msr3d_sources,
        load_clip=lambda path: msr3d.load_clip(path),
        # No RGB: hand pixels are in the 320x240 depth image (crops are
        # only cut if someone prepares glimpses from depth frames).
        crop_size_px=lambda root: SBU_MSR_CROP_SIZE_PX / 2,
        is_skeleton=msr3d.is_skeleton,
        frames_beside=lambda path, clip: None),
    "ntu60": _ntu_format("ntu60", "NTU RGB+D (60 classes)",
                         ntu_classes.NTU60_CLASS_NAMES,
                         ntu_dataset.NTU60_PROTOCOLS),
    "ntu120": _ntu_format("ntu120", "NTU RGB+D 120",
                          ntu_classes.NTU120_CLASS_NAMES,
                          ntu_dataset.NTU120_PROTOCOLS),
})

# The ``prepare_dataset.dataset`` values.
DATASETS: tuple[str, ...] = tuple(sorted(FORMATS))

PROTOCOLS: Mapping[str, protocols_lib.Protocol] = types.MappingProxyType(
    {p.name: p for f in FORMATS.values() for p in f.protocols})


def get_format(dataset: str) -> DatasetFormat:
  """The format named ``dataset``; unknown names list the valid ones."""
  try:
    return FORMATS[dataset]
  except KeyError:
    raise ValueError(f"unknown dataset {dataset!r}; expected one of"
                     f" {list(DATASETS)}") from None


def class_names(dataset: str) -> tuple[str, ...]:
  return get_format(dataset).class_names


def get_protocol(protocol: str, dataset: str | None = None
                 ) -> protocols_lib.Protocol:
  """The protocol named ``protocol`` (of ``dataset``, when given).

  Raises:
    ValueError: unknown name, or not a protocol of ``dataset``; the message
      lists the valid ones.
  """
  valid = (PROTOCOLS if dataset is None else
           {p.name: p for p in get_format(dataset).protocols})
  try:
    return valid[protocol]
  except KeyError:
    of = "" if dataset is None else f" of dataset {dataset!r}"
    raise ValueError(f"unknown protocol {protocol!r}{of}; expected one of"
                     f" {list(valid)}") from None


def split_of(protocol: str, metadata: Mapping[str, Any]) -> str:
  """``"train"`` or ``"test"`` for a clip's metadata under ``protocol``.

  Raises:
    ValueError: unknown protocol, missing metadata key, or a value outside
      the dataset's range (e.g. NTU camera 4, an unknown SBU set).
  """
  return get_protocol(protocol).split(metadata)


def list_clips(dataset_root: str | os.PathLike, dataset: str
               ) -> list[ClipSource]:
  """All clips of a dataset directory, sorted by name, without parsing them."""
  sources = get_format(dataset).list_sources(Path(dataset_root))
  return sorted(sources, key=lambda s: s.name)


def format_of_skeleton(skeleton_path: str | os.PathLike) -> DatasetFormat:
  """The format whose reader a skeleton path needs (NTU when none claims it).

  As the datasets store them: an SBU sequence directory (``sXXsYY/AA/SSS``),
  an MSR ``aXX_sYY_eZZ_skeleton.txt``, a ``.skeleton`` inside a synthetic
  dataset, else an NTU-format ``.skeleton``.
  """
  path = Path(skeleton_path)
  for fmt in FORMATS.values():
    if fmt.is_skeleton(path):
      return fmt
  return FORMATS["ntu60"]


def datasets_help() -> str:
  """``name (description)`` of every format, for flag help texts."""
  return ", ".join(f"{f.name} ({f.description})" for f in FORMATS.values())


# The built-in synthetic data in each layout it can be written in (the NTU
# one is the demo's; SBU's and MSR's are for fine-tuning from NTU runs).
SYNTHETIC_WRITERS: Mapping[str, Callable[..., Any]] = types.MappingProxyType({
    "ntu": synthetic_dataset.generate_dataset,
    "sbu": synthetic_sbu_msr.generate_sbu,
    "msr": synthetic_sbu_msr.generate_msr,
})
