"""Property-based fuzzing of the skeleton readers (issue 17).

Mutants of the real NTU sample skeletons and of the SBU / MSR corpus files
(bytes truncated, flipped and inserted; numbers scaled by huge factors or
replaced by counts and IDs that overflow; lines duplicated and dropped; the
text re-encoded) must each give either finite, in-range arrays or the
format's own error naming the file: a ``file_guards.FormatError``
subclass, or the documented ``EmptySkeletonError``. Nothing else may escape
(no ``OverflowError``, ``IndexError``, ``MemoryError``), and every mutant is
read within :data:`TIME_LIMIT_S` seconds and :func:`memory_limit` bytes.

The examples are derandomized (a fixed seed per test, no example database),
so CI runs the same fixed set each time: :data:`EXAMPLES` per format.
"""

from __future__ import annotations

import re
import time
import tracemalloc
from pathlib import Path
from typing import Callable

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import numpy as np
import pytest

from posedriven.data import clip as clip_lib
from posedriven.data.formats import file_guards
from posedriven.data.formats import msr
from posedriven.data.formats import ntu
from posedriven.data.formats import sbu
from tests.faults import corpus

EXAMPLES = {"ntu": 150, "sbu": 300, "msr": 300}
TIME_LIMIT_S = 10.0  # typical mutant: < 0.2 s; generous for shared CPUs


def memory_limit(file_bytes: int) -> int:
  """Peak bytes a reader may take for a file: the dense-array budget plus
  the parsed lines (Python strings cost ~10x their text)."""
  return (file_guards.DENSE_FLOOR_BYTES +
          (file_guards.DENSE_BYTES_PER_FILE_BYTE + 64) * file_bytes)


# -- mutations: pure functions of bytes -------------------------------------

_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
# Values that overflow a dtype, are negative counts or IDs, or not finite.
HOSTILE_VALUES = (b"1e39", b"-1e39", b"3.5e38", b"1e300", b"1e26", b"1e30",
                  b"18446744073709551616", b"4000000000", b"99999", b"300",
                  b"-5", b"-7", b"0", b"nan", b"inf", b"-inf", b"1.5")
SCALE_FACTORS = (1e10, 1e30, 1e39, -1e39, 1e300)
ENCODINGS = ("utf-16", "utf-16-le", "utf-8-sig", "utf-32")
KINDS = ("truncate", "flip_bit", "insert_byte", "insert_value", "scale",
         "set_number", "set_line_start", "duplicate_line", "drop_line",
         "encode")


def _at(data: bytes, position: float) -> int:
  return min(int(position * len(data)), max(len(data) - 1, 0))


def _line_bounds(data: bytes, i: int) -> tuple[int, int]:
  start = data.rfind(b"\n", 0, i) + 1
  end = data.find(b"\n", i)
  return start, len(data) if end < 0 else end + 1


def mutate(data: bytes, kind: str, position: float, byte: int,
           value: bytes, factor: float, encoding: str) -> bytes:
  """One mutation of ``data`` at ``position`` (a fraction of its length)."""
  if not data:
    return data
  i = _at(data, position)
  if kind == "truncate":
    return data[:i]
  if kind == "flip_bit":
    return data[:i] + bytes([data[i] ^ (1 << (byte % 8))]) + data[i + 1:]
  if kind == "insert_byte":
    return data[:i] + bytes([byte]) + data[i:]
  if kind == "insert_value":
    return data[:i] + b" " + value + b" " + data[i:]
  if kind in ("scale", "set_number", "set_line_start"):
    start = _line_bounds(data, i)[0] if kind == "set_line_start" else i
    match = _NUMBER.search(data, start) or _NUMBER.search(data)
    if match is None:
      return data
    if kind == "scale":
      new = repr(float(match.group()) * factor).encode()
    else:
      new = value
    return data[:match.start()] + new + data[match.end():]
  if kind in ("duplicate_line", "drop_line"):
    start, end = _line_bounds(data, i)
    line = data[start:end]
    return data[:start] + (line * 2 if kind == "duplicate_line" else b"") + (
        data[end:])
  if kind == "encode":
    return data.decode("latin-1").encode(encoding)
  raise ValueError(kind)


# Value mutations count thrice: most structural ones are refused outright,
# and the values are where dtype overflow hides in a file that parses.
mutation = st.tuples(
    st.sampled_from(KINDS + ("scale", "set_number") * 2), st.floats(0, 1),
    st.integers(0, 255),
    st.sampled_from(HOSTILE_VALUES), st.sampled_from(SCALE_FACTORS),
    st.sampled_from(ENCODINGS))
mutations = st.lists(mutation, min_size=1, max_size=3)


def test_mutations_do_what_they_say():
  data = b"3 20\n40\n0.5 -1.25 2e3 1\n"
  assert mutate(data, "truncate", 0.5, 0, b"", 1, "") == data[:12]
  assert mutate(data, "scale", 0.3, 0, b"", 1e39, "") == (
      b"3 20\n40\n5e+38 -1.25 2e3 1\n")
  assert mutate(data, "set_line_start", 0.0, 0, b"-5", 1, "") == (
      b"-5 20\n40\n0.5 -1.25 2e3 1\n")
  assert mutate(data, "drop_line", 0.6, 0, b"", 1, "") == b"3 20\n40\n"
  assert mutate(data, "duplicate_line", 0.0, 0, b"", 1, "").startswith(
      b"3 20\n3 20\n40\n")
  assert mutate(data, "flip_bit", 0.0, 0, b"", 1, "")[:1] == b"2"
  assert mutate(data, "encode", 0, 0, b"", 1, "utf-16")[:2] == b"\xff\xfe"


