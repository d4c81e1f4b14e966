"""Static-size crops around the 4 hands (paper, sections 3.1 and 4).

The glimpse sensor looks at square crops of a fixed size *in source pixels*
(50x50 in the Full-HD NTU frame, 100x100 in the 640x480 SBU / MSR frames),
centred on each hand joint, later resized to the sensor's input size. This
module is the one crop function used by dataset preparation, export and
prediction.

Cropping is two steps: :func:`cut_patches` copies a few pixels more than each
box out of the decoded frame (NumPy, next to the decoder, so whole frames
never travel further), and :func:`resize_patches` resamples the boxes with
``tf.image.crop_and_resize`` (TensorFlow, on the GPU when there is one).
:func:`crop_hands` is both; :func:`patch_chunks` runs the first over a stream
of frames, and :func:`clip_patch_chunks` over a clip's video, as preparation
and prediction do.

Box conventions (those of ``tf.image.crop_and_resize``): normalised
``(y1, x1, y2, x2)`` where 0 and 1 are the centres of the first and last pixel
row / column, so a crop of ``s`` pixels starting at pixel ``x0`` spans
``x0 / (W - 1) .. (x0 + s - 1) / (W - 1)``. With ``output_size == s`` a crop
is an exact copy of the pixels.

Documented fallbacks:
  * A hand whose box would leave the frame (Kinect projects joints outside
    the RGB field of view) is clamped: the box is shifted so that it lies
    inside the frame, and the hand is flagged as ``clamped``. The crop then
    shows the image border nearest to the hand, which usually still contains
    the forearm and held object.
  * An untracked hand (``hand_valid`` False) gets an all-zero crop and
    ``box_valid`` False.
  * A crop larger than the frame starts at the frame's corner and repeats
    the border pixels past the far edges.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Iterable, Iterator, NamedTuple, Sequence

import numpy as np
import tensorflow as tf

from posedriven.data import clip as clip_lib
from posedriven.data import skeletons
from posedriven.data import video


def _box_origin(center: np.ndarray, size: np.ndarray, extent: float
                ) -> tuple[np.ndarray, np.ndarray]:
  """First pixel of a ``size``-wide box centred at ``center``, clamped."""
  origin = center - (size - 1.0) / 2.0
  upper = np.maximum(extent - size, 0.0)
  clamped = (origin < 0.0) | (origin > upper)
  return np.clip(origin, 0.0, upper), clamped


def _pixel_boxes(hand_xy_px, hand_valid, crop_size_px, image_size):
  """Clamped box origins in pixels: ``y0, x0, size, valid, clamped``."""
  xy = np.asarray(hand_xy_px, np.float64)
  valid = np.asarray(hand_valid, bool)
  if xy.ndim != 3 or xy.shape[1:] != (skeletons.NUM_HANDS, 2):
    raise ValueError(f"hand_xy_px must be [N, 4, 2], got {xy.shape}")
  if valid.shape != xy.shape[:2]:
    raise ValueError(
        f"hand_valid must be [N, 4] like hand_xy_px, got {valid.shape}")
  width, height = float(image_size[0]), float(image_size[1])
  size = np.asarray(crop_size_px, np.float64)
  if size.ndim == 1 and size.shape[0] == xy.shape[0]:
    size = size[:, None]
  elif size.ndim != 0:
    raise ValueError(
        f"crop_size_px must be a scalar or [N={xy.shape[0]}], got shape"
        f" {size.shape}")
  size = np.broadcast_to(size, xy.shape[:2])
  if np.any(size < 1):
    raise ValueError(f"crop_size_px must be >= 1, got {crop_size_px}")
  valid = valid & np.all(np.isfinite(xy), axis=-1)
  xy = np.where(valid[..., None], xy, 0.0)
  x0, clamped_x = _box_origin(xy[..., 0], size, width)
  y0, clamped_y = _box_origin(xy[..., 1], size, height)
  return y0, x0, size, valid, (clamped_x | clamped_y) & valid


def pixel_boxes(hand_xy_px: np.ndarray, hand_valid: np.ndarray,
                crop_size_px: float, image_size: tuple[int, int]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """Where the crops are, in pixels: what every crop of preparation reads.

  Returns:
    ``(y0, x0, size, valid)``, each ``[N, 4]``: the first row and column
    (float, clamped inside the frame) and side of each hand's box.
  """
  y0, x0, size, valid, _ = _pixel_boxes(hand_xy_px, hand_valid, crop_size_px,
                                        image_size)
  return y0, x0, size, valid


def crop_boxes(hand_xy_px: np.ndarray, hand_valid: np.ndarray,
               crop_size_px: float | np.ndarray,
               image_size: tuple[int, int], *, return_clamped: bool = False):
  """Crop boxes around the hands, in ``tf.image.crop_and_resize`` format.

  Args:
    hand_xy_px: float ``[N, 4, 2]`` hand positions ``(x, y)`` in pixels of an
      image of ``image_size``.
    hand_valid: bool ``[N, 4]``; False for untracked hands.
    crop_size_px: Side of the square crop in pixels, a scalar or ``[N]``
      (one per frame).
    image_size: ``(width, height)`` of the frames.
    return_clamped: Also return which valid hands had their box shifted back
      inside the frame.

  Returns:
    ``boxes`` float32 ``[N * 4, 4]`` normalised ``(y1, x1, y2, x2)`` (all
    zeros for invalid hands), ``box_valid`` bool ``[N * 4]``, and, with
    ``return_clamped``, ``clamped`` bool ``[N * 4]``. Row ``n * 4 + h`` is
    hand ``h`` of frame ``n``.
  """
  y0, x0, size, valid, clamped = _pixel_boxes(hand_xy_px, hand_valid,
                                              crop_size_px, image_size)
  width, height = float(image_size[0]), float(image_size[1])
  ny, nx = max(height - 1.0, 1.0), max(width - 1.0, 1.0)
  boxes = np.stack([y0 / ny, x0 / nx, (y0 + size - 1.0) / ny,
                    (x0 + size - 1.0) / nx], axis=-1)
  boxes = np.where(valid[..., None], boxes, 0.0)
  boxes = boxes.reshape(-1, 4).astype(np.float32)
  box_valid = valid.reshape(-1)
  if not return_clamped:
    return boxes, box_valid
  return boxes, box_valid, clamped.reshape(-1)


def scale_to_frames(hand_xy_px: np.ndarray, crop_size_px: float,
                    pixels_size: tuple[int, int], frame_size: tuple[int, int]
                    ) -> tuple[np.ndarray, float]:
  """Hand positions and crop side for frames of another resolution.

  Skeleton files give hand pixels for one image size (NTU: 1920x1080); a video
  stored at another size has the positions scaled per axis and the crop side
  by the geometric mean of the two scales, so a crop covers the same part of
  the scene. Preparation and prediction both go through here.

  Args:
    hand_xy_px: float ``[T, 4, 2]`` hand ``(x, y)`` in pixels of
      ``pixels_size``.
    crop_size_px: Crop side in pixels of ``pixels_size``.
    pixels_size: ``(width, height)`` the hand pixels refer to.
    frame_size: ``(width, height)`` of the decoded frames.

  Returns:
    ``hand_xy_px`` float32 ``[T, 4, 2]`` and the crop side, both in pixels of
    ``frame_size``.
  """
  scale = np.array([frame_size[0] / pixels_size[0],
                    frame_size[1] / pixels_size[1]], np.float32)
  return (np.asarray(hand_xy_px, np.float32) * scale,
          float(crop_size_px) * float(np.sqrt(scale[0] * scale[1])))


class HandPatches(NamedTuple):
  """Small patches of frames that hold the 4 hand crops (see cut_patches).

  Attributes:
    patches: uint8 ``[N, 4, Py, Px, 3]`` RGB pixels around each hand.
    boxes: float32 ``[N, 4, 4]`` the crop boxes in ``crop_and_resize``
      format, normalised to the patch (zeros for invalid hands).
    valid: bool ``[N, 4]``; False for untracked hands.
  """
  patches: np.ndarray
  boxes: np.ndarray
  valid: np.ndarray


def patch_shape(crop_size_px: float | np.ndarray) -> tuple[int, int]:
  """``(Py, Px)`` of the patches that hold crops of ``crop_size_px``.

  A crop starting at pixel ``y0`` samples rows ``y0 .. y0 + s - 1``, which
  lie in rows ``floor(y0) .. floor(y0) + ceil(s)``; one more row keeps every
  sample a pixel away from the patch's far edge, where float32 rounding
  would otherwise push it out and ``crop_and_resize`` extrapolate black.
  """
  side = int(np.ceil(float(np.max(crop_size_px)))) + 2
  return side, side


def cut_patches(frames: np.ndarray, hand_xy_px: np.ndarray,
                hand_valid: np.ndarray, crop_size_px: float | np.ndarray, *,
                bgr: bool = False) -> HandPatches:
  """Cuts the pixels around each hand out of whole frames.

  Only ``4 x Py x Px`` pixels per frame leave the decoder this way: a
  Full-HD frame is 6 MB, the four 50 px crops about 30 KB. Rows and columns
  past the frame border repeat the border pixels (boxes are clamped inside
  the frame, so only a crop larger than the frame reads them).

  Args:
    frames: uint8 ``[N, H, W, 3]``, RGB (or BGR with ``bgr=True``).
    hand_xy_px: float ``[N, 4, 2]`` hand ``(x, y)`` in pixels of the frames.
    hand_valid: bool ``[N, 4]``.
    crop_size_px: Crop side in pixels of the frames: scalar or ``[N]``.
    bgr: The frames are BGR (OpenCV's order); patches are returned RGB.

  Returns:
    :class:`HandPatches`; feed to :func:`resize_patches`.
  """
  frames = np.asarray(frames)
  if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
    raise ValueError(f"frames must be uint8 [N, H, W, 3], got {frames.dtype}"
                     f" {frames.shape}")
  n, height, width = frames.shape[:3]
  boxes = _patch_boxes(hand_xy_px, hand_valid, crop_size_px, (width, height))
  if len(boxes.valid) != n:
    raise ValueError(f"{n} frames but hands for {len(boxes.valid)}")
  return HandPatches(_cut(frames, boxes.origins, boxes.shape, bgr),
                     boxes.boxes, boxes.valid)


class _PatchBoxes(NamedTuple):
  origins: np.ndarray  # int [N, 4, 2] top-left (row, column) of each patch
  shape: tuple[int, int]  # (Py, Px)
  boxes: np.ndarray  # float32 [N, 4, 4], normalised to the patches
  valid: np.ndarray  # bool [N, 4]


def _patch_boxes(hand_xy_px, hand_valid, crop_size_px, image_size
                 ) -> _PatchBoxes:
  y0, x0, size, valid, _ = _pixel_boxes(hand_xy_px, hand_valid, crop_size_px,
                                        image_size)
  py, px = patch_shape(size) if size.size else (3, 3)
  oy, ox = np.floor(y0), np.floor(x0)
  boxes = np.stack([(y0 - oy) / (py - 1), (x0 - ox) / (px - 1),
                    (y0 - oy + size - 1.0) / (py - 1),
                    (x0 - ox + size - 1.0) / (px - 1)], axis=-1)
  boxes = np.where(valid[..., None], boxes, 0.0).astype(np.float32)
  origins = np.stack([oy, ox], axis=-1).astype(np.int64)
  return _PatchBoxes(origins, (py, px), boxes, valid)


def _cut(frames: np.ndarray, origins: np.ndarray, shape: tuple[int, int],
         bgr: bool) -> np.ndarray:
  """uint8 ``[N, 4, Py, Px, 3]`` RGB patches at ``origins`` of ``frames``."""
  n, height, width = frames.shape[:3]
  py, px = shape
  channels = slice(None, None, -1) if bgr else slice(None)
  patches = np.empty((n, skeletons.NUM_HANDS, py, px, 3), np.uint8)
  for i, h in np.ndindex(n, skeletons.NUM_HANDS):
    top, left = (int(v) for v in origins[i, h])
    if 0 <= top <= height - py and 0 <= left <= width - px:
      patches[i, h] = frames[i, top:top + py, left:left + px, channels]
    else:  # near the border: repeat the border pixels
      rows = np.clip(np.arange(top, top + py), 0, height - 1)
      cols = np.clip(np.arange(left, left + px), 0, width - 1)
      patches[i, h] = frames[i][rows[:, None], cols, channels]
  return patches


def resize_patches(patches, boxes, valid, output_size: int) -> tf.Tensor:
  """Crops and resizes the hand boxes of :func:`cut_patches`' patches.

  TensorFlow ops (on the GPU when there is one), usable inside
  ``tf.function`` and ``tf.data``.

  Args:
    patches: uint8 ``[N, 4, Py, Px, 3]``.
    boxes: float32 ``[N, 4, 4]`` normalised to the patches.
    valid: bool ``[N, 4]``.
    output_size: Side ``S`` of the returned crops.

  Returns:
    uint8 ``[N, 4, S, S, 3]``; all zeros for invalid hands. Bilinear
    resampling, rounded.
  """
  patches = tf.convert_to_tensor(patches)
  if patches.dtype != tf.uint8:
    raise ValueError(f"patches must be uint8, got {patches.dtype}")
  shape = tf.shape(patches)
  flat = tf.reshape(patches, tf.concat([[-1], shape[2:]], 0))
  # crop_and_resize reads uint8 directly: no float copy of the patches.
  crops = tf.image.crop_and_resize(
      flat, tf.reshape(tf.cast(boxes, tf.float32), [-1, 4]),
      tf.range(tf.shape(flat)[0]), [output_size, output_size],
      method="bilinear")
  keep = tf.reshape(tf.cast(valid, tf.bool), [-1, 1, 1, 1])
  crops = tf.where(keep, crops, 0.0)
  crops = tf.cast(tf.clip_by_value(tf.round(crops), 0.0, 255.0), tf.uint8)
  return tf.reshape(crops, [shape[0], skeletons.NUM_HANDS, output_size,
                            output_size, 3])


def crop_hands(frames: np.ndarray, hand_xy_px: np.ndarray,
               hand_valid: np.ndarray, crop_size_px: float | np.ndarray,
               output_size: int, *, bgr: bool = False) -> tf.Tensor:
  """Crops the 4 hands of a batch of frames and resizes them.

  The one crop function of preparation, prediction and the demo: it is
  :func:`cut_patches` (NumPy, next to the decoder) followed by
  :func:`resize_patches` (TensorFlow), which preparation runs as two stages.

  Args:
    frames: uint8 ``[N, H, W, 3]`` RGB (BGR with ``bgr=True``).
    hand_xy_px: float ``[N, 4, 2]`` hand ``(x, y)`` in pixels of these frames.
    hand_valid: bool ``[N, 4]``.
    crop_size_px: Crop side in pixels of these frames: scalar or ``[N]``.
    output_size: Side ``S`` of the returned crops.
    bgr: The frames are BGR.

  Returns:
    uint8 ``[N, 4, S, S, 3]``; all zeros for invalid hands.
  """
  return resize_patches(*cut_patches(frames, hand_xy_px, hand_valid,
                                     crop_size_px, bgr=bgr), output_size)


def patch_chunks(frames: Iterable[tuple[int, np.ndarray]],
                 hand_xy_px: np.ndarray, hand_valid: np.ndarray,
                 crop_size_px: float, chunk_frames: int, *, bgr: bool = False
                 ) -> Iterator[tuple[np.ndarray, HandPatches]]:
  """Cuts hand patches from a stream of frames, ``chunk_frames`` at a time.

  Each frame is dropped as soon as its patches are cut, so a reader may
  decode every frame into the same buffer (``read_frames(rgb=False)``).

  Args:
    frames: ``(frame_index, uint8 [H, W, 3])`` pairs, e.g.
      ``VideoReader.read_frames``.
    hand_xy_px: float ``[T, 4, 2]`` per skeleton frame, in frame pixels.
    hand_valid: bool ``[T, 4]``.
    crop_size_px: Crop side in frame pixels.
    chunk_frames: Frames per yielded chunk (the last may be shorter).
    bgr: The frames are BGR.

  Yields:
    ``(frame_indices int64 [n], HandPatches of n frames)``.
  """
  if chunk_frames < 1:
    raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
  clip_boxes: _PatchBoxes | None = None  # once per clip, not per frame
  indices, patches = [], []

  def flush():
    at = np.array(indices, np.int64)
    return at, HandPatches(np.concatenate(patches), clip_boxes.boxes[at],
                           clip_boxes.valid[at])

  for index, frame in frames:
    if clip_boxes is None:
      clip_boxes = _patch_boxes(hand_xy_px, hand_valid, crop_size_px,
                                (frame.shape[1], frame.shape[0]))
    patches.append(_cut(frame[None], clip_boxes.origins[index:index + 1],
                        clip_boxes.shape, bgr))
    indices.append(index)
    if len(indices) == chunk_frames:
      yield flush()
      indices, patches = [], []
  if indices:
    yield flush()


def clip_patch_chunks(clip: clip_lib.Clip, reader, crop_size_px: float,
                      chunk_frames: int, *,
                      decode_seconds: list[float] | None = None
                      ) -> tuple[float, Iterator[tuple[np.ndarray,
                                                       HandPatches]]]:
  """Hand patches of every frame of ``clip`` that its video decodes.

  What preparation and prediction both do per clip: hand positions and the
  crop side are scaled to the video's resolution (logged when it differs
  from the skeleton's), hands whose box leaves the frame are logged, and
  BGR frames decoded into one buffer (no whole-frame colour conversion)
  are cut by :func:`patch_chunks`.

  Args:
    clip: The skeleton clip (hand pixels in ``clip.image_size``).
    reader: An open ``video`` reader of the clip's frames.
    crop_size_px: Crop side in pixels of ``clip.image_size``.
    chunk_frames: Frames per chunk.
    decode_seconds: If given, the seconds spent decoding frames are appended
      to it (one entry per frame) as the chunks are consumed.

  Returns:
    The crop side in video pixels and the ``(frame_indices, HandPatches)``
    chunks, which stop early if the video has fewer frames.
  """
  if tuple(reader.size) != tuple(clip.image_size):
    logging.warning(
        "%s: video is %dx%d but hand pixels refer to %dx%d; scaling hand"
        " positions and crop size", clip.name, *reader.size, *clip.image_size)
  hand_xy, crop_px = scale_to_frames(clip.hand_xy_px, crop_size_px,
                                     clip.image_size, reader.size)
  if crop_px < 1:
    raise video.VideoError(
        f"{reader.path}: frames are {reader.size[0]}x{reader.size[1]} pixels,"
        f" too small to crop hands from: the {crop_size_px:g} px crop of the"
        f" {clip.image_size[0]}x{clip.image_size[1]} skeleton frame scales to"
        f" {crop_px:.2g} px")
  _, _, clamped = crop_boxes(hand_xy, clip.hand_valid, crop_px, reader.size,
                             return_clamped=True)
  if clamped.any():
    logging.info("%s: %d of %d hand crops leave the frame; shifted inside",
                 clip.name, int(clamped.sum()), int(clip.hand_valid.sum()))
  frames = reader.read_frames(range(clip.num_frames), rgb=False)
  if decode_seconds is not None:
    frames = _timed(frames, decode_seconds)
  return crop_px, patch_chunks(frames, hand_xy, clip.hand_valid, crop_px,
                               chunk_frames, bgr=True)


def _timed(items: Iterable[Any], seconds: list[float]) -> Iterator[Any]:
  """``items``, appending to ``seconds`` the time each took to produce."""
  iterator = iter(items)
  while True:
    start = time.perf_counter()
    try:
      item = next(iterator)
    except StopIteration:
      return
    finally:
      seconds.append(time.perf_counter() - start)
    yield item


_CROP_CHUNK_FRAMES = 64  # frames whose hand patches are resized at once


def crop_clip_hands(clip: clip_lib.Clip,
                    video_path: str | os.PathLike | Sequence[os.PathLike], *,
                    crop_size_px: float, crop_output_size: int,
                    stage_seconds: dict[str, float] | None = None
                    ) -> np.ndarray:
  """The 4 hand crops of every frame of ``clip`` that its video has.

  Args:
    clip: The skeleton clip (hand pixels in ``clip.image_size``).
    video_path: Its RGB video, or SBU's list of images.
    crop_size_px: Crop side in pixels of ``clip.image_size``.
    crop_output_size: Side ``S`` of the returned crops.
    stage_seconds: If given, ``"decode"`` (opening the video and decoding
      frames) and ``"crops"`` (the rest: cutting and resizing) seconds are
      added to it.

  Returns:
    uint8 ``[T', 4, S, S, 3]`` with ``T' = min(T_skeleton, T_video)``.

  Raises:
    video.VideoError: missing or undecodable video (names the file).
  """
  start = time.perf_counter()
  decode: list[float] = []
  with video.open_source(video_path) as reader:
    decode.append(time.perf_counter() - start)
    where = reader.path  # the file, or the images' folder
    _, chunks = clip_patch_chunks(clip, reader, crop_size_px,
                                  _CROP_CHUNK_FRAMES, decode_seconds=decode)
    parts = [resize_patches(*patches, crop_output_size).numpy()
             for _, patches in chunks]
    container_frames = reader.num_frames
  crops = np.concatenate(parts)
  if stage_seconds is not None:
    total = time.perf_counter() - start
    stage_seconds["decode"] = stage_seconds.get("decode", 0.0) + sum(decode)
    stage_seconds["crops"] = (stage_seconds.get("crops", 0.0) + total -
                              sum(decode))
  if len(crops) < clip.num_frames:
    logging.warning(
        "%s has %d frames but %s decodes only %d (container says %d); using"
        " the first %d frames of both", clip.name, clip.num_frames,
        where, len(crops), container_frames, len(crops))
  elif container_frames != clip.num_frames:
    logging.info("%s: skeleton has %d frames, %s %d; using the first %d",
                 clip.name, clip.num_frames, where, container_frames,
                 clip.num_frames)
  return crops
