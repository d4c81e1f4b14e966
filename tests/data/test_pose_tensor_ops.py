"""The TensorFlow pose-tensor ops equal the numpy code they replaced.

``tests/data/numpy_pose_tensor.py`` is the numpy code that ran inside
``tf.numpy_function`` before; here both get the same uniforms, clips and
frames, on the real NTU samples and on synthetic clips.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest
import tensorflow as tf

from posedriven.data import pose_tensor
from posedriven.data import skeletons
from posedriven.data import synthetic
from posedriven.data.formats import ntu
from tests.conftest import REPO_ROOT
from tests.data import numpy_pose_tensor

FRAME_COUNTS = list(range(1, 131)) + [257, 299, 300, 1000]


@pytest.mark.parametrize("mode", pose_tensor.SAMPLING_MODES)
def test_sampling_equals_numpy_for_every_clip_length(mode):
  rng = np.random.default_rng(0)
  indices = tf.function(pose_tensor.subsequence_indices,
                        reduce_retracing=True)
  for num_frames in FRAME_COUNTS:
    offsets = [(k + 0.5) / 10 for k in range(10)] + [0.0, 0.999999]
    draws = [np.full(20, o) for o in offsets] + [rng.random(20)
                                                 for _ in range(20)]
    for uniforms in draws:
      got = indices(tf.constant(num_frames), tf.constant(uniforms),
                    20, mode).numpy()
      want = numpy_pose_tensor.subsequence_indices(num_frames, uniforms, 20,
                                                   mode)
      np.testing.assert_array_equal(got, want, err_msg=f"{num_frames}")


def test_evaluation_indices_are_the_ten_offsets():
  for num_frames in (5, 20, 64, 300):
    views = pose_tensor.evaluation_indices(num_frames).numpy()
    for k, view in enumerate(views):
      np.testing.assert_array_equal(view, numpy_pose_tensor.subsequence_indices(
          num_frames, np.full(20, (k + 0.5) / 10), 20, "segments"))


def test_random_subsequence_is_a_function_of_its_seed():
  a = pose_tensor.random_subsequence(100, tf.constant([7, 0], tf.int64))
  b = pose_tensor.random_subsequence(100, tf.constant([7, 0], tf.int64))
  c = pose_tensor.random_subsequence(100, tf.constant([8, 0], tf.int64))
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  segment = np.arange(20)
  assert np.all(a.numpy() >= segment * 5) and np.all(a.numpy() < segment * 5 + 5)


def _clips(ntu_samples, tiny_synthetic):
  clips = [ntu.load_clip(p) for p in sorted(ntu_samples.glob("*.skeleton"))]
  names = sorted(synthetic.load_meta(tiny_synthetic)["clips"])
  clips += [synthetic.load_clip(tiny_synthetic, n) for n in names[:6]]
  return clips


def test_pose_tensor_equals_numpy_on_real_and_synthetic_clips(
    ntu_samples, tiny_synthetic):
  clips = _clips(ntu_samples, tiny_synthetic)
  assert len(clips) >= 8 and any(c.present[:, 1].any() for c in clips)
  build = tf.function(pose_tensor.pose_tensor, reduce_retracing=True)
  rng = np.random.default_rng(1)
  for clip in clips:
    skeleton = skeletons.get_skeleton(clip.skeleton)
    for order in pose_tensor.JOINT_ORDERS:
      path = pose_tensor.joint_path(skeleton, order)
      views = list(pose_tensor.evaluation_subsequences(clip.num_frames))
      views.append(np.sort(rng.integers(0, clip.num_frames, 20)))
      for frames in views:
        want = numpy_pose_tensor.build_pose_tensor(
            clip.xyz, clip.present, skeleton, frames, path)
        got = build(clip.xyz, clip.present, skeleton, tf.constant(frames),
                    tf.constant(path)).numpy()
        np.testing.assert_array_equal(got, want, err_msg=clip.name)
        np.testing.assert_array_equal(pose_tensor.build_pose_tensor(
            clip.xyz, clip.present, skeleton, frames, path), want)


def test_person_entering_and_leaving_matches_numpy():
  rng = np.random.default_rng(2)
  xyz = rng.normal(size=(30, 2, 25, 3)).astype(np.float32)
  present = np.ones((30, 2), bool)
  present[:4, 0] = False  # person 1 enters late: person 2 is the origin
  present[10:17, 1] = False
  xyz[~present] = 0.0
  path = pose_tensor.joint_path(skeletons.KINECT_V2)
  frames = np.arange(0, 30, 1)[:20]
  np.testing.assert_array_equal(
      pose_tensor.build_pose_tensor(xyz, present, skeletons.KINECT_V2, frames,
                                    path),
      numpy_pose_tensor.build_pose_tensor(xyz, present, skeletons.KINECT_V2,
                                          frames, path))


def test_no_python_callback_in_the_pipelines():
  """numpy_function / py_function hold the GIL and rule out tf.data service."""
  for module in ("pipeline.py", "pose_tensor.py", "protocols.py",
                 "tfrecords.py"):
    tree = ast.parse((REPO_ROOT / "posedriven" / "data" / module).read_text())
    calls = {node.func.attr for node in ast.walk(tree)
             if isinstance(node, ast.Call) and
             isinstance(node.func, ast.Attribute)}
    assert not calls & {"numpy_function", "py_function", "py_func"}, module
