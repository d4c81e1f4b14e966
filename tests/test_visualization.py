"""Rendered figures: shapes, colours that follow the values, PNG files."""

import cv2
import numpy as np

from posedriven import visualization


def test_attention_image_brightness_follows_weights(tmp_path):
  spatial = np.zeros((20, 4), np.float32)
  spatial[:, 2] = 1.0
  image = visualization.attention_image(spatial, np.full(20, 0.05), "clip")
  assert image.dtype == np.uint8 and image.ndim == 3
  # Viridis: weight 1 is bright yellow, weight 0 dark purple.
  top, left, cell = 22, 110, 24
  hot = image[top + 2 * cell + cell // 2, left + cell // 2]
  cold = image[top + 0 * cell + cell // 2, left + cell // 2]
  assert hot.sum() > cold.sum() + 200
  path = tmp_path / "a.png"
  visualization.write_png(path, image)
  back = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
  np.testing.assert_array_equal(back, image)


def _cell_colour(image, row, col, cell, left=170, top=30):
  # A corner of the cell: the centre may hold the printed value.
  return image[top + row * cell + 2, left + col * cell + 2].astype(int)


def test_confusion_matrix_image_diagonal_is_hot():
  cell = 30
  image = visualization.confusion_matrix_image(
      np.eye(5) * 10, [f"c{i}" for i in range(5)], cell=cell)
  assert image.shape == (30 + 5 * cell + 10, 170 + 5 * cell + 10, 3)
  hot = [_cell_colour(image, i, i, cell) for i in range(5)]
  cold = [_cell_colour(image, r, c, cell) for r in range(5) for c in range(5)
          if r != c]
  # Viridis: 1.0 is bright yellow, 0.0 dark purple; every diagonal cell is
  # brighter than every other cell, and all hot / all cold cells match.
  assert min(h.sum() for h in hot) > max(c.sum() for c in cold) + 300
  assert all((h == hot[0]).all() for h in hot)
  assert all((c == cold[0]).all() for c in cold)


def test_confusion_matrix_image_normalises_rows_and_follows_errors():
  cell = 30
  # Row 0: all predicted as class 2; row 1: half right, half class 0.
  matrix = np.array([[0, 0, 9], [3, 3, 0], [0, 0, 1]])
  image = visualization.confusion_matrix_image(matrix, ["a", "b", "c"],
                                               cell=cell)
  brightness = np.array([[_cell_colour(image, r, c, cell).sum()
                          for c in range(3)] for r in range(3)])
  assert brightness[0, 2] == brightness[2, 2] > brightness[1, 1]
  assert brightness[1, 1] == brightness[1, 0] > brightness[0, 0]
  assert brightness[0, 0] == brightness[0, 1] == brightness[1, 2]


def test_attention_on_crops_grid_shape():
  crops = np.zeros((20, 4, 16, 16, 3), np.uint8)
  att = np.full((20, 4), 0.25, np.float32)
  image = visualization.attention_on_crops(crops, att, max_steps=5, size=32)
  assert image.shape == (4 * (32 + 12) + 4, 5 * (32 + 12) + 4, 3)
