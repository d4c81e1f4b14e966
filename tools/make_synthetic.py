r"""Writes the synthetic NTU-format dataset (the demo's default data), or the
synthetic SBU- / MSR-format sets (``--format=sbu|msr``, for fine-tuning).

  python -m tools.make_synthetic --output_dir=/tmp/synthetic \
      --gin_bindings='generate_dataset.num_subjects = 10'
  python -m tools.make_synthetic --format=sbu --output_dir=/tmp/synthetic_sbu \
      --gin_bindings='generate_sbu.sequences = 2'

Every setting is a keyword of ``posedriven.data.synthetic.generate_dataset``
(``sbu_msr.generate_sbu`` / ``generate_msr``) bound with gin. Interrupted
runs resume: start the same command again.
"""

from __future__ import annotations

from typing import Sequence

from absl import app
from absl import flags
from absl import logging

from posedriven import console

# Before TensorFlow loads: its native start-up lines (posedriven.console).
console.filter_native_logs()

from posedriven import binary
from posedriven import config
from posedriven.data.formats import registry

_OUTPUT_DIR = flags.DEFINE_string("output_dir", None,
                                  "Dataset root to write or complete.",
                                  required=True)
_GIN_FILES = flags.DEFINE_multi_string("gin_files", [],
                                       "Gin configuration files.")
_GIN_BINDINGS = flags.DEFINE_multi_string(
    "gin_bindings", [], "Gin bindings, e.g. 'generate_dataset.seed = 1'.")
_FORMAT = flags.DEFINE_enum(
    "format", "ntu", list(registry.SYNTHETIC_WRITERS),
    "Layout to write: the NTU one (default) or SBU's / MSR's.")
_OVERWRITE = flags.DEFINE_boolean(
    "overwrite", None,
    "Replace a dataset made in output_dir with other settings (overrides"
    " gin).")


@binary.flags_only
def main(argv: Sequence[str]) -> None:
  del argv
  logging.set_verbosity(logging.INFO)
  # --overwrite is the binding of the writer this --format runs.
  writer = registry.SYNTHETIC_WRITERS[_FORMAT.value]
  config.parse_gin(_GIN_FILES.value, binary.with_shorthands(
      _GIN_BINDINGS.value,
      {f"{writer.__name__}.overwrite": _OVERWRITE.value}))
  writer(_OUTPUT_DIR.value)


def run() -> None:
  """Console-script entry point."""
  app.run(main)


if __name__ == "__main__":
  run()
