"""The attention figures drawn to TensorBoard after each epoch (Fig. 2)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from posedriven import visualization
from posedriven.training import callbacks
from tests import helpers

T = 5  # steps of a probe sub-sequence


class _FakeModel:
  """Returns fixed attention maps and records how it was called."""

  def __init__(self, spatial, temporal):
    self.spatial, self.temporal = spatial, temporal
    self.calls = []

  def __call__(self, inputs, training=None):
    self.calls.append((inputs, training))
    return {"spatial_attention": self.spatial,
            "temporal_attention": self.temporal, "logits": None}


def _attention(num_clips):
  rng = np.random.default_rng(0)
  spatial = rng.random((num_clips, T, 4)).astype(np.float32)
  spatial /= spatial.sum(-1, keepdims=True)
  temporal = rng.random((num_clips, T)).astype(np.float32)
  return spatial, temporal / temporal.sum(-1, keepdims=True)


def _images(logdir) -> dict[tuple[str, int], np.ndarray]:
  """``{(tag, step): image}`` of every image summary in ``logdir``."""
  found = {}
  for path in helpers.event_files(logdir):
    for event in tf.compat.v1.train.summary_iterator(str(path)):
      for value in event.summary.value:
        if value.metadata.plugin_data.plugin_name == "images":
          # [width, height, png]
          png = tf.make_ndarray(value.tensor)[2]
          found[value.tag, event.step] = tf.io.decode_png(png).numpy()
  return found


def _run_epochs(tmp_path, callback, epochs):
  writer = tf.summary.create_file_writer(str(tmp_path))
  with writer.as_default():
    for epoch in epochs:
      callback.on_epoch_end(epoch)
  writer.close()
  return _images(tmp_path)


def test_each_probe_clip_is_drawn_with_its_own_attention(tmp_path):
  spatial, temporal = _attention(2)
  model = _FakeModel(spatial, temporal)
  inputs = {"pose": np.zeros((2, T, 3), np.float32)}
  callback = callbacks.AttentionImages(inputs, ["a", "b"])
  callback.set_model(model)
  images = _run_epochs(tmp_path, callback, epochs=(0, 1))
  assert sorted(images) == [("attention/00_a", 0), ("attention/00_a", 1),
                            ("attention/01_b", 0), ("attention/01_b", 1)]
  for i, name in enumerate(["a", "b"]):
    np.testing.assert_array_equal(
        images[f"attention/{i:02d}_{name}", 0],
        visualization.attention_image(spatial[i], temporal[i], name))
  # The probes go through the model in inference mode, every epoch.
  assert [training for _, training in model.calls] == [False, False]
  for called, _ in model.calls:
    assert called.keys() == inputs.keys() and called["pose"] is inputs["pose"]


def test_crops_are_drawn_with_their_weights(tmp_path):
  spatial, temporal = _attention(1)
  crops = np.random.default_rng(1).integers(
      0, 255, (1, T, 4, 8, 8, 3), dtype=np.uint8)
  callback = callbacks.AttentionImages({"pose": np.zeros((1, T, 3))}, ["c"],
                                       crops)
  callback.set_model(_FakeModel(spatial, temporal))
  images = _run_epochs(tmp_path, callback, epochs=(4,))
  assert sorted(images) == [("attention/00_c", 4),
                            ("attention_crops/00_c", 4)]
  np.testing.assert_array_equal(
      images["attention_crops/00_c", 4],
      visualization.attention_on_crops(crops[0], spatial[0]))
