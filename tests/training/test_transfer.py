"""NTU -> SBU / MSR weight transfer (paper, section 4: fine-tuning)."""

import numpy as np

from posedriven.data import pose_tensor
from posedriven.data import skeletons
from posedriven.models import streams
from posedriven.training import transfer

SMALL = dict(filters=(4, 4), features=16)


def _pose_model(num_classes, width):
  model = streams.build_pose_stream(num_classes, width, **SMALL)
  model({"pose": np.zeros((1, 20, width, 3), "float32")})
  return model


def test_ntu_to_sbu_copies_the_8x3_convolutions_only():
  ntu_width = pose_tensor.joint_path(skeletons.KINECT_V2).size * 2 * 3
  sbu_width = pose_tensor.joint_path(skeletons.SBU).size * 2 * 3
  assert (ntu_width, sbu_width) == (300, 180)
  source, target = _pose_model(60, ntu_width), _pose_model(8, sbu_width)
  fresh_before = {v.path: np.asarray(v) for v in target.weights}
  copied, fresh = transfer.copy_matching_weights(source, target)
  by_path = {v.path: v for v in source.weights}
  copied_shapes = sorted(tuple(by_path[p].shape) for p in copied)
  # conv1 and conv2: kernels 8x3 (in 3 -> 4, 4 -> 4) and their biases.
  assert copied_shapes == [(4,), (4,), (8, 3, 3, 4), (8, 3, 4, 4)]
  for path in copied:
    np.testing.assert_array_equal(
        np.asarray([v for v in target.weights if v.path == path][0]),
        np.asarray(by_path[path]))
  # The 5 x W/4 convolution and the classifier keep their initialisation.
  assert len(fresh) == 4
  for variable in target.weights:
    if variable.path in fresh:
      np.testing.assert_array_equal(np.asarray(variable),
                                    fresh_before[variable.path])


def test_same_skeleton_and_classes_copies_everything():
  source, target = _pose_model(8, 300), _pose_model(8, 300)
  copied, fresh = transfer.copy_matching_weights(source, target)
  assert not fresh and len(copied) == len(target.weights) == 8
  for a, b in zip(source.weights, target.weights):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