# -- what every mutant must give -------------------------------------------


def _finite(name: str, array: np.ndarray) -> None:
  assert np.all(np.isfinite(array)), f"{name} holds NaN/inf"


def _check_clip(clip: clip_lib.Clip, num_classes: int) -> None:
  _finite("xyz", clip.xyz)
  _finite("valid hands", clip.hand_xy_px[clip.hand_valid])
  assert clip.present.dtype == bool and clip.hand_valid.dtype == bool
  assert 0 <= clip.label < num_classes


def _read_ntu(path: Path) -> None:
  seq = ntu.load_skeleton(path)
  for name in ("xyz", "depth_xy", "color_xy", "orientation", "lean_xy"):
    assert getattr(seq, name).dtype == np.float32
    _finite(name, getattr(seq, name))
  assert set(np.unique(seq.tracking_state)) <= {0, 1, 2}
  assert set(np.unique(seq.body_tracking_state)) <= {0, 1, 2}
  assert seq.body_ids.dtype == np.uint64
  _check_clip(ntu.load_clip(path), 120)


def _read_sbu(path: Path) -> None:
  data = sbu.load_skeleton_file(path)
  for name in ("normalized", "xyz", "color_xy_px"):
    _finite(name, getattr(data, name))
  assert np.all((data.frame_index >= 0) &
                (data.frame_index <= sbu.MAX_FRAME_NUMBER))
  _check_clip(sbu.load_clip(path.parent), len(sbu.SBU_CLASS_NAMES))


def _read_msr(path: Path) -> None:
  data = msr.load_skeleton_file(path)
  _finite("xyz", data.xyz)
  assert data.present.dtype == bool
  _check_clip(msr.load_clip(path), len(msr.MSR_CLASS_NAMES))


def _check_mutant(path: Path, data: bytes, read: Callable[[Path], None]
                  ) -> str:
  """Reads one mutant; returns ``"read"`` or ``"refused"``."""
  path.write_bytes(data)
  tracemalloc.start()
  start = time.perf_counter()
  outcome = "read"
  try:
    read(path)
  except file_guards.FormatError as e:
    assert e.path == str(path) and str(path) in str(e)
    outcome = "refused"
  except ntu.EmptySkeletonError as e:  # documented: no tracked body
    assert str(path) in str(e)
    outcome = "refused"
  finally:
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
  assert seconds < TIME_LIMIT_S, f"{seconds:.1f} s"
  assert peak < memory_limit(len(data)), f"{peak} bytes for {len(data)}"
  return outcome


def _fuzz(examples: int) -> settings:
  return settings(max_examples=examples, derandomize=True, database=None,
                  deadline=None,  # TIME_LIMIT_S is checked per mutant
                  suppress_health_check=[HealthCheck.too_slow,
                                         HealthCheck.data_too_large])


def _assert_both_outcomes(outcomes: list[str], examples: int) -> None:
  # A fuzz run whose mutants were all refused (or all harmless) would test
  # one path only: each must be at least 5% of the mutants.
  assert len(outcomes) >= examples
  for outcome in ("read", "refused"):
    assert outcomes.count(outcome) >= examples // 20, (
        outcome, outcomes.count(outcome), len(outcomes))


@pytest.fixture
def ntu_files(ntu_samples):
  files = sorted(ntu_samples.glob("*.skeleton"))
  assert len(files) == 3
  return [(f.name, f.read_bytes()) for f in files]


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
  return tmp_path_factory.mktemp("fuzz")


@pytest.mark.slow
def test_fuzz_ntu_real_samples(ntu_files, work_dir):
  @_fuzz(EXAMPLES["ntu"])
  @given(st.integers(0, len(ntu_files) - 1), mutations)
  def run(which, changes):
    name, data = ntu_files[which]
    for change in changes:
      data = mutate(data, *change)
    outcomes.append(_check_mutant(work_dir / name, data, _read_ntu))

  outcomes = []
  run()
  _assert_both_outcomes(outcomes, EXAMPLES["ntu"])


def test_fuzz_sbu(work_dir):
  seq = work_dir / "s01s02" / "03" / "001"
  seq.mkdir(parents=True)
  base = ("\n".join(corpus.sbu_rows(6)) + "\n").encode()

  @_fuzz(EXAMPLES["sbu"])
  @given(mutations)
  def run(changes):
    data = base
    for change in changes:
      data = mutate(data, *change)
    outcomes.append(_check_mutant(seq / sbu.SKELETON_FILE, data, _read_sbu))

  outcomes = []
  run()
  _assert_both_outcomes(outcomes, EXAMPLES["sbu"])


def test_fuzz_msr(work_dir):
  base = corpus.msr_text((1, 2, 0, 1)).encode()

  @_fuzz(EXAMPLES["msr"])
  @given(mutations)
  def run(changes):
    data = base
    for change in changes:
      data = mutate(data, *change)
    outcomes.append(_check_mutant(work_dir / "a05_s03_e02_skeleton.txt",
                                  data, _read_msr))

  outcomes = []
  run()
  _assert_both_outcomes(outcomes, EXAMPLES["msr"])
