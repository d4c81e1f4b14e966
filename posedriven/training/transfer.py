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
"""

from __future__ import annotations

import logging
import os
from typing import Any, Sequence

import keras

from posedriven.data.formats import registry
from posedriven.training import best_model
from posedriven.training import run_dir


class TransferError(ValueError):
  """A target layer has no counterpart of the same shapes in the source."""


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
                      reinitialise: Sequence[str] = (),
                      keep: Sequence[str] = ()) -> list[dict[str, Any]]:
  """Starts ``model`` from the best model of the run ``init_from``.

  The class layer is copied too when the source run's dataset has the same
  class list as ``dataset`` (:func:`transfer_weights` for the rest).
  """
  source_dataset = run_dir.read_stage_info(init_from)["dataset"]
  return transfer_weights(
      best_model.load_best_model(init_from), model,
      source_run=str(init_from), class_layer=class_layer,
      copy_class_layer=(registry.class_names(source_dataset) ==
                        registry.class_names(dataset)),
      reinitialise=reinitialise, keep=keep)
