"""Progress lines of a long preparation: rates and time left, not too often."""

from __future__ import annotations

import pytest

from posedriven.prepare import progress


@pytest.fixture
def clock(monkeypatch):
  """A settable ``time.monotonic`` for the module (no sleeps)."""
  now = [100.0]
  monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
  return now


@pytest.fixture
def lines(monkeypatch):
  logged = []
  monkeypatch.setattr(progress.logging, "info",
                      lambda fmt, *args: logged.append(fmt % args))
  return logged


def test_logs_at_most_every_interval(clock, lines):
  p = progress.Progress(total_clips=10, label="train", every_s=5.0)
  clock[0] += 1.0
  p.update(clips=1, crops=4)
  assert lines == []
  clock[0] += 3.0
  p.update(clips=1, crops=4)
  assert lines == []
  # 4 clips in 8 s: 0.5 clips/s, 6 clips left take 12 s.
  clock[0] += 4.0
  p.update(clips=2, crops=8)
  assert lines == ["train: 4/10 clips, 0.50 clips/s, 2.0 crops/s, ETA 0:00:12"]
  # The interval restarts at the last line.
  clock[0] += 4.0
  p.update(clips=1)
  assert len(lines) == 1
  assert p.clips == 5 and p.crops == 16 and p.elapsed == 12.0


def test_forced_line_without_clips_has_no_eta(clock, lines):
  p = progress.Progress(total_clips=3, label="test", every_s=1e9)
  clock[0] += 2.0
  p.update(force=True)
  assert lines == ["test: 0/3 clips, 0.00 clips/s, 0.0 crops/s, ETA ?"]
