"""What every absl binary in ``tools/`` shares: how a setting reaches it.

A binary's flags are paths, ``--gin_files``, ``--gin_bindings`` and
``--overwrite``; every other value is a keyword of the stage's library
function, set one way: a gin binding. A shorthand flag (``--overwrite``)
is literally a gin binding: :func:`with_shorthands` writes it as one.

absl leaves whatever is not a flag in ``argv[1:]`` and hands it to
``main``. A binary that dropped it would run with a setting the user
believes they gave (``--num_shards 8`` read as ``--num_shards`` plus a
stray ``8``, or ``gin_files=x`` without its dashes), so each binary's
``main`` is wrapped in :func:`flags_only`.
"""

from __future__ import annotations

import functools
from typing import Callable, Mapping, Sequence, TypeVar

from absl import app

_Result = TypeVar("_Result")


def check_no_positional(argv: Sequence[str]) -> None:
  """Raises ``app.UsageError`` naming what is in ``argv[1:]``, if anything.

  Args:
    argv: What absl passes to ``main``: the program, then every argument
      that is not a flag.
  """
  stray = list(argv[1:])
  if stray:
    raise app.UsageError(
        f"unexpected positional argument{'s' if len(stray) > 1 else ''}"
        f" {' '.join(repr(a) for a in stray)}: every setting is a flag"
        " (--name=value) or a gin binding (--gin_bindings='f.x = 1')")


def flags_only(main: Callable[[Sequence[str]], _Result]
               ) -> Callable[[Sequence[str]], _Result]:
  """Wraps a binary's ``main(argv)`` so that it refuses positional arguments.

  The check runs before ``main`` reads any flag, so nothing is created or
  read when it fails; ``app.run`` prints the message with the usage.
  """

  @functools.wraps(main)
  def checked(argv: Sequence[str]) -> _Result:
    check_no_positional(argv)
    return main(argv)

  return checked


def with_shorthands(gin_bindings: Sequence[str],
                    shorthands: Mapping[str, object]) -> list[str]:
  """The user's bindings, then each shorthand flag given, as its binding.

  ``{"train_pose.overwrite": True}`` adds ``"train_pose.overwrite = True"``:
  the same text the user could have passed to ``--gin_bindings``, parsed
  the same way. It comes last, so the flag wins over a binding (gin keeps a
  parameter's last binding).

  Args:
    gin_bindings: ``--gin_bindings`` as given.
    shorthands: ``{"function.parameter": flag value}``; None (a flag not
      given) adds nothing, so the gin files and bindings decide.

  Returns:
    The bindings to parse, in order.
  """
  return [*gin_bindings,
          *(f"{key} = {value!r}" for key, value in shorthands.items()
            if value is not None)]
