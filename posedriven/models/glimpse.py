"""The glimpse sensor f_g: a frozen ImageNet InceptionV3 (paper, 3.1 and 4).

``v(t, :, i) = f_g(crop(I_t, x_{t,i}))``: each hand crop is resized to the
Inception input size (299 in the paper) and mapped to the 2048-d output of
the global-average-pooled last block. The sensor is trained on ILSVRC 2012
only and stays frozen, which is why its features can be computed once by
``posedriven.prepare`` and stored.
"""

from __future__ import annotations

import os

import keras
from keras import ops
import tensorflow as tf

FEATURE_DIM = 2048
MIN_INPUT_SIZE = 75  # keras.applications.InceptionV3's smallest input.


@keras.saving.register_keras_serializable(package="posedriven")
class GlimpseSensor(keras.layers.Layer):
  """Frozen InceptionV3 feature extractor for hand crops.

  Args:
    weights: ``"imagenet"`` (Keras reads its cache under ``KERAS_HOME`` or
      downloads), a path to a weights file of ``InceptionV3(include_top=False)``
      (e.g. one written by ``sensor.backbone.save_weights(...)``), or ``None``
      for random weights (tests).
    input_size: Side of the square network input; 299 as in the paper,
      smaller (>= 75) for CPU demos.
    **kwargs: Layer arguments (``name``, ``dtype`` e.g. ``"mixed_float16"``).

  Call:
    inputs: crops ``[N, H, W, 3]``, uint8 or float in ``[0, 255]``, RGB.
    Returns float32 ``[N, 2048]``; an all-zero crop (an absent or untracked
    hand, see ``glimpse_crops.crop_hands``) gives an all-zero vector, which
    the attention treats as "no hand" (``attention_cell.hand_presence``).
  """

  def __init__(self, weights: str | os.PathLike | None = "imagenet",
               input_size: int = 299, **kwargs):
    kwargs["trainable"] = False
    # Inputs are cast to float32 explicitly: autocasting to float16 under a
    # mixed policy would round pixel values before the resize.
    kwargs["autocast"] = False
    super().__init__(**kwargs)
    if input_size < MIN_INPUT_SIZE:
      raise ValueError(
          f"GlimpseSensor input_size must be >= {MIN_INPUT_SIZE} (InceptionV3"
          f" minimum), got {input_size}")
    if weights is not None and weights != "imagenet":
      weights = os.fspath(weights)
      if not os.path.isfile(weights):
        raise ValueError(
            f"GlimpseSensor weights file {weights} does not exist (expected"
            " 'imagenet', None or a weights file path)")
    self.weights_source = weights
    self.input_size = int(input_size)
    self.backbone: keras.Model | None = None

  @property
  def output_dim(self) -> int:
    return FEATURE_DIM

  def build(self, input_shape):
    # keras.applications builds its layers with the global dtype policy; use
    # this layer's (e.g. mixed_float16) while the backbone is created.
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(self.dtype_policy)
    try:
      # Eagerly, even when the first call is traced (tf.function in prepare
      # and export): weights loaded inside a trace do not all stick (Keras
      # 3.15 / TF 2.21 left every conv kernel at its random initial value).
      with tf.init_scope():
        self.backbone = keras.applications.InceptionV3(
            include_top=False, pooling="avg", weights=self.weights_source,
            input_shape=(self.input_size, self.input_size, 3))
    finally:
      keras.config.set_dtype_policy(previous)
    self.backbone.trainable = False
    super().build(input_shape)

  def call(self, inputs, training=None):
    """Crops ``[N, H, W, 3]`` in ``[0, 255]`` -> features float32 ``[N, 2048]``.

    ``training`` is ignored: the sensor always runs in inference mode (frozen
    batch-norm statistics).
    """
    del training
    x = ops.cast(inputs, "float32")
    seen = ops.any(ops.not_equal(x, 0.0), axis=(1, 2, 3))
    if (x.shape[1], x.shape[2]) != (self.input_size, self.input_size):
      x = ops.image.resize(x, (self.input_size, self.input_size),
                           interpolation="bilinear")
    x = keras.applications.inception_v3.preprocess_input(x)
    features = self.backbone(ops.cast(x, self.compute_dtype), training=False)
    return ops.where(seen[:, None], ops.cast(features, "float32"), 0.0)

  def compute_output_shape(self, input_shape):
    return (input_shape[0], FEATURE_DIM)

  def get_config(self):
    config = super().get_config()
    config.pop("trainable", None)
    config.update(weights=self.weights_source, input_size=self.input_size)
    return config


def recalibrate_batch_norm(sensor: GlimpseSensor, crops) -> None:
  """Sets the sensor's batch-norm statistics to those of ``crops``.

  Only for sensors without trained weights (the offline demo, tests): a
  randomly initialised InceptionV3 keeps the default statistics (mean 0,
  variance 1), so its activations shrink through ~94 layers and the pooled
  features come out around 1e-4, which an LSTM with default initialisation
  barely moves on. Estimating the statistics on unlabelled crops (one forward
  pass in training mode, each layer seeing the normalised output of the one
  before, as at inference) restores features of order 1, as with ImageNet
  weights. Never call this on a trained sensor: it would overwrite its
  ImageNet statistics.

  Args:
    sensor: A built ``GlimpseSensor``.
    crops: ``[N, H, W, 3]`` in ``[0, 255]`` (a few hundred hand crops).
  """
  x = ops.cast(crops, "float32")
  x = ops.image.resize(x, (sensor.input_size, sensor.input_size),
                       interpolation="bilinear")
  x = keras.applications.inception_v3.preprocess_input(x)
  norms = [layer for layer in sensor.backbone.layers
           if isinstance(layer, keras.layers.BatchNormalization)]
  saved = [(layer.momentum, layer.trainable) for layer in norms]
  try:
    for layer in norms:
      # Frozen batch norm ignores training=True in Keras 3; momentum 0 makes
      # the moving statistics equal this batch's.
      layer.trainable = True
      layer.momentum = 0.0
    sensor.backbone(ops.cast(x, sensor.compute_dtype), training=True)
  finally:
    for layer, (momentum, trainable) in zip(norms, saved):
      layer.momentum = momentum
      layer.trainable = trainable
