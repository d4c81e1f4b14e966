"""Helpers shared by several test packages.

Prepared files, training backups, synthetic ground truth, logs, processes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Sequence

from absl import flags
import cv2
import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import plugin_data_pb2

from posedriven.data import glimpse_crops
from posedriven.data import tfrecords
from posedriven.data.synthetic import motion as synthetic_motion
from posedriven.data.synthetic import render as synthetic_render
from posedriven.training import loop

REPO_ROOT = Path(__file__).resolve().parents[1]


def tfrecord_bytes(directory: str | os.PathLike) -> dict[str, bytes]:
  """``{file name: bytes}`` of every finished TFRecord file in ``directory``."""
  return {p.name: p.read_bytes()
          for p in sorted(Path(directory).glob("*.tfrecord"))}


def read_records(path: str | os.PathLike) -> list[dict[str, np.ndarray]]:
  """All clips of one TFRecord file, parsed to numpy (small files)."""
  return [
      {k: v.numpy() for k, v in tfrecords.parse_clip(record).items()}
      for record in tf.data.TFRecordDataset(str(path))
  ]


def records_by_name(directory: str | os.PathLike
                    ) -> dict[str, dict[str, object]]:
  """Every record of every TFRecord file, by clip name.

  Raises:
    AssertionError: a clip is written twice.
  """
  records = {}
  for path in sorted(Path(directory).glob("*.tfrecord")):
    for record in read_records(path):
      name = record["name"].decode()
      assert name not in records, f"{name} written twice ({path.name})"
      records[name] = record
  return records


def backup_model_path(output_dir: str | os.PathLike) -> Path | None:
  """The model file of ``loop.fit_resumable``'s last complete backup.

  None before the first.
  """
  state_path = Path(output_dir) / "backup" / "state.json"
  if not state_path.exists():
    return None
  return state_path.parent / loop.LoopState.load(state_path).model


def event_files(logdir: str | os.PathLike) -> list[Path]:
  return sorted(Path(logdir).rglob("events.out.tfevents.*"))


def summaries(logdir: str | os.PathLike) -> dict[str, list[tuple[int, str]]]:
  """``{tag: [(step, plugin name), ...]}`` of every event file, read back."""
  found: dict[str, list[tuple[int, str]]] = {}
  for path in event_files(logdir):
    for event in tf.compat.v1.train.summary_iterator(str(path)):
      for value in event.summary.value:
        found.setdefault(value.tag, []).append(
            (event.step, value.metadata.plugin_data.plugin_name))
  return found


def hparams(logdir: str | os.PathLike) -> dict[str, Any]:
  """The hyper-parameters of the HParams dashboard's session in ``logdir``."""
  for path in event_files(logdir):
    for event in tf.compat.v1.train.summary_iterator(str(path)):
      for value in event.summary.value:
        if value.tag == "_hparams_/session_start_info":
          data = plugin_data_pb2.HParamsPluginData.FromString(
              value.metadata.plugin_data.content)
          return {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
                  for k, v in data.session_start_info.hparams.items()}
  return {}


class ObjectBox(NamedTuple):
  """A drawn object: hand index, object id, box ``(x0, y0, x1, y1)`` px."""

  hand: int
  object_id: int
  box: tuple[int, int, int, int]


def decoded_frames(path: str | os.PathLike) -> list[np.ndarray]:
  """Every frame of a video as OpenCV decodes it (BGR uint8)."""
  capture = cv2.VideoCapture(str(path))
  assert capture.isOpened(), path
  frames = []
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    frames.append(frame)
  capture.release()
  return frames


def shows_object_at(hands: np.ndarray, present: np.ndarray, crop: float,
                    image_size: tuple[int, int], hand: int) -> bool:
  """Whether the renderer may draw ``hand``'s object on the 5x5 pixels
  around it, in a frame with hand pixels ``hands`` ``[4, 2]``: it cuts a
  card out of the JPEG blocks other crops read (``render.object_allowed``);
  the extra pixel each way absorbs the rounding of positions read back
  from a skeleton file."""
  y0, x0, side, valid = glimpse_crops.pixel_boxes(
      np.asarray(hands, float)[None], np.asarray(present, bool)[None], crop,
      image_size)
  allowed = synthetic_render.object_allowed(
      (image_size[1], image_size[0]), hand, y0[0], x0[0], side[0], valid[0])
  x, y = np.round(hands[hand]).astype(int)
  return bool(allowed[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3].all())


def object_boxes(clip_meta: dict[str, Any], frame: int,
                 object_size: int) -> list[ObjectBox]:
  """Ground truth: the objects visible in ``frame`` and their pixel boxes.

  Args:
    clip_meta: ``load_meta(root)["clips"][name]``.
    frame: 0-based frame index.
    object_size: ``load_meta(root)["object_size_px"]``.

  Returns:
    One :class:`ObjectBox` per hand holding a visible object, in drawing
    order: a later box covers an earlier one where they overlap. Boxes are
    inclusive pixel bounds (they may extend past the image edge).
  """
  if not 0 <= frame < clip_meta["num_frames"]:
    raise IndexError(
        f"{clip_meta['name']}: frame {frame} out of range"
        f" 0..{clip_meta['num_frames'] - 1}")
  half = object_size // 2
  boxes = []
  for hand in clip_meta["draw_order"]:
    info = clip_meta["hands"][hand]
    start, stop = info["frames"]
    if (info["object"] == synthetic_motion.NO_OBJECT
        or not start <= frame < stop):
      continue
    x, y = clip_meta["hand_xy_px"][frame][hand]
    boxes.append(ObjectBox(hand, info["object"],
                           (x - half, y - half, x + half, y + half)))
  return boxes


