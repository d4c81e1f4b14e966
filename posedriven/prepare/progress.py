"""Progress of a long preparation: clips/s, crops/s and time left."""

from __future__ import annotations

import datetime
import math
import time

from absl import logging


class Progress:
  """Clips/s, crops/s and ETA, logged at most every ``every_s`` seconds."""

  def __init__(self, total_clips: int, label: str, every_s: float):
    self.total, self.label, self.every_s = total_clips, label, every_s
    self.start = self.last = time.monotonic()
    self.clips = self.crops = 0

  def update(self, clips: int = 0, crops: int = 0, force: bool = False):
    self.clips += clips
    self.crops += crops
    now = time.monotonic()
    if not force and now - self.last < self.every_s:
      return
    self.last = now
    elapsed = max(now - self.start, 1e-9)
    rate = self.clips / elapsed
    eta = (self.total - self.clips) / rate if rate > 0 else float("nan")
    eta_text = (str(datetime.timedelta(seconds=round(eta)))
                if math.isfinite(eta) else "?")
    logging.info("%s: %d/%d clips, %.2f clips/s, %.1f crops/s, ETA %s",
                 self.label, self.clips, self.total, rate,
                 self.crops / elapsed, eta_text)

  @property
  def elapsed(self) -> float:
    return time.monotonic() - self.start
