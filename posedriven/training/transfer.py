"""Starting a model from another one's weights (NTU -> SBU / MSR fine-tuning).

The paper initialises the SBU and MSR networks with NTU-trained ones and
"adapts" the skeleton definitions. Here a weight is copied when the target has
a variable with the same path and shape. For the pose network that means:

* the two 8x3 convolutions always transfer (their kernels slide over the
  joint path and do not depend on its length);
* the last convolution (kernel 5 x W/4) transfers only when the pose tensor
  width is the same, i.e. the same skeleton definition and joint order;
* the classifier transfers only with the same number of classes.

A layer is copied whole or not at all (a bias is never paired with a fresh
kernel). Everything else keeps its fresh initialisation, and both lists are
logged.
"""

from __future__ import annotations

import logging

import keras


def copy_matching_weights(source: keras.Model, target: keras.Model
                          ) -> tuple[list[str], list[str]]:
  """Copies the layers whose variables all match in path and shape.

  Returns:
    ``(copied, reinitialised)`` lists of target variable paths.
  """
  by_path = {v.path: v for v in source.weights}
  layers: dict[str, list] = {}
  for variable in target.weights:
    layers.setdefault(variable.path.rpartition("/")[0], []).append(variable)
  copied, fresh = [], []
  for variables in layers.values():
    matches = [by_path.get(v.path) for v in variables]
    if all(m is not None and tuple(m.shape) == tuple(v.shape)
           for m, v in zip(matches, variables)):
      for variable, match in zip(variables, matches):
        variable.assign(match)
        copied.append(variable.path)
    else:
      fresh.extend(v.path for v in variables)
  logging.info("Transferred %d variables from %s: %s", len(copied),
               source.name, copied)
  logging.info("Re-initialised %d variables (no match in path and shape): %s",
               len(fresh), fresh)
  return copied, fresh