class LogRecords(logging.Handler):
  """Collects log records (stdlib and absl) while installed."""

  def __init__(self):
    super().__init__(logging.DEBUG)
    self.records: list[logging.LogRecord] = []

  def emit(self, record):
    self.records.append(record)

  def messages(self, *words: str, level: int = logging.INFO) -> list[str]:
    """Messages at ``level`` or above that contain every one of ``words``."""
    return [r.getMessage() for r in self.records
            if r.levelno >= level and all(w in r.getMessage() for w in words)]


@contextlib.contextmanager
def capture_logs(level: int = logging.INFO) -> Iterator[LogRecords]:
  """Like pytest's ``caplog``, usable in fixtures of any scope."""
  handler = LogRecords()
  root = logging.getLogger()
  # absl's logger has its own level, which parsing absl flags (a binary's
  # main() called by an earlier test) resets to WARNING.
  absl_logger = logging.getLogger("absl")
  previous = root.level, absl_logger.level
  root.addHandler(handler)
  root.setLevel(level)
  absl_logger.setLevel(level)
  try:
    yield handler
  finally:
    root.removeHandler(handler)
    root.setLevel(previous[0])
    absl_logger.setLevel(previous[1])


def python_command(code: str, *args: str) -> list[str]:
  return [sys.executable, "-c", code, *args]


def subprocess_env() -> dict[str, str]:
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
  env["PYTHONPATH"] = os.pathsep.join(
      [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(
          os.pathsep) if p])
  return env


def run_until_killed(command: Sequence[str],
                     condition: Callable[[], bool] | None = None, *,
                     timeout_s: float = 240.0,
                     poll_s: float = 0.005) -> subprocess.CompletedProcess:
  """Runs ``command`` until SIGKILL ends it and returns what it printed.

  Args:
    command: The process; it may SIGKILL itself (a hook at an exact code
      point), or be killed here.
    condition: Polled every ``poll_s``; when it holds, the process gets a
      SIGKILL from outside. None: the process must kill itself.
    timeout_s: A hung process is killed and reported as a failure.

  Raises:
    AssertionError: the process ended any other way (finished, crashed, or
      timed out): the kill point was never reached.
  """
  with subprocess.Popen(command, cwd=REPO_ROOT, env=subprocess_env(),
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        text=True) as process:
    deadline = time.monotonic() + timeout_s
    while process.poll() is None:
      if time.monotonic() > deadline:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"no kill after {timeout_s} s:\n{output[-3000:]}")
      if condition is not None and condition():
        process.send_signal(signal.SIGKILL)
        break
      time.sleep(poll_s)
    output, _ = process.communicate()
  assert process.returncode == -signal.SIGKILL, (
      f"expected death by SIGKILL, got exit code {process.returncode}:\n"
      f"{output[-3000:]}")
  return subprocess.CompletedProcess(command, process.returncode, output)


def write_video_rgb(path: Path, frames_rgb: list[np.ndarray],
                    fps: float = 30.0) -> Path:
  """An MJPG AVI, like the synthetic set's and OpenCV's default writer."""
  height, width = frames_rgb[0].shape[:2]
  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps,
                           (width, height))
  for frame in frames_rgb:
    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
  writer.release()
  return path


def shuffle_training_labels(data_dir: Path, out: Path) -> Path:
  """A copy of ``data_dir`` whose training clips carry permuted labels."""
  shutil.copytree(data_dir, out)
  files = sorted(out.glob("train-*.tfrecord"))
  clips = {path: [tfrecords.to_clip(r) for r in read_records(path)]
           for path in files}
  labels = iter(np.random.default_rng(0).permutation(
      [c.label for path in files for c in clips[path]]))
  for path in files:
    with tf.io.TFRecordWriter(str(path)) as writer:
      for clip in clips[path]:
        writer.write(tfrecords.serialize_clip(
            dataclasses.replace(clip, label=int(next(labels)))))
  return out


@contextlib.contextmanager
def imported_alone(module_name: str) -> Iterator[object]:
  """Imports a binary (``tools.x``) as if no other were loaded, then undoes it.

  The binaries define flags of the same names (``--output_dir``,
  ``--gin_files``) in absl's one ``FLAGS``, which refuses a second
  definition from another module: the flags of binaries imported before
  (other tests import ``tools.prepare_data``) are set aside meanwhile.
  """
  fv = flags.FLAGS
  set_aside = [(module, flag) for module, module_flags
               in fv.flags_by_module_dict().items()
               if module.startswith("tools.") for flag in module_flags]
  for _, flag in set_aside:
    delattr(fv, flag.name)
  package = importlib.import_module("tools")
  attribute = module_name.rpartition(".")[2]
  old_module = sys.modules.pop(module_name, None)
  old_attribute = package.__dict__.pop(attribute, None)
  before = set(fv)
  try:
    yield importlib.import_module(module_name)
  finally:
    for name in set(fv) - before:
      delattr(fv, name)
    for module, flag in set_aside:
      fv[flag.name] = flag
      fv.register_flag_by_module(module, flag)
    sys.modules.pop(module_name, None)
    package.__dict__.pop(attribute, None)
    if old_module is not None:
      sys.modules[module_name] = old_module
      setattr(package, attribute, old_module)


def forget_module(monkeypatch, module_name: str) -> None:
  """Makes the next ``import`` of ``module_name`` run its code again.

  Module-level code (a deprecated module's warning) runs only on the first
  import; this removes the module from ``sys.modules`` and its package for
  the test, and ``monkeypatch`` puts the loaded one back afterwards.
  """
  package_name, _, attribute = module_name.rpartition(".")
  package = importlib.import_module(package_name)
  monkeypatch.delitem(sys.modules, module_name, raising=False)
  monkeypatch.delattr(package, attribute, raising=False)
