"""Deprecated: split by concern in issue 23.

* :mod:`posedriven.training.dtype_policy`: ``PRECISIONS``,
  ``check_precision``, ``precision``;
* :mod:`posedriven.training.classifier`: ``compile_classifier``,
  ``with_targets``, ``strip_names``, ``predict_dataset``;
* :mod:`posedriven.training.best_model`: ``load_best_model``;
* :mod:`posedriven.training.transfer`: ``transfer_from_run``.

Re-exports those names for one release so that old imports keep working.
"""

import warnings

# pylint: disable=unused-import
from posedriven.training.best_model import load_best_model
from posedriven.training.classifier import (
    compile_classifier, predict_dataset, strip_names, with_targets)
from posedriven.training.dtype_policy import (
    PRECISIONS, check_precision, precision)
from posedriven.training.transfer import transfer_from_run
# pylint: enable=unused-import

warnings.warn("posedriven.training.common is deprecated; use"
              " posedriven.training.dtype_policy,"
              " posedriven.training.classifier,"
              " posedriven.training.best_model or"
              " posedriven.training.transfer", DeprecationWarning,
              stacklevel=2)
