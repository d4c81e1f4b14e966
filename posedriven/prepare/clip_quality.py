"""Which readable clips are degraded, and which labels cannot be trained on.

The quality policy of preparation (README, "Degraded clips"): a clip that
reads but is below a threshold is written, logged and recorded with status
``degraded`` and the reason (:func:`degradation`); a clip whose label is
outside the dataset's classes is recorded ``error`` and not written
(:func:`label_problem`). Both are pure functions.
"""

from __future__ import annotations

from posedriven.data import clip as clip_lib
from posedriven.data.formats import registry


# Degraded-clip policy (README, "Degraded clips"): a clip whose video
# decodes fewer than this share of its skeleton's frames is degraded. Real
# NTU videos differ from their skeletons by a frame or two.
MIN_VIDEO_FRAME_FRACTION = 0.5


def degradation(clip: clip_lib.Clip, skeleton_frames: int,
                video_frames: int) -> str | None:
  """Why a readable clip is degraded, or None when it is fine.

  Args:
    clip: The clip as written (cut to the frames both sources have).
    skeleton_frames: Frames of the skeleton file.
    video_frames: Frames that decoded; < 0 when the video was not read
      (``store="none"``).
  """
  reasons = []
  if 0 <= video_frames < MIN_VIDEO_FRAME_FRACTION * skeleton_frames:
    reasons.append(
        f"video: only {video_frames} of the skeleton's {skeleton_frames}"
        f" frames decode (threshold {MIN_VIDEO_FRAME_FRACTION:.0%}); the"
        f" record keeps {video_frames}")
  reasons.extend(clip.defects)  # the reader's own findings (Clip.defects)
  if not clip.hand_valid.any():
    # The pose is still there (clip_lib.check_usable refuses a clip without
    # one); only the glimpses are lost.
    reasons.append("skeleton: no hand is tracked and valid in any frame"
                   " (every hand joint untracked or NaN); every glimpse is"
                   " blank")
  return "; ".join(reasons) or None


def label_problem(label: int, dataset: registry.DatasetFormat) -> str | None:
  """Why ``label`` cannot be trained on with ``dataset``'s classes, or None."""
  num_classes = len(dataset.class_names)
  if 0 <= label < num_classes:
    return None
  return (f"label {label} is outside the {num_classes} classes of"
          f" {dataset.name} (0..{num_classes - 1}); training could not use"
          " it")
