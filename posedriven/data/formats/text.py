"""Deprecated: split in issue 23.

* :mod:`posedriven.data.formats.file_guards`: ``FormatError``,
  ``file_problem``, ``encoding_problem``, ``read_text``,
  ``check_dense_budget`` and the size limits;
* :mod:`posedriven.data.formats.tokenizer`: ``Lines``, ``parse_int``,
  ``parse_float``, ``is_float``, ``cast_finite``, ``dtype_range``.

Re-exports those names for one release so that old imports keep working.
"""

import warnings

# pylint: disable=unused-import
from posedriven.data.formats.file_guards import (
    DENSE_BYTES_PER_FILE_BYTE, DENSE_FLOOR_BYTES, MAX_FILE_BYTES, FormatError,
    check_dense_budget, encoding_problem, file_problem, read_text)
from posedriven.data.formats.tokenizer import (
    Lines, cast_finite, dtype_range, is_float, parse_float, parse_int)
# pylint: enable=unused-import

warnings.warn("posedriven.data.formats.text is deprecated; use"
              " posedriven.data.formats.file_guards or"
              " posedriven.data.formats.tokenizer", DeprecationWarning,
              stacklevel=2)
