"""Static-size crops around the 4 hands (paper, sections 3.1 and 4).

The glimpse sensor looks at square crops of a fixed size *in source pixels*
(50x50 in the Full-HD NTU frame, 100x100 in the 640x480 SBU / MSR frames),
centred on each hand joint, later resized to the sensor's input size. This
module is the one crop function used by dataset preparation, export and
prediction.

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
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from posedriven.data import skeletons


def _box_origin(center: np.ndarray, size: np.ndarray, extent: float
                ) -> tuple[np.ndarray, np.ndarray]:
  """First pixel of a ``size``-wide box centred at ``center``, clamped."""
  origin = center - (size - 1.0) / 2.0
  upper = np.maximum(extent - size, 0.0)
  clamped = (origin < 0.0) | (origin > upper)
  return np.clip(origin, 0.0, upper), clamped


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
  boxes = np.stack([
      y0 / max(height - 1.0, 1.0),
      x0 / max(width - 1.0, 1.0),
      (y0 + size - 1.0) / max(height - 1.0, 1.0),
      (x0 + size - 1.0) / max(width - 1.0, 1.0),
  ], axis=-1)
  boxes = np.where(valid[..., None], boxes, 0.0)
  boxes = boxes.reshape(-1, 4).astype(np.float32)
  box_valid = valid.reshape(-1)
  if not return_clamped:
    return boxes, box_valid
  clamped = ((clamped_x | clamped_y) & valid).reshape(-1)
  return boxes, box_valid, clamped


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


def _crop_boxes_tf(hand_xy_px: tf.Tensor, hand_valid: tf.Tensor,
                   crop_size_px: tf.Tensor, width: tf.Tensor,
                   height: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """Graph version of :func:`crop_boxes` (tested to match it)."""
  xy = tf.cast(hand_xy_px, tf.float32)
  valid = tf.logical_and(tf.cast(hand_valid, tf.bool),
                         tf.reduce_all(tf.math.is_finite(xy), axis=-1))
  xy = tf.where(valid[..., None], xy, 0.0)
  size = tf.cast(crop_size_px, tf.float32)
  if size.shape.rank:
    size = tf.reshape(size, [-1, 1])
  size = tf.broadcast_to(size, tf.shape(valid))

  def origin(center, extent):
    return tf.clip_by_value(center - (size - 1.0) / 2.0, 0.0,
                            tf.maximum(extent - size, 0.0))

  x0 = origin(xy[..., 0], width)
  y0 = origin(xy[..., 1], height)
  ny = tf.maximum(height - 1.0, 1.0)
  nx = tf.maximum(width - 1.0, 1.0)
  boxes = tf.stack([y0 / ny, x0 / nx, (y0 + size - 1.0) / ny,
                    (x0 + size - 1.0) / nx], axis=-1)
  boxes = tf.where(valid[..., None], boxes, 0.0)
  return tf.reshape(boxes, [-1, 4]), tf.reshape(valid, [-1])


def crop_hands(frames, hand_xy_px, hand_valid, crop_size_px, output_size: int
               ) -> tf.Tensor:
  """Crops the 4 hands of a batch of frames and resizes them.

  Runs as TensorFlow ops (on the GPU when there is one), inside or outside
  ``tf.function`` / ``tf.data``.

  Args:
    frames: uint8 ``[N, H, W, 3]``.
    hand_xy_px: float ``[N, 4, 2]`` hand ``(x, y)`` in pixels of these frames.
    hand_valid: bool ``[N, 4]``.
    crop_size_px: Crop side in pixels of these frames: scalar or ``[N]``.
    output_size: Side ``S`` of the returned crops.

  Returns:
    uint8 ``[N, 4, S, S, 3]``; all zeros for invalid hands. Bilinear
    resampling, rounded.
  """
  frames = tf.convert_to_tensor(frames)
  if frames.dtype != tf.uint8:
    raise ValueError(f"frames must be uint8 [N, H, W, 3], got {frames.dtype}")
  shape = tf.shape(frames)
  height = tf.cast(shape[1], tf.float32)
  width = tf.cast(shape[2], tf.float32)
  boxes, valid = _crop_boxes_tf(hand_xy_px, hand_valid, crop_size_px, width,
                                height)
  box_indices = tf.repeat(tf.range(shape[0]), skeletons.NUM_HANDS)
  # crop_and_resize reads uint8 directly: no float copy of the full frames.
  crops = tf.image.crop_and_resize(
      frames, boxes, box_indices,
      [output_size, output_size], method="bilinear")
  crops = tf.where(valid[:, None, None, None], crops, 0.0)
  crops = tf.cast(tf.clip_by_value(tf.round(crops), 0.0, 255.0), tf.uint8)
  return tf.reshape(crops, [shape[0], skeletons.NUM_HANDS, output_size,
                            output_size, 3])
