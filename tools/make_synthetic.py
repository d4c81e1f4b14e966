r"""Writes the synthetic NTU-format dataset (the demo's default data).

  python -m tools.make_synthetic --output_dir=/tmp/synthetic \
      --gin_bindings='make_synthetic.num_subjects = 10'

Interrupted runs resume: start the same command again.
"""

from __future__ import annotations

import logging
import time
from typing import Sequence

from absl import app
from absl import flags
import gin

from posedriven.data import synthetic
from posedriven.training import run_dir

_OUTPUT_DIR = flags.DEFINE_string("output_dir", None,
                                  "Dataset root to write or complete.",
                                  required=True)
_GIN_FILES = flags.DEFINE_multi_string("gin_files", [],
                                       "Gin configuration files.")
_GIN_BINDINGS = flags.DEFINE_multi_string(
    "gin_bindings", [], "Gin bindings, e.g. 'make_synthetic.seed = 1'.")


@gin.configurable(denylist=["output_dir"])
def make_synthetic(output_dir: str, *, num_subjects: int = 6,
                   cameras: Sequence[int] = (1, 2, 3), replications: int = 1,
                   image_size: tuple[int, int] = (480, 270),
                   num_frames_range: tuple[int, int] = (28, 40),
                   seed: int = 0, setup: int = 1,
                   actions: Sequence[int] | None = None,
                   second_person_probability: float = 0.5,
                   crop_size_px: int | None = None) -> list[str]:
  """:func:`synthetic.generate_dataset` with its arguments as gin surface."""
  started = time.monotonic()
  names = synthetic.generate_dataset(
      output_dir, num_subjects=num_subjects, cameras=tuple(cameras),
      replications=replications, image_size=tuple(image_size),
      num_frames_range=tuple(num_frames_range), seed=seed, setup=setup,
      actions=actions, second_person_probability=second_person_probability,
      crop_size_px=crop_size_px)
  elapsed = time.monotonic() - started
  logging.info("%d clips in %s after %.1f s (%.1f clips/s)", len(names),
               output_dir, elapsed, len(names) / max(elapsed, 1e-9))
  return names


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  gin.parse_config_files_and_bindings(_GIN_FILES.value, _GIN_BINDINGS.value,
                                      skip_unknown=False)
  make_synthetic(_OUTPUT_DIR.value)
  run_dir.write_operative_config(_OUTPUT_DIR.value)


def run() -> None:
  """Console-script entry point."""
  app.run(main)


if __name__ == "__main__":
  app.run(main)
