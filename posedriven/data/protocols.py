"""Evaluation protocols: clip metadata -> ``"train"`` or ``"test"``.

A :class:`Protocol` reads one metadata key that the dataset's reader puts
into ``Clip.metadata``. Each dataset format declares its protocols in its
own module; :mod:`posedriven.data.formats.registry` collects them
(``registry.PROTOCOLS``, ``registry.get_protocol``):

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
msr3d_cs           action,       subjects 1 3 5 7 9 (Li et al. 2010); _as1..3:
                   subject       one 8-action subset, the others outside
synthetic_cs       subject       odd subjects (synthetic data, NTU-style keys)
synthetic_cv       camera        cameras 2 and 3 (synthetic data, NTU keys)
=================  ============  ===============================================

The paper (section 4) holds out 5% of the training set for validation:
:func:`is_validation` picks it by a stable hash of the clip name.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import tensorflow as tf

TRAIN = "train"
TEST = "test"
# A clip that the protocol leaves out of both splits (e.g. the test subjects
# in a validation protocol that selects hyper-parameters).
OUTSIDE = "outside"


def split(is_train: bool) -> str:
  """``"train"`` or ``"test"``."""
  return TRAIN if is_train else TEST


@dataclasses.dataclass(frozen=True)
class Protocol:
  """One train/test split rule.

  Attributes:
    name: Key in ``registry.PROTOCOLS``.
    key: The ``Clip.metadata`` key the rule reads, or a tuple of keys
      (the rule then gets the tuple of their values: MSR Action3D's
      subsets read the action and the subject).
    description: One line for logs and ``--help`` texts.
    rule: Maps the metadata value to ``"train"``, ``"test"`` or
      ``"outside"``.
  """

  name: str
  key: str | tuple[str, ...]
  description: str
  rule: Callable[[Any], str]

  def split(self, metadata: Mapping[str, Any]) -> str:
    keys = (self.key,) if isinstance(self.key, str) else tuple(self.key)
    missing = [k for k in keys if k not in metadata]
    if missing:
      raise ValueError(
          f"protocol {self.name!r} needs metadata key"
          f" {missing[0] if isinstance(self.key, str) else missing!r}; the"
          f" clip metadata has {sorted(metadata)}")
    value = (metadata[self.key] if isinstance(self.key, str)
             else tuple(metadata[k] for k in keys))
    try:
      return self.rule(value)
    except (TypeError, ValueError) as e:
      raise ValueError(
          f"protocol {self.name!r}: bad metadata {self.key}={value!r}: {e}"
      ) from e


# NTU names without the camera: all views of one performance (RE2 syntax).
_NTU_CAMERA = r"^(S\d{3})C\d{3}(P\d{3}R\d{3}A\d{3})$"
_HASH_BUCKETS = 2**53  # exact in float64


def performance_key(name: str) -> str:
  """The clip name without its camera: all views of one performance.

  NTU films each performance with three Kinects at once
  (``S001C001P001R001A001`` .. ``S001C003...``); other names are returned
  unchanged.
  """
  return performance_keys(tf.constant(name)).numpy().decode("utf-8")


def performance_keys(names: tf.Tensor) -> tf.Tensor:
  """:func:`performance_key` of a string tensor, in TF ops."""
  return tf.strings.regex_replace(names, _NTU_CAMERA, r"\1\2")


def validation_mask(names: tf.Tensor, fraction: float = 0.05,
                    seed: int = 0) -> tf.Tensor:
  """:func:`is_validation` of a string tensor, in TF ops (tf.data filters).

  A performance's unit hash is FarmHash Fingerprint64 (TensorFlow's
  ``to_hash_bucket_fast``, stable across processes and platforms, unlike
  Python's salted ``hash``) of ``"<seed>:<performance key>"``, scaled to
  ``[0, 1)``; the clip is held out when it is below ``fraction``.
  """
  if not 0.0 <= fraction <= 1.0:
    raise ValueError(f"validation fraction must be in [0, 1], got {fraction}")
  keys = tf.strings.join([f"{int(seed)}:", performance_keys(names)])
  buckets = tf.strings.to_hash_bucket_fast(keys, _HASH_BUCKETS)
  return tf.cast(buckets, tf.float64) / _HASH_BUCKETS < fraction


def is_validation(name: str, fraction: float = 0.05, seed: int = 0) -> bool:
  """Whether training clip ``name`` is held out for validation.

  Depends only on ``(performance_key(name), fraction, seed)``, so a clip
  keeps its split across runs, orderings and dataset subsets, and the views
  of one performance fall on the same side: a validation clip whose other
  views were trained on would measure memorisation, not generalisation, and
  early stopping would stop late.
  """
  return bool(validation_mask(tf.constant(name), fraction, seed).numpy())
