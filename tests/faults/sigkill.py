"""Kill points for subprocess runs: a real SIGKILL at an exact code point.

A timer cannot aim at the few microseconds between two writes; these hooks
can. A test's subprocess calls :func:`install` before the job starts, e.g.::

  python -c "from tests.faults import sigkill; sigkill.install(
      {'replace_suffix': '.tfrecord', 'nth': 2, 'when': 'before'}); ..."

The process then dies by ``SIGKILL`` (no cleanup handler, ``finally`` or
buffered write runs) exactly there.
"""

from __future__ import annotations

import importlib
import os
import signal
from typing import Any, Mapping


def die() -> None:
  os.kill(os.getpid(), signal.SIGKILL)


def kill_at_replace(suffix: str, nth: int, when: str) -> None:
  """Dies at the ``nth`` ``os.replace`` onto a path ending in ``suffix``.

  Every atomic write in the project ends with ``os.replace``, so its two
  sides are the interesting points: ``before`` (the temporary file is
  complete, the target not yet renamed) and ``after``.
  """
  if when not in ("before", "after"):
    raise ValueError(f"when must be 'before' or 'after', got {when!r}")
  real_replace = os.replace
  seen = 0

  def replace(src, dst, **kwargs):
    nonlocal seen
    hit = os.fspath(dst).endswith(suffix)
    seen += hit
    if hit and seen == nth and when == "before":
      die()
    real_replace(src, dst, **kwargs)
    if hit and seen == nth:
      die()

  os.replace = replace


def kill_at_call(module: str, function: str, nth: int) -> None:
  """Dies when ``module.function`` is called for the ``nth`` time.

  ``function`` may name a method (``Class.method``): every instance's call
  counts.
  """
  owner = importlib.import_module(module)
  *path, name = function.split(".")
  for attribute in path:
    owner = getattr(owner, attribute)
  real_function = getattr(owner, name)
  calls = 0

  def wrapper(*args, **kwargs):
    nonlocal calls
    calls += 1
    if calls == nth:
      die()
    return real_function(*args, **kwargs)

  setattr(owner, name, wrapper)


def install(point: Mapping[str, Any] | None) -> None:
  """Installs one kill point (None: run to the end or to an outside kill).

  Args:
    point: ``{"replace_suffix": s, "nth": n, "when": "before"|"after"}`` or
      ``{"call": "module:function", "nth": n}``.
  """
  if not point:
    return
  if "replace_suffix" in point:
    kill_at_replace(point["replace_suffix"], point["nth"], point["when"])
  elif "call" in point:
    module, function = point["call"].split(":")
    kill_at_call(module, function, point["nth"])
  else:
    raise ValueError(f"unknown kill point {point}")
