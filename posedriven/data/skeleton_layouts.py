"""Placing SBU and MSR skeletons on the NTU (Kinect v2) joint layout.

The paper fine-tunes NTU-trained networks on SBU and MSR after "adapting" the
skeletons (section 4). The pose network's last convolution spans the whole
tensor width, so it transfers only if the target tensor has NTU's width and
the same joint sits in the same column. :func:`adapt_joints` writes each of
the 25 Kinect v2 joints as a fixed linear combination of the source joints
(:func:`adaptation_matrix`): a joint the source has is copied, a joint it
lacks is derived from its neighbours, so the tensor built on the Kinect v2
topological path (width 300) puts every source joint where NTU had it.

No joint is set to zero: pose tensors are body-centred, so a zero joint
would become ``-origin``, a joint far from the body that NTU never showed
(an absent *person* stays all zero: the combination is linear).

SBU (15 OpenNI joints) -> Kinect v2:

=================  =====================================================
Kinect v2 joint    from SBU
=================  =====================================================
SpineBase          mean(HipLeft, HipRight) (OpenNI has no pelvis joint)
SpineMid           Torso
Neck               mean(Neck, Head) (OpenNI's neck sits at the shoulders)
Head               Head
SpineShoulder      Neck
Shoulder/Elbow L R Shoulder/Elbow L R
WristLeft/Right    HandLeft/Right (OpenNI's hand joint is at the wrist)
HandLeft/Right     HandLeft/Right
HandTip, Thumb     HandLeft/Right (no finger joints)
Hip/Knee L R       Hip/Knee L R
AnkleLeft/Right    FootLeft/Right (OpenNI's foot joint is at the ankle)
FootLeft/Right     FootLeft/Right
=================  =====================================================

MSR Daily Activity 3D (Kinect v1, 20 joints) -> Kinect v2:

=================  =====================================================
Kinect v2 joint    from Kinect v1
=================  =====================================================
SpineBase          HipCenter
SpineMid           Spine
Neck               mean(ShoulderCenter, Head)
Head               Head
SpineShoulder      ShoulderCenter
arms, legs         the joints of the same name (v1 has wrists, ankles)
HandTip, Thumb     HandLeft/Right (no finger joints)
=================  =====================================================

``layout="native"`` keeps the dataset's own skeleton (tensor width 180 for
SBU, 240 for MSR): the Table 4/5 ablation without the adaptation.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from posedriven.data import skeletons

NATIVE = "native"
LAYOUTS = (NATIVE, skeletons.KINECT_V2.name)

# Kinect v2 joint -> the source joints it is the mean of. Joints not listed
# have a source joint of the same name.
_DERIVED: dict[str, dict[str, tuple[str, ...]]] = {
    skeletons.SBU.name: {
        "SpineBase": ("HipLeft", "HipRight"),
        "SpineMid": ("Torso",),
        "Neck": ("Neck", "Head"),
        "SpineShoulder": ("Neck",),
        "WristLeft": ("HandLeft",),
        "WristRight": ("HandRight",),
        "AnkleLeft": ("FootLeft",),
        "AnkleRight": ("FootRight",),
        "HandTipLeft": ("HandLeft",),
        "ThumbLeft": ("HandLeft",),
        "HandTipRight": ("HandRight",),
        "ThumbRight": ("HandRight",),
    },
    skeletons.KINECT_V1.name: {
        "SpineBase": ("HipCenter",),
        "SpineMid": ("Spine",),
        "Neck": ("ShoulderCenter", "Head"),
        "SpineShoulder": ("ShoulderCenter",),
        "HandTipLeft": ("HandLeft",),
        "ThumbLeft": ("HandLeft",),
        "HandTipRight": ("HandRight",),
        "ThumbRight": ("HandRight",),
    },
}


def check_layout(layout: str) -> None:
  if layout not in LAYOUTS:
    raise ValueError(f"skeleton_layout must be one of {LAYOUTS}, got"
                     f" {layout!r}")


def adaptation_matrix(source: skeletons.SkeletonDef) -> np.ndarray:
  """float32 ``[25, J]``: row ``k`` gives Kinect v2 joint ``k`` from ``source``.

  Each row sums to 1 (a copy or a mean of neighbours). Kinect v2 itself
  gives the identity.

  Raises:
    ValueError: no adaptation is defined for ``source``.
  """
  target = skeletons.KINECT_V2
  if source.name == target.name:
    return np.eye(target.num_joints, dtype=np.float32)
  if source.name not in _DERIVED:
    raise ValueError(f"no Kinect v2 adaptation for skeleton {source.name!r};"
                     f" defined for {sorted(_DERIVED)}")
  derived = _DERIVED[source.name]
  matrix = np.zeros((target.num_joints, source.num_joints), np.float32)
  for k, name in enumerate(target.joint_names):
    parts = derived.get(name, (name,))
    for part in parts:
      matrix[k, source.joint_names.index(part)] += 1.0 / len(parts)
  return matrix


def adapt_joints(xyz, source: skeletons.SkeletonDef):
  """Joints ``[..., J, 3]`` of ``source`` -> Kinect v2 joints ``[..., 25, 3]``.

  A TF op (tf.data pipelines run it in graph mode); eager callers may pass
  numpy arrays and call ``.numpy()`` on the result.
  """
  matrix = tf.constant(adaptation_matrix(source))
  xyz = tf.convert_to_tensor(xyz)
  return tf.einsum("kj,...jc->...kc", tf.cast(matrix, xyz.dtype), xyz)


def tensor_skeleton(source: skeletons.SkeletonDef,
                    layout: str) -> skeletons.SkeletonDef:
  """The skeleton whose path and width the pose tensor uses under ``layout``."""
  check_layout(layout)
  return source if layout == NATIVE else skeletons.get_skeleton(layout)
