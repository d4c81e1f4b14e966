"""Images people would rather see than read: attention maps, confusion matrices.

Every function returns an RGB uint8 array (and ``write_png`` saves one), so the
same picture goes to a PNG file and to TensorBoard (``tf.summary.image``).
Drawing uses OpenCV only, to keep matplotlib out of the dependencies.
"""

from __future__ import annotations

import os
from typing import Sequence

import cv2
import numpy as np

from posedriven import atomic
from posedriven.data import skeletons

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _heat(values: np.ndarray, vmax: float | None = None) -> np.ndarray:
  """Maps ``[H, W]`` values in [0, vmax] to RGB with a perceptual colormap."""
  vmax = float(values.max()) if vmax is None else vmax
  scaled = np.clip(values / max(vmax, 1e-12), 0.0, 1.0)
  bgr = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)
  return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _text(image, text, org, scale=0.4, color=(0, 0, 0)):
  cv2.putText(image, text, org, _FONT, scale, color, 1, cv2.LINE_AA)


def attention_image(spatial_attention: np.ndarray,
                    temporal_attention: np.ndarray | None = None,
                    title: str = "", cell: int = 24) -> np.ndarray:
  """Hands x time heat map with the temporal attention as a bar row (Fig. 2).

  Args:
    spatial_attention: ``[T, 4]`` attention over hands per step (sums to 1).
    temporal_attention: optional ``[T]`` attention over steps.
    title: printed above the map.
    cell: pixel size of one (step, hand) cell.

  Returns:
    RGB uint8 image.
  """
  spatial_attention = np.asarray(spatial_attention, np.float32)
  steps, hands = spatial_attention.shape
  left, top = 110, 22 if title else 6
  rows = hands + (2 if temporal_attention is not None else 0)
  image = np.full((top + rows * cell + 20, left + steps * cell + 8, 3), 255,
                  np.uint8)
  if title:
    _text(image, title, (4, 15), 0.45)
  heat = _heat(spatial_attention.T, vmax=1.0)
  heat = cv2.resize(heat, (steps * cell, hands * cell),
                    interpolation=cv2.INTER_NEAREST)
  image[top:top + hands * cell, left:left + steps * cell] = heat
  names = skeletons.HAND_NAMES if hands == len(skeletons.HAND_NAMES) else [
      f"hand {i}" for i in range(hands)]
  for i, name in enumerate(names):
    _text(image, name, (4, top + i * cell + cell // 2 + 4))
  if temporal_attention is not None:
    temporal_attention = np.asarray(temporal_attention, np.float32)
    y0 = top + (hands + 1) * cell
    _text(image, "time attn", (4, y0 + cell // 2 + 4))
    peak = max(float(temporal_attention.max()), 1e-12)
    for t, w in enumerate(temporal_attention):
      h = int(round(cell * w / peak))
      x = left + t * cell
      cv2.rectangle(image, (x + 2, y0 + cell - h), (x + cell - 3, y0 + cell),
                    (220, 90, 40), -1)
  for t in range(0, steps, 5):
    _text(image, str(t), (left + t * cell + 2, image.shape[0] - 5), 0.35)
  return image


def attention_on_crops(crops: np.ndarray, spatial_attention: np.ndarray,
                       max_steps: int = 10, size: int = 64) -> np.ndarray:
  """Grid of hand crops (rows = hands, columns = steps), bordered by attention.

  Args:
    crops: uint8 ``[T, 4, S, S, 3]`` hand crops.
    spatial_attention: ``[T, 4]``.
    max_steps: at most this many evenly spaced steps are shown.
    size: displayed crop size in pixels.

  Returns:
    RGB uint8 image; each crop's border thickness and the printed number show
    its attention weight.
  """
  steps = crops.shape[0]
  shown = np.unique(np.linspace(0, steps - 1, min(max_steps, steps)).round()
                    .astype(int))
  pad = 6
  image = np.full((crops.shape[1] * (size + 2 * pad) + 4,
                   len(shown) * (size + 2 * pad) + 4, 3), 255, np.uint8)
  for col, t in enumerate(shown):
    for hand in range(crops.shape[1]):
      weight = float(spatial_attention[t, hand])
      y = 2 + hand * (size + 2 * pad)
      x = 2 + col * (size + 2 * pad)
      color = tuple(int(c) for c in _heat(np.array([[weight]]), 1.0)[0, 0])
      thickness = max(1, int(round(weight * pad)))
      cv2.rectangle(image, (x, y), (x + size + 2 * pad - 1,
                                    y + size + 2 * pad - 1), color, thickness)
      crop = cv2.resize(np.ascontiguousarray(crops[t, hand]), (size, size))
      image[y + pad:y + pad + size, x + pad:x + pad + size] = crop
      _text(image, f"{weight:.2f}", (x + pad + 2, y + pad + 12), 0.35,
            (255, 255, 255))
  return image


def confusion_matrix_image(matrix: np.ndarray,
                           class_names: Sequence[str] | None = None,
                           cell: int | None = None) -> np.ndarray:
  """Row-normalised confusion matrix as a heat map with class labels."""
  matrix = np.asarray(matrix, np.float64)
  num_classes = matrix.shape[0]
  cell = cell or max(6, min(40, 800 // max(num_classes, 1)))
  support = matrix.sum(axis=1, keepdims=True)
  normalised = np.divide(matrix, support, out=np.zeros_like(matrix),
                         where=support > 0)
  show_names = class_names is not None and num_classes <= 60
  left = 170 if show_names else 30
  top = 30
  size = num_classes * cell
  image = np.full((top + size + 10, left + size + 10, 3), 255, np.uint8)
  _text(image, "true (rows) vs predicted (columns), row-normalised", (4, 18))
  heat = cv2.resize(_heat(normalised, 1.0), (size, size),
                    interpolation=cv2.INTER_NEAREST)
  image[top:top + size, left:left + size] = heat
  if show_names:
    for c, name in enumerate(class_names):
      _text(image, f"{c} {name[:24]}", (2, top + c * cell + cell // 2 + 4),
            0.33 if cell < 16 else 0.4)
  if cell >= 24:
    for r in range(num_classes):
      for c in range(num_classes):
        if matrix[r, c]:
          value = normalised[r, c]
          _text(image, f"{value:.2f}"[1:] if value < 1 else "1.0",
                (left + c * cell + 3, top + r * cell + cell // 2 + 4), 0.35,
                (255, 255, 255) if value < 0.6 else (0, 0, 0))
  return image


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
  """Writes an RGB image atomically."""
  # A figure is written once, not resumed: a failed write leaves nothing.
  with atomic.replacing(path, keep_suffix=True, discard_on_error=True) as tmp:
    if not cv2.imwrite(str(tmp), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
      raise OSError(f"could not write {path}")
