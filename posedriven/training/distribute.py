"""tf.distribute strategies, chosen by name at the edge (binaries, gin)."""

from __future__ import annotations

import json
import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def check_strategy(name: str) -> None:
  """Raises ValueError naming ``strategy`` unless ``name`` is known."""
  if name not in STRATEGIES:
    raise ValueError(
        f"strategy must be one of {', '.join(STRATEGIES)}; got {name!r}")


def get_strategy(name: str = "default",
                 tpu_address: str | None = None) -> tf.distribute.Strategy:
  """Returns the strategy that runs training on the available devices.

  Args:
    name: ``default`` (one device), ``mirrored`` (all local GPUs, or all
      logical CPUs), ``multi_worker`` (several machines; reads ``TF_CONFIG``),
      ``tpu``.
    tpu_address: TPU name or grpc address for ``tpu`` ('' = local TPU VM).

  Raises:
    ValueError: unknown name, or ``multi_worker`` without a valid TF_CONFIG.
  """
  check_strategy(name)
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker":
    config = os.environ.get("TF_CONFIG")
    if not config:
      raise ValueError("strategy 'multi_worker' needs the TF_CONFIG "
                       "environment variable (cluster and task)")
    try:
      parsed = json.loads(config)
      parsed["cluster"]["worker"]
      parsed["task"]["index"]
    except (ValueError, KeyError, TypeError) as e:
      raise ValueError(f"TF_CONFIG is not a valid cluster spec: {e}") from e
    return tf.distribute.MultiWorkerMirroredStrategy()
  resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
      tpu=tpu_address or "")
  tf.config.experimental_connect_to_cluster(resolver)
  tf.tpu.experimental.initialize_tpu_system(resolver)
  return tf.distribute.TPUStrategy(resolver)


def is_chief() -> bool:
  """True on the worker that writes summaries, checkpoints and reports."""
  config = os.environ.get("TF_CONFIG")
  if not config:
    return True
  parsed = json.loads(config)
  task, cluster = parsed.get("task", {}), parsed.get("cluster", {})
  if task.get("type") == "chief":
    return True
  return ("chief" not in cluster and task.get("type", "worker") == "worker"
          and int(task.get("index", 0)) == 0)
