"""A synthetic dataset in the NTU RGB+D on-disk layout, for demos and tests.

Nothing can be downloaded here, so the end-to-end demo and the tests run on
data this module draws. It is written exactly like NTU RGB+D::

  <root>/nturgb+d_skeletons/S001C001P001R001A001.skeleton
  <root>/nturgb+d_rgb/S001C001P001R001A001_rgb.avi    (MJPG, 30 fps)
  <root>/synthetic_meta.json                           (ground truth)

so every NTU reader works on it unchanged, except that ``colorX/colorY`` are
pixels of the written videos (``image_size`` in the meta file), not of a
1920x1080 frame; ``load_clip`` sets ``Clip.image_size`` accordingly.

Why the data needs the paper's mechanism (Baradel et al., BMVC 2018, eq. 3-6):

* A class is a *motion* (what the active hand does) times an *object* (what
  it holds): 4 x 2 = 8 classes. Pose alone sees the motion but never the
  object, so it is capped near 50% accuracy.
* By default every clip shows both class objects: the active hand holds
  the class object, another hand holds the other one, and in two-person
  clips the remaining two hands hold a pair that is symmetric in the two
  objects (a green-triangle distractor, both objects, or nothing).
  Summing, averaging or concatenating the hands' glimpse features, or
  looking at the whole frame, therefore tells nothing about which object
  matters; only knowing which hand moves - from the pose - does (spatial
  attention conditioned on pose features).
* Objects are visible only during a window of about 60% of the clip: the
  active hand's window is its motion phase, the other hands' windows are
  drawn from the same distribution, so the timing of a crop's content does
  not reveal the active hand either, and temporal attention has frames to
  prefer.
* Objects are cards a few pixels larger than a hand crop, so a glimpse
  centred on a hand sees the object only, never the arm or the background
  that would tell a moving hand from a still one; where cards overlap they
  occlude each other in a random order. Their patterns differ in colour,
  shape and texture (red disc on white, blue/yellow stripes, green triangle
  on white), so even a randomly initialised CNN separates them (a linear
  probe on the demo's glimpse features, ``benchmarks/testbed_probes.py``,
  figures in BUILD_NOTES); they stay small relative to the frame.

  An object is drawn only outside the other hands' crop boxes, so it shows
  in the glimpse of the hand that holds it and in no other
  (``render.render_frames``; tested over every camera). By default the
  skeletons do not depend on the object: the two classes of a motion give
  identical skeleton files (tested; ``object_amplitude`` below changes that).

* With ``paired_objects=True`` (what the demo uses) the two classes of a
  motion are one performance recorded twice, the class objects trading
  hands: a minimal pair. Without it, a pose stream trained on a few hundred
  clips memorises which object went with each training performance and, on
  unseen clips, prefers one object as confidently as it knows the motion;
  averaged with the RGB logits, that noise outweighs the object the RGB
  stream found. With pairs the pose stream's two logits of a motion stay
  close (BUILD_NOTES, "The demo's testbed").
* ``object_amplitude`` above 0 makes the two class objects of a motion
  differ in how the motion is performed (the active hand's amplitude is
  scaled by ``1 -+ object_amplitude / 2``), so that the skeleton carries
  part of the object, as on NTU; at 0 (the default) it carries none and
  every draw is as before.
* ``counter_object_probability`` below 1 (the demo: 0.5) leaves the other
  class object out of some clips; those let the RGB stream learn what the
  objects mean before its attention has found the active hand.

* With ``uniform_appearance=True`` (what the demo uses) everybody wears the
  same clothes and skin tone. Otherwise the empty-handed glimpses (sleeve,
  skin) identify the subject, and with six training subjects the RGB stream
  memorised its training clips from them instead of learning the objects
  (``benchmarks/attention_on_active_hand.py`` measures where the attention
  goes; BUILD_NOTES has the figures).

Camera views C001-C003 film the same performance from yaw 0, +45 and -45
degrees (as NTU's three Kinects do), so cross-view evaluation is meaningful.
Every random choice comes from a generator seeded by ``seed`` and the
sample's own keys, so any clip can be regenerated alone and an interrupted
run resumes to byte-identical files.

The package's modules follow the generator's stages: :mod:`.motion`
(classes, bodies, motion and arm IK), :mod:`.views` (cameras, projection,
skeleton files), :mod:`.render` (video frames) and :mod:`.dataset` (names,
paths, ground truth, :func:`generate_dataset`). What a user of the dataset
needs is imported here.
"""

from posedriven.data.synthetic.dataset import generate_dataset
from posedriven.data.synthetic.dataset import load_clip
from posedriven.data.synthetic.dataset import load_meta
from posedriven.data.synthetic.dataset import META_FILE
from posedriven.data.synthetic.dataset import plan_clips
from posedriven.data.synthetic.dataset import RGB_DIR
from posedriven.data.synthetic.dataset import SKELETON_DIR
from posedriven.data.synthetic.dataset import skeleton_path
from posedriven.data.synthetic.dataset import video_path
from posedriven.data.synthetic.motion import class_index
from posedriven.data.synthetic.motion import class_parts
from posedriven.data.synthetic.motion import CLASS_OBJECT_NAMES
from posedriven.data.synthetic.motion import MOTION_NAMES
from posedriven.data.synthetic.motion import NUM_CLASSES
from posedriven.data.synthetic.motion import paired_action_groups
from posedriven.data.synthetic.motion import SYNTHETIC_CLASS_NAMES
