"""Deprecated name of :mod:`posedriven.data.prepared_data` (issue 23).

Re-exports its names for one release so that old imports keep working.
"""

import warnings

from posedriven.data.prepared_data import (  # pylint: disable=unused-import
    WRITTEN_STATUSES, PreparedData, load_prepared)

warnings.warn("posedriven.data.datasets is deprecated; use"
              " posedriven.data.prepared_data", DeprecationWarning,
              stacklevel=2)
