"""Starting a model from another run's weights (NTU -> SBU / MSR fine-tuning).

The paper initialises the SBU and MSR networks with NTU-trained ones, adapts
the skeletons and fine-tunes every layer (section 4). :func:`transfer_weights`
copies every layer of the target from the source run, layer by layer (a
layer's variables all at once: a bias is never paired with a fresh kernel):

* the class layer is copied when the two runs' class lists are the same and
  re-initialised otherwise;
* any other layer must exist in the source with the same variable shapes.
  If it does not (e.g. the last pose convolution, 5 x W/4, when SBU keeps its
  native 15-joint layout and W differs from NTU's 300) training stops with an
  error, unless the run names the layer in ``reinitialise``: a transfer that
  silently copies 0.4% of the weights is not the paper's fine-tuning.

Every layer's fate (copied or re-initialised, shapes, source run) is returned
for the run's ``stage.json`` and logged. :func:`transfer_from_run` is what
the stages call: it reads the source run's dataset to decide whether the
class layer is copied.

Shapes alone do not tell whether a layer reads the same input: the
``random`` and ``topological_no_double`` joint orders are both 150 wide on
NTU, so conv3 of one would be copied into a network reading the other.
:func:`check_source` therefore compares what the two runs' ``stage.json``
say their layers were trained on (:data:`IDENTITY_KEYS`: stage, joint
order, tensor layout) and refuses a source that differs, naming both
values. A tensor layout change is accepted only when the layers bound to
the layout are re-initialised by name (:data:`POSE_LAYOUT_LAYERS`: the
native-layout ablation, ``pose/sbu_finetune_native.gin``).

Fine-tuning trains "with a 10 times smaller learning rate" (paper,
section 4): :func:`resolve_learning_rate` turns ``learning_rate=None`` into
the source run's rate (its ``stage.json``) / 10.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping, Sequence

import keras

from posedriven.data.formats import registry
from posedriven.training import best_model
from posedriven.training import run_dir


class TransferError(ValueError):
  """A target layer has no counterpart of the same shapes in the source."""


class SourceMismatchError(TransferError):
  """The source run's layers were trained on other inputs than this run's."""


# stage.json keys naming what a run's layers read: a pose or RGB stage, the
# joint order (``random:<seed>`` once resolved) and the pose tensor layout.
IDENTITY_KEYS = ("stage", "joint_order", "tensor_skeleton", "pose_width")
_LAYOUT_KEYS = ("tensor_skeleton", "pose_width")
# The pose layers that read the whole tensor width (pose_cnn's 5 x W/4
# convolution): a run re-initialising them may change the tensor layout.
POSE_LAYOUT_LAYERS = ("conv3",)
# Paper, section 4: fine-tuning at a "10 times smaller" learning rate.
FINE_TUNING_LR_FACTOR = 0.1


def identity(info: Mapping[str, Any]) -> dict[str, Any]:
  """The :data:`IDENTITY_KEYS` of a ``stage.json`` (None where missing)."""
  return {key: info.get(key) for key in IDENTITY_KEYS}


def layout_change_allowed(reinitialise: Sequence[str]) -> bool:
  """Whether ``reinitialise`` names every layer bound to the tensor layout."""
  return set(POSE_LAYOUT_LAYERS) <= set(reinitialise)


def check_source(init_from: str | os.PathLike,
                 target: Mapping[str, Any], *,
                 allow_layout_change: bool = False) -> dict[str, Any]:
  """Refuses a source run whose layers read other inputs than ``target``'s.

  Args:
    init_from: The source run.
    target: This run's :func:`identity`.
    allow_layout_change: Accept another ``tensor_skeleton`` / ``pose_width``
      (the layers bound to them are re-initialised by name).

  Returns:
    The source run's ``stage.json``.

  Raises:
    FileNotFoundError: ``init_from`` is not a finished run.
    SourceMismatchError: stage, joint order or (unless allowed) tensor
      layout differ; the message names both values of each. A key the
      source's ``stage.json`` lacks (a run older than the key) is logged,
      not checked.
  """
  info = run_dir.read_stage_info(init_from)
  source = identity(info)
  problems = []
  for key in IDENTITY_KEYS:
    if allow_layout_change and key in _LAYOUT_KEYS:
      continue
    if source[key] is None or target.get(key) is None:
      logging.warning("init_from %s: %s not recorded (source %r, this run"
                      " %r); not checked", init_from, key, source[key],
                      target.get(key))
      continue
    if source[key] != target[key]:
      problems.append(f"{key} {source[key]!r} in the source, {target[key]!r}"
                      " here")
  if problems:
    raise SourceMismatchError(
        f"init_from {init_from} was trained on other inputs: " +
        "; ".join(problems) + ". Start from a run of the same stage, joint"
        " order and tensor layout (its stage.json); a layout change needs"
        f" the layers bound to it re-initialised ({list(POSE_LAYOUT_LAYERS)}"
        " in reinitialise).")
  return info


def source_learning_rate(info: Mapping[str, Any]) -> float | None:
  """The learning rate a run trained at (``stage.json``), None if unknown."""
  if info.get("learning_rate") is not None:
    return float(info["learning_rate"])
  bound = info.get("params", {}).get("learning_rate")
  return None if bound is None else float(bound)


def source_record(init_from: str | os.PathLike | None,
                  target: Mapping[str, Any], *, allow_layout_change: bool
                  ) -> dict[str, Any] | None:
  """``stage.json["init_from"]`` of a checked source run; None without one.

  Raises what :func:`check_source` raises, before any work is done.
  """
  if not init_from:
    return None
  info = check_source(init_from, target,
                      allow_layout_change=allow_layout_change)
  return {"run": str(init_from), **identity(info),
          "dataset": info.get("dataset"),
          "learning_rate": source_learning_rate(info)}


def resolve_learning_rate(learning_rate: float | None,
                          init_from: str | os.PathLike | None
                          ) -> tuple[float, str]:
  """The rate to train at and where it came from, for ``stage.json``.

  Args:
    learning_rate: A bound rate, or None: the source run's / 10.
    init_from: The source run (needed when ``learning_rate`` is None).

  Returns:
    ``(rate, origin)``, origin ``"bound"`` or ``"init_from / 10"``.

  Raises:
    ValueError: None without ``init_from``, or a source whose ``stage.json``
      records no learning rate.
  """
  if learning_rate is not None:
    return float(learning_rate), "bound"
  if not init_from:
    raise ValueError("learning_rate None means the init_from run's rate / 10;"
                     " bind init_from, or a learning_rate")
  source = source_learning_rate(run_dir.read_stage_info(init_from))
  if source is None:
    raise ValueError(f"init_from {init_from}: its stage.json records no"
                     " learning rate; bind learning_rate")
  return source * FINE_TUNING_LR_FACTOR, "init_from / 10"


def _layer_of(path: str) -> str:
  return path.rpartition("/")[0]


def _short_name(layer: str) -> str:
  return layer.rpartition("/")[2]


def transfer_weights(source: keras.Model, target: keras.Model, *,
                     source_run: str, class_layer: str,
                     copy_class_layer: bool,
                     reinitialise: Sequence[str] = (),
                     keep: Sequence[str] = ()) -> list[dict[str, Any]]:
  """Copies ``source``'s weights into ``target`` layer by layer.

  Args:
    source: The trained model (``best.keras`` of ``source_run``).
    target: The freshly built model.
    source_run: Recorded with every copied layer.
    class_layer: Short name of the classifier layer (``pose_logits``).
    copy_class_layer: Whether the class lists match (then it is copied).
    reinitialise: Short names (``conv3``) or paths of layers that keep
      their fresh initialisation on purpose.
    keep: Path prefixes of layers that are not the transfer's business
      (the RGB stream's frozen pose network, which comes from its pose run).

  Returns:
    One record per target layer: ``layer``, ``shapes``, ``status``
    (``copied`` or ``reinitialised``), ``source_run`` and, for a
    re-initialised layer, ``reason``.

  Raises:
    TransferError: a layer cannot be copied and is not named in
      ``reinitialise``; the message lists every such layer with its shapes.
  """
  by_path = {v.path: v for v in source.weights}
  layers: dict[str, list] = {}
  for variable in target.weights:
    layers.setdefault(_layer_of(variable.path), []).append(variable)
  named = set(reinitialise)
  records, problems = [], []
  for layer, variables in layers.items():
    if any(layer == k or layer.startswith(k + "/") for k in keep):
      continue
    shapes = [list(v.shape) for v in variables]
    record = {"layer": layer, "shapes": shapes, "source_run": source_run}
    if _short_name(layer) == class_layer and not copy_class_layer:
      records.append({**record, "status": "reinitialised",
                      "reason": "class lists differ"})
      continue
    matches = [by_path.get(v.path) for v in variables]
    if all(m is not None and tuple(m.shape) == tuple(v.shape)
           for m, v in zip(matches, variables)):
      if layer in named or _short_name(layer) in named:
        records.append({**record, "status": "reinitialised",
                        "reason": "named in reinitialise"})
        continue
      for variable, match in zip(variables, matches):
        variable.assign(match)
      records.append({**record, "status": "copied"})
      continue
    if layer in named or _short_name(layer) in named:
      records.append({**record, "status": "reinitialised",
                      "reason": "named in reinitialise"})
      continue
    source_shapes = [None if m is None else list(m.shape) for m in matches]
    problems.append(f"{layer}: target {shapes}, source {source_shapes}")
  if problems:
    raise TransferError(
        f"cannot copy from {source_run}: " + "; ".join(problems) +
        ". Adapt the skeleton (skeleton_layout='kinect_v2') or name the"
        " layers in reinitialise (e.g. reinitialise=['conv3']).")
  for record in records:
    logging.info("transfer from %s: %s %s %s%s", source_run, record["layer"],
                 record["shapes"], record["status"],
                 f" ({record['reason']})" if "reason" in record else "")
  return records


def transfer_from_run(init_from: str | os.PathLike, model: keras.Model, *,
                      dataset: str, class_layer: str,
                      target: Mapping[str, Any],
                      allow_layout_change: bool = False,
                      reinitialise: Sequence[str] = (),
                      keep: Sequence[str] = ()) -> list[dict[str, Any]]:
  """Starts ``model`` from the best model of the run ``init_from``.

  The source must have been trained on the inputs ``target`` (this run's
  :func:`identity`) describes (:func:`check_source`). The class layer is
  copied too when the source run's dataset has the same class list as
  ``dataset`` (:func:`transfer_weights` for the rest).

  Raises:
    SourceMismatchError: see :func:`check_source`.
    TransferError: see :func:`transfer_weights`.
  """
  source_dataset = check_source(
      init_from, target, allow_layout_change=allow_layout_change)["dataset"]
  return transfer_weights(
      best_model.load_best_model(init_from), model,
      source_run=str(init_from), class_layer=class_layer,
      copy_class_layer=(registry.class_names(source_dataset) ==
                        registry.class_names(dataset)),
      reinitialise=reinitialise, keep=keep)
