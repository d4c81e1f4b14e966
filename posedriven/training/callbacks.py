"""TensorBoard images of the attention over hands and time (paper, Fig. 2)."""

from __future__ import annotations

from typing import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from posedriven import visualization


class AttentionImages(keras.callbacks.Callback):
  """After each epoch, draws spatial and temporal attention of a few clips.

  Images go to the default summary writer (the training loop's, so that a
  run has one event file).

  Args:
    inputs: Model inputs for a few fixed probe sub-sequences (numpy).
    names: One title per clip.
    crops: Optional uint8 ``[N, T, 4, S, S, 3]`` hand crops of the same
      sub-sequences; when given, the crops are drawn with their weights.
  """

  def __init__(self, inputs: Mapping[str, np.ndarray], names: Sequence[str],
               crops: np.ndarray | None = None):
    super().__init__()
    self.inputs = dict(inputs)
    self.names = list(names)
    self.crops = crops

  def on_epoch_end(self, epoch, logs=None):
    outputs = self.model(self.inputs, training=False)
    spatial = keras.ops.convert_to_numpy(outputs["spatial_attention"])
    temporal = keras.ops.convert_to_numpy(outputs["temporal_attention"])
    for i, name in enumerate(self.names):
      image = visualization.attention_image(spatial[i], temporal[i], name)
      tf.summary.image(f"attention/{i:02d}_{name}", image[None], step=epoch)
      if self.crops is not None:
        grid = visualization.attention_on_crops(self.crops[i], spatial[i])
        tf.summary.image(f"attention_crops/{i:02d}_{name}", grid[None],
                         step=epoch)
