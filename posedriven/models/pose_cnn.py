"""The pose network f_sk (paper, sections 3.3 and 4).

``PoseConvNet`` maps a pose tensor ``X`` of shape ``[B, T=20, W, 3]`` (rows:
time; columns: x, y, z of the joints along the topological path of both
people; channels: coordinates, velocities, accelerations) to the pose features
``s`` of shape ``[B, 1024]``::

  conv 8x3 'same' -> ReLU -> maxpool 2x2       20 x 300 -> 10 x 150
  conv 8x3 'same' -> ReLU -> maxpool 2x2       10 x 150 ->  5 x  75
  conv (remaining map) 'valid' -> ReLU          5 x  75 ->  1 x 1 x 1024

The third kernel is derived from the input shape in ``build`` so that the
output is 1x1 for every dataset width (300 NTU, 180 SBU, 240 MSR, 150 for the
topological order without double entries). The paper's third max-pooling acts
on a 1x1 map and is omitted.

The paper does not give the channel counts of the first two convolutions.
The defaults (64, 64) put the full two-stream model without glimpse sensor at
39.5M trainable parameters for 60 classes, against the paper's 38M (the
5x75x64x1024 third kernel alone holds 24.6M of them; 128 channels would give
64M).

``PoseClassifier`` adds dropout and a linear output layer: it is the pose
stream trained alone (paper, section 4, "Training"). It returns logits, not
probabilities, since the streams are fused at logit level (section 3.4).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="posedriven")
class PoseConvNet(keras.layers.Layer):
  """f_sk: pose tensor ``[B, T, W, 3]`` -> pose features ``s`` ``[B, F]``.

  Args:
    filters: Channels of the first two convolutions.
    kernel_size: Kernel of the first two convolutions, (time, columns).
    features: Channels of the last convolution, i.e. the size of ``s``.
    **kwargs: Base layer arguments (name, dtype, trainable).

  Attributes:
    head_class: The last convolution's layer, ``keras.layers.Conv2D``
      (what checkpoints hold). Serving copies swap in another computation
      of it on the same weights (``posedriven.export.serving_layout``).
  """

  head_class = keras.layers.Conv2D

  def __init__(self,
               filters: Sequence[int] = (64, 64),
               kernel_size: Sequence[int] = (8, 3),
               features: int = 1024,
               **kwargs):
    super().__init__(**kwargs)
    if len(filters) != 2:
      raise ValueError(f"PoseConvNet needs 2 filter counts, got {filters!r}")
    self.filters = tuple(int(f) for f in filters)
    self.kernel_size = tuple(int(k) for k in kernel_size)
    self.features = int(features)
    conv_args = dict(padding="same", activation="relu", dtype=self.dtype_policy)
    self.conv1 = keras.layers.Conv2D(self.filters[0], self.kernel_size,
                                     name="conv1", **conv_args)
    self.pool1 = keras.layers.MaxPooling2D(2, dtype=self.dtype_policy,
                                           name="pool1")
    self.conv2 = keras.layers.Conv2D(self.filters[1], self.kernel_size,
                                     name="conv2", **conv_args)
    self.pool2 = keras.layers.MaxPooling2D(2, dtype=self.dtype_policy,
                                           name="pool2")

  def build(self, input_shape: Sequence[int | None]) -> None:
    if len(input_shape) != 4:
      raise ValueError(
          f"{self.name}: expected pose input [B, T, W, C], got {input_shape}")
    _, time_steps, width, channels = input_shape
    if time_steps is None or width is None:
      raise ValueError(f"{self.name}: T and W must be static, got "
                       f"{input_shape}")
    # Two 2x2 'valid' poolings floor-divide each axis by 2 twice.
    map_t, map_w = time_steps // 4, width // 4
    if map_t < 1 or map_w < 1:
      raise ValueError(
          f"{self.name}: pose input {time_steps}x{width} is too small for two "
          "2x2 poolings (need T >= 4 and W >= 4)")
    self.conv3 = self.head_class(self.features, (map_t, map_w),
                                 padding="valid", activation="relu",
                                 dtype=self.dtype_policy, name="conv3")
    # Fixes T and W: the third kernel only fits inputs of this size.
    self.input_spec = keras.layers.InputSpec(
        shape=(None, time_steps, width, channels))
    shape = (None, time_steps, width, channels)
    self.conv1.build(shape)
    shape = self.pool1.compute_output_shape(
        self.conv1.compute_output_shape(shape))
    self.conv2.build(shape)
    shape = self.pool2.compute_output_shape(
        self.conv2.compute_output_shape(shape))
    self.conv3.build(shape)
    # Sublayers do not inherit a trainable=False given to __init__ (from_config
    # of a frozen layer), and re-assigning an equal `trainable` is a no-op on
    # the TF backend, so freeze them one by one.
    if not self.trainable:
      for layer in (self.conv1, self.conv2, self.conv3):
        layer.trainable = False

  def call(self, inputs):
    """Args: inputs: ``[B, T, W, 3]``. Returns: ``s``, ``[B, features]``."""
    x = self.pool1(self.conv1(inputs))
    x = self.pool2(self.conv2(x))
    x = self.conv3(x)
    return ops.reshape(x, (-1, self.features))

  def compute_output_shape(self, input_shape):
    return (input_shape[0], self.features)

  def get_config(self) -> dict[str, Any]:
    config = super().get_config()
    config.update(filters=list(self.filters),
                  kernel_size=list(self.kernel_size),
                  features=self.features)
    return config


@keras.saving.register_keras_serializable(package="posedriven")
class PoseClassifier(keras.Model):
  """The pose stream: f_sk -> dropout -> linear logits.

  Takes ``{"pose": [B, T, W, 3]}`` (or the bare tensor) and returns
  ``{"logits": [B, num_classes]}`` in float32, the same output key as the RGB
  and two-stream models so one loss spec serves all three.

  Args:
    num_classes: Number of activity classes.
    filters, kernel_size, features: ``PoseConvNet`` sizes.
    dropout: Dropout rate on ``s`` while training (paper, section 4).
    **kwargs: Base model arguments (name, dtype).

  Attributes:
    pose_network: The ``PoseConvNet``; hand it to ``build_rgb_stream``.
    pose_network_class: ``PoseConvNet`` (serving copies swap in a subclass:
      ``posedriven.export.serving_layout``).
  """

  pose_network_class = PoseConvNet

  def __init__(self,
               num_classes: int,
               filters: Sequence[int] = (64, 64),
               kernel_size: Sequence[int] = (8, 3),
               features: int = 1024,
               dropout: float = 0.5,
               **kwargs):
    super().__init__(**kwargs)
    self.num_classes = int(num_classes)
    self.dropout_rate = float(dropout)
    self.pose_network = self.pose_network_class(
        filters, kernel_size, features, dtype=self.dtype_policy,
        name="pose_cnn")
    self.dropout = keras.layers.Dropout(self.dropout_rate,
                                        dtype=self.dtype_policy,
                                        name="pose_dropout")
    # Logits in float32 under mixed precision: they are fused and softmaxed.
    self.classifier = keras.layers.Dense(self.num_classes, dtype="float32",
                                         name="pose_logits")

  @staticmethod
  def _pose(inputs: Any) -> Any:
    return inputs["pose"] if isinstance(inputs, Mapping) else inputs

  def build(self, input_shape: Any) -> None:
    shape = tuple(self._pose(input_shape))
    self.pose_network.build(shape)
    self.classifier.build((shape[0], self.pose_network.features))
    # Sublayers do not inherit a trainable=False given to __init__ (from_config
    # of a frozen layer), and re-assigning an equal `trainable` is a no-op on
    # the TF backend, so freeze them one by one.
    if not self.trainable:
      for layer in (self.pose_network, self.classifier):
        layer.trainable = False

  def call(self, inputs, training=None):
    """Args: inputs: ``{"pose": [B, T, W, 3]}`` or the tensor.

    Returns: ``{"logits": [B, num_classes]}``.
    """
    s = self.pose_network(self._pose(inputs))
    s = self.dropout(s, training=training)
    return {"logits": self.classifier(s)}

  def get_config(self) -> dict[str, Any]:
    config = super().get_config()
    config.update(num_classes=self.num_classes,
                  filters=list(self.pose_network.filters),
                  kernel_size=list(self.pose_network.kernel_size),
                  features=self.pose_network.features,
                  dropout=self.dropout_rate)
    return config
