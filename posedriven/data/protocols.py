"""Evaluation protocols: clip metadata -> ``"train"`` or ``"test"``.

Each protocol reads one metadata key that the dataset's reader puts into
``Clip.metadata``:

=================  ============  ===============================================
protocol           key           train split
=================  ============  ===============================================
ntu60_cs           subject       the 20 official training subjects (Shahroudy
                                 et al. 2016)
ntu60_cv           camera        cameras 2 and 3 (camera 1 is the test view)
ntu120_csub        subject       the 53 official training subjects (Liu et al.
                                 2019)
ntu120_cset        setup         even setup ids
sbu_fold1..5       set_name      sets outside fold k (Yun et al. 2012)
msr_cs             subject       odd subjects (Wang et al. 2012)
synthetic_cs       subject       odd subjects (synthetic data, NTU-style keys)
synthetic_cv       camera        cameras 2 and 3 (synthetic data, NTU keys)
=================  ============  ===============================================

The paper (section 4) holds out 5% of the training set for validation:
:func:`validation_split` picks it by a stable hash of the clip name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import types
from typing import Any, Callable, Mapping, Sequence

from posedriven.data import msr
from posedriven.data import sbu

NTU60_CS_TRAIN_SUBJECTS = frozenset(
    (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38))
NTU_CV_TRAIN_CAMERAS = frozenset((2, 3))
NTU_CAMERAS = frozenset((1, 2, 3))
NTU120_CSUB_TRAIN_SUBJECTS = frozenset((
    1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38,
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82,
    83, 84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103))

TRAIN = "train"
TEST = "test"


def _split(is_train: bool) -> str:
  return TRAIN if is_train else TEST


def _ntu_cv(camera: Any) -> str:
  camera = int(camera)
  if camera not in NTU_CAMERAS:
    raise ValueError(f"NTU camera must be 1, 2 or 3, got {camera}")
  return _split(camera in NTU_CV_TRAIN_CAMERAS)


@dataclasses.dataclass(frozen=True)
class Protocol:
  """One train/test split rule.

  Attributes:
    name: Key in :data:`PROTOCOLS`.
    key: The ``Clip.metadata`` key the rule reads.
    description: One line for logs and ``--help`` texts.
    rule: Maps the metadata value to ``"train"`` or ``"test"``.
  """

  name: str
  key: str
  description: str
  rule: Callable[[Any], str]

  def split(self, metadata: Mapping[str, Any]) -> str:
    if self.key not in metadata:
      raise ValueError(
          f"protocol {self.name!r} needs metadata key {self.key!r}; the clip"
          f" metadata has {sorted(metadata)}")
    value = metadata[self.key]
    try:
      return self.rule(value)
    except (TypeError, ValueError) as e:
      raise ValueError(
          f"protocol {self.name!r}: bad metadata {self.key}={value!r}: {e}"
      ) from e


def _sbu_fold(fold: int) -> Protocol:
  return Protocol(
      f"sbu_fold{fold}", "set_name",
      f"SBU 5-fold cross-validation, fold {fold} sets are the test split",
      lambda set_name: sbu.fold_split(str(set_name), fold))


_ALL = [
    Protocol("ntu60_cs", "subject",
             "NTU RGB+D cross-subject: 20 official training subjects",
             lambda s: _split(int(s) in NTU60_CS_TRAIN_SUBJECTS)),
    Protocol("ntu60_cv", "camera",
             "NTU RGB+D cross-view: cameras 2, 3 train, camera 1 test",
             _ntu_cv),
    Protocol("ntu120_csub", "subject",
             "NTU RGB+D 120 cross-subject: 53 official training subjects",
             lambda s: _split(int(s) in NTU120_CSUB_TRAIN_SUBJECTS)),
    Protocol("ntu120_cset", "setup",
             "NTU RGB+D 120 cross-setup: even setup ids train",
             lambda s: _split(int(s) % 2 == 0)),
    *(_sbu_fold(k) for k in range(1, sbu.NUM_FOLDS + 1)),
    Protocol("msr_cs", "subject",
             "MSR Daily Activity 3D cross-subject: odd subjects train",
             msr.cross_subject_split),
    # The synthetic dataset reuses the NTU metadata keys but not NTU's subject
    # list: its subjects are numbered 1..N, so "odd trains" splits any N.
    Protocol("synthetic_cs", "subject",
             "synthetic cross-subject: odd subjects train, even test",
             lambda s: _split(int(s) % 2 == 1)),
    Protocol("synthetic_cv", "camera",
             "synthetic cross-view: cameras 2, 3 train, every other test",
             lambda c: _split(int(c) in NTU_CV_TRAIN_CAMERAS)),
]

PROTOCOLS: Mapping[str, Protocol] = types.MappingProxyType(
    {p.name: p for p in _ALL})


def get_protocol(protocol: str) -> Protocol:
  """The :class:`Protocol` named ``protocol``.

  Raises:
    ValueError: unknown name; the message lists the valid ones.
  """
  try:
    return PROTOCOLS[protocol]
  except KeyError:
    raise ValueError(f"unknown protocol {protocol!r}; expected one of"
                     f" {list(PROTOCOLS)}") from None


def split_of(protocol: str, metadata: Mapping[str, Any]) -> str:
  """``"train"`` or ``"test"`` for a clip's metadata under ``protocol``.

  Raises:
    ValueError: unknown protocol, missing metadata key, or a value outside
      the dataset's range (e.g. NTU camera 4, an unknown SBU set).
  """
  return get_protocol(protocol).split(metadata)


def _unit_hash(name: str, seed: int) -> float:
  # sha256 rather than hash(): Python salts str hashes per process.
  digest = hashlib.sha256(f"{seed}:{name}".encode("utf-8")).digest()
  return int.from_bytes(digest[:8], "big") / 2.0**64


_NTU_CAMERA = re.compile(r"^(S\d{3})C\d{3}(P\d{3}R\d{3}A\d{3})$")


def performance_key(name: str) -> str:
  """The clip name without its camera: all views of one performance.

  NTU films each performance with three Kinects at once
  (``S001C001P001R001A001`` .. ``S001C003...``); other names are returned
  unchanged.
  """
  match = _NTU_CAMERA.match(name)
  return match.group(1) + match.group(2) if match else name


def is_validation(name: str, fraction: float = 0.05, seed: int = 0) -> bool:
  """Whether training clip ``name`` is held out for validation.

  Depends only on ``(performance_key(name), fraction, seed)``, so a clip
  keeps its split across runs, orderings and dataset subsets, and the views
  of one performance fall on the same side: a validation clip whose other
  views were trained on would measure memorisation, not generalisation, and
  early stopping would stop late.
  """
  if not 0.0 <= fraction <= 1.0:
    raise ValueError(f"validation fraction must be in [0, 1], got {fraction}")
  return _unit_hash(performance_key(name), seed) < fraction


def validation_split(names: Sequence[str], fraction: float = 0.05,
                     seed: int = 0) -> set[str]:
  """Picks about ``fraction`` of training clip ``names`` for validation.

  Each name is kept or not by its own stable hash (:func:`is_validation`):
  the result does not depend on the order or on the other names, and the
  held-out share is ``fraction`` on average (a binomial draw, so a tiny list
  may get none).
  """
  return {name for name in names if is_validation(name, fraction, seed)}
