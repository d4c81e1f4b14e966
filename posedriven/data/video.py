"""Streaming RGB frame sources: OpenCV video decode and image sequences.

A Full-HD NTU clip is ~600 MB as uint8, so nothing here holds a whole clip:
frames are decoded one at a time and handed on. Frames that are not needed are
skipped with ``VideoCapture.grab()``, which demuxes and decodes but skips the
colour conversion and the copy into a numpy array that ``read()`` pays for.

Two sources share one interface (``num_frames``, ``size``, ``fps``,
``read_frames(frame_indices)``, iteration, context manager):

* :class:`VideoReader` decodes a video file (NTU ``*_rgb.avi``, MSR, the
  synthetic MJPG AVIs).
* :class:`ImageSequenceReader` reads one image file per frame (SBU's
  ``rgb_000001.png`` ...).

All frames are RGB ``uint8 [H, W, 3]``.
"""

from __future__ import annotations

import abc
import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from posedriven.data.formats import file_guards


class VideoError(ValueError):
  """A frame source cannot be read; the message names the file."""


def _check_indices(frame_indices: Iterable[int] | None, path) -> list[int] | None:
  if frame_indices is None:
    return None
  indices = [int(i) for i in np.asarray(frame_indices).reshape(-1)]
  if any(i < 0 for i in indices):
    raise ValueError(f"{path}: negative frame index in {indices}")
  if any(b < a for a, b in zip(indices, indices[1:])):
    # Decoding is sequential; going back would mean re-opening the stream.
    raise ValueError(
        f"{path}: frame indices must be non-decreasing (decoding is"
        f" sequential), got {indices}")
  return indices


class _FrameReader(abc.ABC):
  """What both readers share: RGB or BGR frames from ``_bgr_frames``."""

  path: Path

  @abc.abstractmethod
  def _bgr_frames(self, indices: list[int] | None,
                  destination: Callable[[], np.ndarray | None] | None = None
                  ) -> Iterator[tuple[int, np.ndarray]]:
    """Yields ``(index, BGR frame)``; a repeated index yields the same array.

    ``destination()``, when given, may return the array to decode the next
    frame into (a reader that cannot decode in place ignores it).
    """

  def __iter__(self) -> Iterator[np.ndarray]:
    for _, frame in self.read_frames():
      yield frame

  def read_frames(self, frame_indices: Sequence[int] | None = None, *,
                  rgb: bool = True) -> Iterator[tuple[int, np.ndarray]]:
    """Yields ``(frame_index, frame)`` for the requested frames, in order.

    Can be called once per ``open()`` (decoding only goes forward).

    Args:
      frame_indices: Non-decreasing 0-based indices; repeats yield the same
        frame again. ``None`` yields every frame.
      rgb: Convert to RGB. ``False`` yields OpenCV's BGR frames decoded into
        one reused buffer: each yielded array is overwritten by the next
        frame, so copy what you keep. It skips a whole-frame conversion and
        a 6 MB allocation per Full-HD frame, for callers that only keep
        small crops (``glimpse_crops.patch_chunks``).

    Yields:
      ``(index, uint8 [H, W, 3])``. If the stream ends early (a truncated
      file, or indices past the end) the missing frames are not yielded and a
      warning names the file. The last frame of a cut AVI is damaged and not
      yielded either.

    Raises:
      VideoError: the reader is not open or was already consumed.
    """
    buffer: np.ndarray | None = None
    last_index, frame = -1, None
    for index, bgr in self._bgr_frames(
        _check_indices(frame_indices, self.path),
        None if rgb else lambda: buffer):
      if frame is not None and bgr.shape != frame.shape:
        # Hand positions are scaled to the first frame's size.
        raise VideoError(
            f"{self.path}: frame {index} is {bgr.shape[1]}x{bgr.shape[0]},"
            f" earlier frames {frame.shape[1]}x{frame.shape[0]}")
      if not rgb:
        if buffer is None:
          # Frame 0 comes from open(); later frames decode into one buffer.
          buffer = np.empty_like(bgr)
        frame = bgr
      elif index != last_index:  # a repeated index reuses the converted frame
        frame = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
      last_index = index
      yield index, frame


