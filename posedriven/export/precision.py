"""Deprecated name of :mod:`posedriven.export.serving_copy` (issue 23).

Re-exports its names for one release so that old imports keep working.
"""

import warnings

from posedriven.export.serving_copy import (  # pylint: disable=unused-import
    FLOAT32_LAYERS, PRECISIONS, check_precision, serving_model)

warnings.warn("posedriven.export.precision is deprecated; use"
              " posedriven.export.serving_copy", DeprecationWarning,
              stacklevel=2)
