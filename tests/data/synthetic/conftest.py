"""Shared fixtures of the synthetic dataset's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from posedriven.data import synthetic

# A small set: 2 subjects x 2 views x 8 classes = 32 clips of 10-14 frames.
SMALL = dict(num_subjects=2, cameras=(1, 2), image_size=(320, 180),
             num_frames_range=(10, 14), seed=3)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> tuple[Path, list[str]]:
  """``SMALL`` written once: ``(root, clip names)``. Tests only read it."""
  root = tmp_path_factory.mktemp("synthetic")
  return root, synthetic.generate_dataset(root, **SMALL)
