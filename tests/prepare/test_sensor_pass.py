"""Hand patches to sensor batches (posedriven.prepare.sensor_pass)."""

from __future__ import annotations

import numpy as np
import pytest

from posedriven.prepare import sensor_pass


def test_rebatch_fills_batches_across_chunks_in_order():
  def chunk(start, n, side=2):
    return {"row": np.arange(start, start + n),
            "patch": np.zeros((n, side, side), np.uint8)}

  out = list(sensor_pass.rebatch([chunk(0, 5), chunk(5, 7), chunk(12, 3)], 4))
  assert [len(c["row"]) for c in out] == [4, 4, 4, 3]
  np.testing.assert_array_equal(np.concatenate([c["row"] for c in out]),
                                np.arange(15))
  assert all(c["patch"].shape[1:] == (2, 2) for c in out)
  # Patches of another size cannot share a batch: the rows before flush.
  out = list(sensor_pass.rebatch([chunk(0, 3), chunk(3, 3, side=5)], 4))
  assert [(len(c["row"]), c["patch"].shape[1]) for c in out] == [(3, 2),
                                                                  (3, 5)]
  assert not list(sensor_pass.rebatch([], 4))
  with pytest.raises(ValueError, match="size"):
    list(sensor_pass.rebatch([chunk(0, 1)], 0))
