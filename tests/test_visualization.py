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


def test_confusion_matrix_image_diagonal_is_hot():
  image = visualization.confusion_matrix_image(np.eye(5) * 10,
                                               [f"c{i}" for i in range(5)])
  assert image.shape[0] > 100 and image.shape[1] > 100


def test_attention_on_crops_grid_shape():
  crops = np.zeros((20, 4, 16, 16, 3), np.uint8)
  att = np.full((20, 4), 0.25, np.float32)
  image = visualization.attention_on_crops(crops, att, max_steps=5, size=32)
  assert image.shape == (4 * (32 + 12) + 4, 5 * (32 + 12) + 4, 3)