class VideoReader(_FrameReader):
  """Sequential OpenCV decode of one video file, one frame in memory at a time.

  Usage::

    with VideoReader(path) as video:
      for frame_index, frame in video.read_frames([0, 5, 5, 9]):
        ...   # frame: uint8 [H, W, 3] RGB

  Opening decodes the first frame, so an undecodable file fails at ``open``
  rather than half-way through a pipeline.

  Attributes:
    path: The video file.
    num_frames: Frame count stored in the container. It may be wrong
      (truncated files, bad headers); the frames that really decode are what
      :meth:`read_frames` yields.
    size: ``(width, height)`` of the decoded frames.
    fps: Frame rate from the container (0.0 if unknown).
    frames_decoded: Frames decoded so far by the last :meth:`read_frames`.
    decode_threads: FFmpeg decoding threads for this file (None: OpenCV's
      default, one per core). One thread costs ~8% less CPU per H.264 frame
      (BUILD_NOTES), which matters when decoding shares the cores with the
      glimpse sensor.
    threads_in_use: FFmpeg's decoding threads for this file, as OpenCV
      reports them once open (0 if the backend does not say).
    missing_bytes: How much shorter the file is than its RIFF (AVI) header
      says: > 0 for a cut copy. A cut file's last frame decodes with garbage
      where its data is missing, so :meth:`read_frames` drops it (logged).
  """

  def __init__(self, path: str | os.PathLike, *,
               decode_threads: int | None = None):
    self.path = Path(path)
    self.decode_threads = decode_threads
    self._capture: cv2.VideoCapture | None = None
    self._first: np.ndarray | None = None
    self.num_frames = 0
    self.size = (0, 0)
    self.fps = 0.0
    self.threads_in_use = 0
    self.frames_decoded = 0
    self.missing_bytes = 0

  def open(self) -> VideoReader:
    """Opens the file and decodes its first frame.

    Raises:
      VideoError: the path is missing or not a regular file (a FIFO, a
        directory, a symlink loop: ``file_guards.file_problem``), the file is
        empty, or it has no decodable frame.
    """
    problem = file_guards.file_problem(self.path)
    if problem is not None:
      # A FIFO would block OpenCV forever; say what the path really is.
      raise VideoError(f"{self.path}: cannot read video file: it {problem}")
    if self.path.stat().st_size == 0:
      raise VideoError(f"{self.path}: video file is empty (0 bytes)")
    params = ([] if self.decode_threads is None else
              [cv2.CAP_PROP_N_THREADS, int(self.decode_threads)])
    capture = cv2.VideoCapture(str(self.path), cv2.CAP_ANY, params)
    if not capture.isOpened():
      capture.release()
      raise VideoError(
          f"{self.path}: not a decodable video (OpenCV cannot open it)")
    ok, first = capture.read()
    if not ok or first is None:
      capture.release()
      raise VideoError(
          f"{self.path}: not a decodable video (no frame could be decoded)")
    self._capture = capture
    self._first = first
    self.num_frames = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    self.fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    self.threads_in_use = int(capture.get(cv2.CAP_PROP_N_THREADS) or 0)
    self.size = (int(first.shape[1]), int(first.shape[0]))
    self.missing_bytes = _riff_missing_bytes(self.path)
    return self

  def close(self) -> None:
    if self._capture is not None:
      self._capture.release()
    self._capture = None
    self._first = None

  def __enter__(self) -> VideoReader:
    return self.open()

  def __exit__(self, *exc) -> None:
    self.close()

  def _bgr_frames(self, indices: list[int] | None,
                  destination: Callable[[], np.ndarray | None] | None = None
                  ) -> Iterator[tuple[int, np.ndarray]]:
    if self._capture is None:
      raise VideoError(f"{self.path}: reading frames of a closed VideoReader")
    capture, first = self._capture, self._first
    self._first = None
    if first is None:
      raise VideoError(f"{self.path}: frames can only be read once per open()")
    wanted = iter(indices) if indices is not None else None
    target = next(wanted, None) if wanted is not None else 0
    current, frame_bgr = 0, first  # frame 0 is already decoded by open().
    # Frame current + 1 is grabbed before frame current is handed out: in a
    # cut file, the frame after which the stream ends is damaged.
    ahead = False
    self.frames_decoded = 1
    while target is not None:
      while current < target:
        if not (ahead or capture.grab()):
          self._report_end(current + 1, indices)
          return
        ahead = False
        current += 1
        self.frames_decoded = current + 1
        frame_bgr = None
      if frame_bgr is None:
        out = destination() if destination is not None else None
        ok, frame_bgr = capture.retrieve(out)
        if not ok:
          self.frames_decoded = current
          self._report_end(current, indices)
          return
      if not ahead:
        ahead = capture.grab()
        if not ahead and self.missing_bytes:
          self.frames_decoded = current
          logging.warning(
              "%s: the file is cut (%d bytes short of its header); dropping"
              " frame %d, the last that decodes, which the cut damages: %d of"
              " %d frames (container count) remain", self.path,
              self.missing_bytes, current, current, self.num_frames)
          return
      if wanted is None:
        yield current, frame_bgr
        target = current + 1
      else:
        # Repeated indices reuse the decoded frame.
        while target == current:
          yield current, frame_bgr
          target = next(wanted, None)

  def _report_end(self, decoded: int, indices: list[int] | None) -> None:
    if indices is None:
      if self.num_frames and decoded < self.num_frames:
        logging.warning(
            "%s: only %d of %d frames (container count) decode; the file is"
            " truncated or its header is wrong", self.path, decoded,
            self.num_frames)
      return
    logging.warning(
        "%s: the stream ends after %d frames (container says %d); requested"
        " frames up to %d are missing", self.path, decoded, self.num_frames,
        indices[-1])


