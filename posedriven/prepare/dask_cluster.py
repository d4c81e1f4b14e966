"""The Dask scheduler that Beam's Dask runner submits preparation to.

``prepare_dataset(runner="DaskRunner")`` runs the Beam pipeline of
:mod:`.beam_pipeline` on Dask's distributed scheduler: a scheduler named by
address (``dask_scheduler="tcp://host:8786"``; on SLURM, PBS or SGE one
that ``dask-jobqueue`` started) or, without one, a
``distributed.LocalCluster`` of worker processes on 127.0.0.1 started for
the run and closed after it.

Two things Beam 2.77's runner leaves to its caller:

* **Spreading the files.** Its ``Create`` cuts the elements into
  partitions of 128 and its ``Reshuffle`` is a no-op, so a dataset's files
  would all run as one task in one worker process. :func:`beam_flags`
  asks for one partition per file (``--dask_npartitions``).
* **A scheduler that does not answer.** ``distributed.Client`` waits
  forever on an address that accepts the connection and never replies
  (its ``timeout`` bounds only the TCP connect). :func:`check_scheduler`
  asks the scheduler who it is first, within a bounded time, and names
  the address when it gets no answer.

Dask and distributed are an extra (``pip install -e ".[dask]"``): without
it this module imports, and only the Dask runner fails, saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Iterator, Sequence

from absl import logging

try:
  # distributed first: it adds its defaults to dask.config, which a
  # dask.config.set block entered before would drop on exit.
  import distributed
  from distributed import core as distributed_core
  import dask
except ModuleNotFoundError as _missing:  # the `dask` extra is not installed
  distributed = distributed_core = dask = None
  _MISSING = str(_missing)

# The runner's short name (Beam knows it only by its module path).
RUNNER = "DaskRunner"
RUNNER_PATH = "apache_beam.runners.dask.dask_runner.DaskRunner"
# Worker processes of the local cluster started without a scheduler.
DEFAULT_LOCAL_WORKERS = 2
# Dask's own default connect timeout (distributed.comm.timeouts.connect);
# ``--dask_connection_timeout=N`` in the Beam options sets another.
DEFAULT_CONNECT_TIMEOUT_S = 30
# The local cluster's workers, measured on 2 cores (BUILD_NOTES, issue 29):
# * no statistical profiler: it samples every thread's stack every 10 ms,
#   taking the GIL from the decode threads;
# * the parent's environment, as the threaded path and the DirectRunner's
#   workers have it: the nanny otherwise sets OMP_NUM_THREADS=1 (and
#   MKL_, OPENBLAS_) and MALLOC_TRIM_THRESHOLD_=65536 in each worker, and
#   wrote 30% fewer crops/s (140 vs 194-208 at 75 px).
# Workers of a named scheduler take the same settings from their own
# environment (README: DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False ...).
WORKER_CONFIG = {"distributed.worker.profile.enabled": False,
                 "distributed.nanny.pre-spawn-environ": {}}
_ADDRESS_OPTION = "--dask_client_address"
_TIMEOUT_OPTION = "--dask_connection_timeout"
_PARTITION_OPTIONS = ("--dask_npartitions", "--dask_partition_size")


def _require_dask() -> None:
  if distributed is None:
    raise ImportError("runner='DaskRunner' needs Dask, an extra: pip install"
                      f" -e '.[dask]' ({_MISSING})")


class SchedulerUnreachableError(ConnectionError):
  """The Dask scheduler did not answer (or is no scheduler)."""


def is_dask(runner: str | None) -> bool:
  return runner in (RUNNER, RUNNER_PATH)


def _option(options: Sequence[str], name: str) -> str | None:
  """The value of ``--name=value`` in ``options`` (the last one), or None."""
  value = None
  for option in options:
    if option.startswith(name + "="):
      value = option.split("=", 1)[1]
  return value


def scheduler_address(dask_scheduler: str | None,
                      options: Sequence[str]) -> str | None:
  """The scheduler named by the keyword or by Beam's own option, or None.

  Raises:
    ValueError: both name one, and differ.
  """
  in_options = _option(options, _ADDRESS_OPTION)
  if dask_scheduler and in_options and in_options != dask_scheduler:
    raise ValueError(f"dask_scheduler={dask_scheduler!r} and beam_options"
                     f" {_ADDRESS_OPTION}={in_options} name two schedulers")
  return dask_scheduler or in_options


def connect_timeout_s(options: Sequence[str]) -> float:
  value = _option(options, _TIMEOUT_OPTION)
  return float(value) if value is not None else DEFAULT_CONNECT_TIMEOUT_S


def check_scheduler(address: str, timeout_s: float) -> dict:
  """Asks the scheduler at ``address`` who it is, waiting ``timeout_s``.

  Returns:
    Its identity (``n_workers``, ``total_threads``, ...).

  Raises:
    SchedulerUnreachableError: no answer in time (nothing listens, or
      something listens and never replies), or the answer is not a
      scheduler's; the message names ``address``.
  """
  _require_dask()

  async def identity():
    remote = distributed_core.rpc(address, timeout=timeout_s)
    try:
      return await remote.identity()
    finally:
      await remote.close_rpc()

  async def bounded():
    return await asyncio.wait_for(identity(), timeout_s)

  try:
    found = asyncio.run(bounded())
  except (OSError, asyncio.TimeoutError, ValueError) as e:
    raise SchedulerUnreachableError(
        f"Dask scheduler {address} did not answer within {timeout_s:g} s"
        f" ({type(e).__name__}: {e or 'no reply'}). Is the scheduler"
        " running, and is the address (tcp://host:port) the one it printed?"
        f" A slower network: beam_options {_TIMEOUT_OPTION}=SECONDS") from e
  if found.get("type") != "Scheduler":
    raise SchedulerUnreachableError(
        f"{address} answered as a {found.get('type')!r}, not a Dask"
        " scheduler: name the scheduler's address")
  return found


@contextlib.contextmanager
def scheduler(address: str | None, local_workers: int | None,
              timeout_s: float) -> Iterator[str]:
  """Yields the address of a Dask scheduler that answers.

  Args:
    address: A running scheduler, or None to start a ``LocalCluster`` of
      ``local_workers`` worker processes on 127.0.0.1 (closed on exit).
    local_workers: Its worker processes (None: ``DEFAULT_LOCAL_WORKERS``);
      each runs one file at a time (the file writer has its own threads).
    timeout_s: How long a named scheduler may take to answer.

  Raises:
    SchedulerUnreachableError: ``address`` does not answer in time.
    ImportError: Dask is not installed.
  """
  _require_dask()
  if address is not None:
    found = check_scheduler(address, timeout_s)
    logging.info("Dask scheduler %s: %d workers, %d threads", address,
                 found.get("n_workers", 0), found.get("total_threads", 0))
    if not found.get("n_workers"):
      logging.warning("Dask scheduler %s has no worker yet: the files wait"
                      " until workers join (queued batch jobs?)", address)
    yield address
    return
  workers = DEFAULT_LOCAL_WORKERS if local_workers is None else local_workers
  # processes=True: separate worker processes that talk to the scheduler
  # over TCP, as on a cluster. No dashboard (it would need bokeh and a port).
  with dask.config.set(WORKER_CONFIG), distributed.LocalCluster(
      n_workers=workers, threads_per_worker=1, processes=True,
      host="127.0.0.1", dashboard_address=None) as cluster:
    logging.info("Dask: local cluster of %d worker processes at %s", workers,
                 cluster.scheduler_address)
    yield cluster.scheduler_address


def beam_flags(address: str, num_files: int,
               options: Sequence[str]) -> list[str]:
  """Beam's options for the Dask runner at ``address``; ``options`` last.

  One partition per file unless ``options`` choose the partitions: a
  partition is one task, run by one worker process.
  """
  flags = [f"--runner={RUNNER_PATH}", f"{_ADDRESS_OPTION}={address}"]
  if not any(o.startswith(_PARTITION_OPTIONS) for o in options):
    flags.append(f"--dask_npartitions={num_files}")
  return flags + [o for o in options if not o.startswith(_ADDRESS_OPTION)]
