"""Starting a model from another one's weights (NTU -> SBU / MSR fine-tuning).

The paper initialises the SBU and MSR networks with NTU-trained ones and
"adapts" the skeleton definitions. Here a weight is copied when the target has
a variable with the same path and shape. For the pose network that means:

* the two 8x3 convolutions always transfer (their kernels slide over the
  joint path and do not depend on its length);
* the last convolution (kernel 5 x W/4) transfers only when the pose tensor
  width is the same, i.e. the same skeleton definition and joint order;
* the classifier transfers only with the same number of classes.

Everything else keeps its fresh initialisation, and both lists are logged.
"""

from __future__ import annotations

import logging

import keras


def copy_matching_weights(source: keras.Model, target: keras.Model
                          ) -> tuple[list[str], list[str]]:
  """Copies source variables into target variables of equal path and shape.

  Returns:
    ``(copied, reinitialised)`` lists of target variable paths.
  """
  by_path = {v.path: v for v in source.weights}
  copied, fresh = [], []
  for variable in target.weights:
    match = by_path.get(variable.path)
    if match is not None and tuple(match.shape) == tuple(variable.shape):
      variable.assign(match)
      copied.append(variable.path)
    else:
      fresh.append(variable.path)
  logging.info("Transferred %d variables from %s: %s", len(copied),
               source.name, copied)
  logging.info("Re-initialised %d variables (no match in path and shape): %s",
               len(fresh), fresh)
  return copied, fresh