def _riff_missing_bytes(path: Path) -> int:
  """Bytes a RIFF (AVI) file lacks against its header's size; 0 otherwise.

  OpenDML AVIs over 1 GB continue past the first RIFF chunk, so only a
  shortfall counts.
  """
  with open(path, "rb") as f:
    header = f.read(12)
  if len(header) < 12 or header[:4] != b"RIFF":
    return 0
  declared = int.from_bytes(header[4:8], "little") + 8
  return max(declared - path.stat().st_size, 0)


class ImageSequenceReader(_FrameReader):
  """One image file per frame, read lazily (SBU's ``rgb_NNNNNN.png``).

  Same interface as :class:`VideoReader`; ``num_frames`` is the number of
  paths given. A missing or unreadable image ends the stream with a warning,
  like a truncated video.
  """

  def __init__(self, paths: Sequence[str | os.PathLike], fps: float = 0.0):
    self.paths = [Path(p) for p in paths]
    self.path = self.paths[0].parent if self.paths else Path(".")
    self.num_frames = len(self.paths)
    self.size = (0, 0)
    self.fps = fps
    self.frames_decoded = 0
    self._first: np.ndarray | None = None

  def open(self) -> ImageSequenceReader:
    """Reads the first image.

    Raises:
      VideoError: no paths, or the first image is missing or undecodable.
    """
    if not self.paths:
      raise VideoError(f"{self.path}: image sequence has no frames")
    self._first = self._load(0)
    if self._first is None:
      raise VideoError(
          f"{self.paths[0]}: first frame of the image sequence is missing or"
          " not a decodable image")
    self.size = (int(self._first.shape[1]), int(self._first.shape[0]))
    return self

  def close(self) -> None:
    self._first = None

  def __enter__(self) -> ImageSequenceReader:
    return self.open()

  def __exit__(self, *exc) -> None:
    self.close()

  def _load(self, index: int) -> np.ndarray | None:
    if index >= len(self.paths) or not self.paths[index].is_file():
      return None
    return cv2.imread(str(self.paths[index]), cv2.IMREAD_COLOR)

  def _bgr_frames(self, indices: list[int] | None,
                  destination: Callable[[], np.ndarray | None] | None = None
                  ) -> Iterator[tuple[int, np.ndarray]]:
    del destination  # imread cannot decode in place
    if indices is None:
      indices = list(range(self.num_frames))
    loaded_index, loaded = (0, self._first) if self._first is not None else (
        -1, None)
    self._first = None
    for index in indices:
      if index != loaded_index:
        loaded_index, loaded = index, self._load(index)
      if loaded is None:
        where = (self.paths[index] if index < len(self.paths) else
                 f"frame {index} of {self.num_frames}")
        logging.warning("%s: image sequence ends at frame %d (%s missing or"
                        " unreadable)", self.path, index, where)
        return
      self.frames_decoded = index + 1
      yield index, loaded


FrameSource = VideoReader | ImageSequenceReader


def open_source(source: str | os.PathLike | Sequence[str | os.PathLike], *,
                decode_threads: int | None = None) -> FrameSource:
  """A closed reader for a video path or a list of image paths."""
  if isinstance(source, (str, os.PathLike)):
    return VideoReader(source, decode_threads=decode_threads)
  return ImageSequenceReader(list(source))
