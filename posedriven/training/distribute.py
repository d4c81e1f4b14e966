"""tf.distribute strategies, chosen by name at the edge (binaries, gin).

Multi-worker training (``MultiWorkerMirroredStrategy``) has two rules that
shape the training stages:

* The strategy configures collective ops in the TensorFlow context, which
  is only possible before any other TensorFlow op ran in the process: a
  stage creates it before reading any data (:func:`get_strategy` says so
  when this was missed).
* Every worker runs the same program, but only the chief writes the run
  directory: the others write to a worker-local temporary directory that is
  removed at the end, or by the next worker if this one was killed
  (:func:`write_dir`), and all of them resume from the chief's backup (a
  run directory on storage every worker reads).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def check_strategy(name: str) -> None:
  """Raises ValueError naming ``strategy`` unless ``name`` is known."""
  if name not in STRATEGIES:
    raise ValueError(
        f"strategy must be one of {', '.join(STRATEGIES)}; got {name!r}")


def parse_tf_config() -> dict[str, Any]:
  """The ``TF_CONFIG`` cluster spec of a multi-worker run.

  Raises:
    ValueError: ``TF_CONFIG`` is unset, not JSON, or lacks the cluster's
      workers or this task's type and index (the message says which).
  """
  config = os.environ.get("TF_CONFIG")
  if not config:
    raise ValueError("strategy 'multi_worker' needs the TF_CONFIG "
                     "environment variable (cluster and task), e.g. "
                     '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
                     '"task": {"type": "worker", "index": 0}}')
  try:
    parsed = json.loads(config)
  except ValueError as e:
    raise ValueError(f"TF_CONFIG is not JSON ({e}): {config!r}") from None
  if not isinstance(parsed, dict):
    raise ValueError(f"TF_CONFIG is not a JSON object: {config!r}")
  cluster, task = parsed.get("cluster"), parsed.get("task")
  if not isinstance(cluster, dict) or not (
      cluster.get("worker") or cluster.get("chief")):
    raise ValueError(f"TF_CONFIG has no cluster.worker list: {config!r}")
  if not isinstance(task, dict) or "type" not in task or "index" not in task:
    raise ValueError(f"TF_CONFIG has no task type and index: {config!r}")
  tasks = cluster.get(task["type"])
  if not isinstance(tasks, list) or not (
      isinstance(task["index"], int) and 0 <= task["index"] < len(tasks)):
    raise ValueError(f"TF_CONFIG task {task} is not in the cluster "
                     f"{cluster}")
  return parsed


def get_strategy(name: str = "default",
                 tpu_address: str | None = None) -> tf.distribute.Strategy:
  """Returns the strategy that runs training on the available devices.

  Args:
    name: ``default`` (one device), ``mirrored`` (all local GPUs, or all
      logical CPUs), ``multi_worker`` (several processes or machines; reads
      ``TF_CONFIG``; call this before any other TensorFlow op), ``tpu``.
    tpu_address: TPU name or grpc address for ``tpu`` ('' = local TPU VM).

  Raises:
    ValueError: unknown name, or ``multi_worker`` without a valid TF_CONFIG.
    RuntimeError: ``multi_worker`` after TensorFlow already ran an op.
  """
  check_strategy(name)
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker":
    parse_tf_config()
    try:
      return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as e:
      raise RuntimeError(
          "strategy 'multi_worker' must be created before any other "
          f"TensorFlow op runs in the process ({e}); create it first "
          "(the training stages do)") from e
  resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
      tpu=tpu_address or "")
  tf.config.experimental_connect_to_cluster(resolver)
  tf.tpu.experimental.initialize_tpu_system(resolver)
  return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy: tf.distribute.Strategy | None = None) -> bool:
  """True on the worker that writes the run directory and TensorBoard.

  In one process (no ``TF_CONFIG``, or a ``strategy`` of one worker) that
  is this process; in a cluster, the ``chief`` task, or worker 0 when the
  cluster has no chief.
  """
  if strategy is not None and num_workers(strategy) == 1:
    return True
  if not os.environ.get("TF_CONFIG"):
    return True
  parsed = parse_tf_config()
  task, cluster = parsed["task"], parsed["cluster"]
  if task["type"] == "chief":
    return True
  return ("chief" not in cluster and task["type"] == "worker"
          and task["index"] == 0)


def num_workers(strategy: tf.distribute.Strategy) -> int:
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not isinstance(
      strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return 1
  spec = resolver.cluster_spec().as_dict()
  return sum(len(spec.get(job, ())) for job in ("chief", "worker"))


def barrier(strategy: tf.distribute.Strategy) -> None:
  """Waits until every worker reaches this point (one tiny all-reduce).

  Used where a worker must not read the run directory before the chief has
  prepared it. A no-op in one process.
  """
  if num_workers(strategy) > 1:
    strategy.reduce(tf.distribute.ReduceOp.SUM,
                    strategy.run(lambda: tf.constant(1.0)), axis=None)


WORKER_DIR_PREFIX = "posedriven-worker-"
# Held (flock) by the worker that owns the directory. The kernel releases it
# when that process dies, however it dies: SIGKILL runs no ``finally``, so a
# worker directory whose lock is free is an orphan.
_OWNER_LOCK = "owner.lock"


def _lock_new_worker_dir(local: Path) -> int:
  """Creates and locks ``local``'s owner lock; returns its descriptor.

  The lock is taken under another name and renamed into place, so that
  :func:`remove_orphaned_worker_dirs` never finds the lock file unlocked
  while its owner lives.
  """
  pending = local / (_OWNER_LOCK + ".pending")
  fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
  fcntl.flock(fd, fcntl.LOCK_EX)
  os.rename(pending, local / _OWNER_LOCK)
  return fd


def remove_orphaned_worker_dirs(parent: str | os.PathLike) -> list[Path]:
  """Removes the worker directories in ``parent`` whose worker is dead.

  A directory whose owner lock is held, or that has no lock yet (its
  worker is starting), is left alone.

  Returns:
    The directories removed.
  """
  removed = []
  for local in sorted(Path(parent).glob(WORKER_DIR_PREFIX + "*")):
    try:
      fd = os.open(local / _OWNER_LOCK, os.O_RDONLY)
    except OSError:  # starting, finishing, or not ours to open
      continue
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # its worker lives
      os.close(fd)
      continue
    try:
      shutil.rmtree(local, ignore_errors=True)
    finally:
      os.close(fd)
    logging.info("Removed %s, left by a worker that was killed", local)
    removed.append(local)
  return removed


@contextlib.contextmanager
def write_dir(output_dir: str | os.PathLike, chief: bool) -> Iterator[Path]:
  """Where this worker writes: ``output_dir`` on the chief, else a temp dir.

  A non-chief worker still saves (as the chief does: the code paths stay
  the same on every worker) but into a worker-local directory, removed when
  the block ends, however it ends. A worker killed by SIGKILL cannot remove
  it; the next non-chief worker started with the same temporary directory
  (e.g. the rerun) removes it (:func:`remove_orphaned_worker_dirs`).
  """
  if chief:
    yield Path(output_dir)
    return
  parent = tempfile.gettempdir()
  remove_orphaned_worker_dirs(parent)
  local = Path(tempfile.mkdtemp(prefix=WORKER_DIR_PREFIX, dir=parent))
  lock = _lock_new_worker_dir(local)
  logging.info("Not the chief: writing to %s (removed at the end)", local)
  try:
    yield local
  finally:
    shutil.rmtree(local, ignore_errors=True)
    os.close(lock)
