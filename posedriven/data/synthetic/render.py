"""Video frames of the synthetic set: object cards, background, people."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from posedriven import atomic
from posedriven.data.formats import ntu
from posedriven.data import glimpse_crops
from posedriven.data import skeletons
from posedriven.data.synthetic import motion
from posedriven.data.synthetic import views

_J = motion.JOINT_INDEX

# NTU crops 50x50 px hand glimpses in 1920-wide frames (paper, section 4).
_NTU_CROP_PX = 50
MIN_CROP_SIZE_PX = 24
# Objects are cards a few pixels larger than a hand crop, so a crop centred
# on the hand sees only the object: the glimpse then carries no context
# (arm angle, background) that could tell the moving hand from the others.
_OBJECT_MARGIN = 0.1

# Drawing colours, BGR.
_RED = (40, 30, 225)
_BLUE = (215, 70, 20)
_YELLOW = (20, 215, 240)
_GREEN = (40, 190, 30)
_CARD = (235, 235, 235)
_OUTLINE = (25, 25, 25)
# The colour a decoded frame shows at an object's centre (tests, checks).
OBJECT_CENTER_BGR = {0: _RED, 1: _BLUE, 2: _GREEN}

def crop_size_for_width(width: int) -> int:
  """Hand glimpse size in pixels: NTU's 50 px scaled to ``width``, >= 24."""
  return max(MIN_CROP_SIZE_PX,
             int(round(_NTU_CROP_PX * width / ntu.RGB_SIZE[0])))

# ----------------------------------------------------------------------------
# Video frames.


def object_size_px(crop_size_px: int) -> int:
  """Side of a drawn object card: a hand crop plus a margin on each side."""
  return crop_size_px + 2 * max(3, int(round(_OBJECT_MARGIN * crop_size_px)))


def _triangle_third(half: int) -> int:
  """A third of the distractor triangle's height: its apex is two of them
  above the centre, beyond the card's edge (4/3 of ``half``)."""
  return half * 2 // 3


def draw_object(image: np.ndarray, object_id: int, center: tuple[int, int],
                size: int) -> None:
  """Draws object ``object_id``, a ``size`` px card, on ``center`` (in place).

  The card patterns differ in colour, shape and texture: a red disc on white,
  blue/yellow stripes, a green triangle on white.
  """
  x, y = center
  half = size // 2
  x0, y0, x1, y1 = x - half, y - half, x + half, y + half
  if object_id == 0:
    cv2.rectangle(image, (x0, y0), (x1, y1), _CARD, -1)
    cv2.circle(image, (x, y), int(round(0.43 * size)), _RED, -1, cv2.LINE_AA)
  elif object_id == 1:
    # An odd number of horizontal stripes, >= 5 px each so that JPEG chroma
    # subsampling keeps them; the middle one (at the hand) is blue.
    stripes = max(3, (size // 6) | 1)
    edges = np.linspace(y0, y1 + 1, stripes + 1).round().astype(int)
    for i in range(stripes):
      cv2.rectangle(image, (x0, int(edges[i])), (x1, int(edges[i + 1]) - 1),
                    _BLUE if (i - stripes // 2) % 2 == 0 else _YELLOW, -1)
  elif object_id == motion.DISTRACTOR_OBJECT:
    cv2.rectangle(image, (x0, y0), (x1, y1), _CARD, -1)
    # Upward triangle whose centroid is the hand.
    third = _triangle_third(half)
    pts = np.array([[x, y - 2 * third], [x - half + 1, y + third],
                    [x + half - 1, y + third]], np.int32)
    cv2.fillPoly(image, [pts], _GREEN, cv2.LINE_AA)
  else:
    raise ValueError(f"unknown object id {object_id}")
  cv2.rectangle(image, (x0, y0), (x1, y1), _OUTLINE, 1)


def make_background(seed: int, setup: int, camera: int,
                    image_size: tuple[int, int]) -> np.ndarray:
  """A muted, textured room (uint8 BGR ``[H, W, 3]``), fixed per view."""
  width, height = image_size
  rng = np.random.default_rng([seed, motion.TAG_VIEW, setup, camera, 1])
  wall = np.array(motion.muted_bgr(rng, (120, 200)), np.float32)
  floor = np.array(motion.muted_bgr(rng, (60, 120)), np.float32)
  horizon = int(height * rng.uniform(0.55, 0.7))
  ys = np.arange(height, dtype=np.float32)[:, None, None]
  gradient = 1.0 + 0.15 * (ys / height - 0.5)
  image = np.where(ys < horizon, wall, floor) * gradient
  image = np.broadcast_to(image, (height, width, 3)).copy()
  # A few pieces of furniture (doors, cabinets) on the wall.
  for _ in range(int(rng.integers(2, 5))):
    w = int(width * rng.uniform(0.08, 0.25))
    h = int(height * rng.uniform(0.2, 0.5))
    x0 = int(rng.integers(0, max(1, width - w)))
    y0 = max(0, horizon - h + int(height * rng.uniform(0.0, 0.1)))
    image[y0:y0 + h, x0:x0 + w] = np.array(motion.muted_bgr(rng, (50, 170)),
                                           np.float32)
  # Blotches and grain mostly in brightness: colour noise would make
  # object-like colours appear in the background.
  coarse = (rng.normal(0.0, 16.0, (9, 16, 1)) +
            rng.normal(0.0, 4.0, (9, 16, 3))).astype(np.float32)
  image += cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
  image += rng.normal(0.0, 3.0, (height, width, 1)).astype(np.float32)
  return np.clip(image, 0, 255).astype(np.uint8)


_BONES = tuple(skeletons.KINECT_V2.edges)
_ARM_JOINTS = {_J[n] for n in ("ShoulderLeft", "ElbowLeft", "WristLeft",
                               "HandLeft", "ShoulderRight", "ElbowRight",
                               "WristRight", "HandRight", "HandTipLeft",
                               "ThumbLeft", "HandTipRight", "ThumbRight")}
_LEG_JOINTS = {_J[n] for n in ("HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
                               "HipRight", "KneeRight", "AnkleRight",
                               "FootRight")}


def _draw_person(image: np.ndarray, xy: np.ndarray, z: np.ndarray,
                 person: motion.Person, focal: float) -> None:
  """A thick stick figure from joint pixels ``xy`` [25, 2], depths ``z``."""
  pts = np.round(xy).astype(np.int32)

  def width(metres: float, joint: int) -> int:
    return max(1, int(round(metres * focal / z[joint])))

  torso = pts[[_J["ShoulderLeft"], _J["ShoulderRight"], _J["HipRight"],
               _J["HipLeft"]]]
  cv2.fillConvexPoly(image, torso, person.shirt_bgr, cv2.LINE_AA)
  for parent, child in _BONES:
    if child in _LEG_JOINTS:
      color, metres = person.trousers_bgr, 0.12
    elif child in _ARM_JOINTS:
      color, metres = person.shirt_bgr, 0.08
      if child in (_J["HandTipLeft"], _J["HandTipRight"], _J["ThumbLeft"],
                   _J["ThumbRight"], _J["HandLeft"], _J["HandRight"]):
        color, metres = person.skin_bgr, 0.04
    elif child in (_J["Head"], _J["Neck"]):
      color, metres = person.skin_bgr, 0.08
    else:
      color, metres = person.shirt_bgr, 0.14
    cv2.line(image, tuple(pts[parent]), tuple(pts[child]), color,
             width(metres, child), cv2.LINE_AA)
  head = _J["Head"]
  cv2.circle(image, tuple(pts[head]), width(0.11, head), person.skin_bgr, -1,
             cv2.LINE_AA)


# The videos are Motion JPEG at a fixed quality (see :func:`write_video`):
# each 16x16 block of a frame (the minimum coded unit of 4:2:0 JPEG) is
# coded on its own, so a card changes the decoded pixels of the blocks it
# touches and of nothing else, except that the reader's chroma upsampling
# (FFmpeg's swscale, bicubic: two chroma samples = 4 px either side) lets a
# pixel see the colour of the blocks up to 4 px away.
_MCU_PX = 16
_CHROMA_REACH_PX = 4
# The farthest from another hand's crop box that a card may be cut.
MASK_REACH_PX = _CHROMA_REACH_PX + _MCU_PX - 1


def _blocks_read(start: float, stop: float, limit: int) -> tuple[int, int]:
  """``[first, last)`` pixels of the 16 px blocks that decoded pixels
  ``[floor(start), ceil(stop))`` depend on, along one axis."""
  first = (int(np.floor(start)) - _CHROMA_REACH_PX) // _MCU_PX * _MCU_PX
  last = -(-(int(np.ceil(stop)) + _CHROMA_REACH_PX) // _MCU_PX) * _MCU_PX
  return max(first, 0), min(last, limit)


def object_allowed(shape: tuple[int, int], hand: int, y0: np.ndarray,
                   x0: np.ndarray, size: np.ndarray, valid: np.ndarray,
                   window: tuple[int, int, int, int] | None = None
                   ) -> np.ndarray:
  """bool: pixels of an ``[H, W]`` frame outside the blocks any other
  present hand's decoded crop depends on (bilinear resampling reads up to
  ``ceil`` of the box's far edge); of the whole frame, or of ``window``
  ``(top, bottom, left, right)`` only (:func:`card_window`)."""
  top, bottom, left, right = window or (0, shape[0], 0, shape[1])
  allowed = np.ones((bottom - top, right - left), bool)
  for other in np.flatnonzero(valid):
    if other == hand:
      continue
    first_y, last_y = _blocks_read(y0[other], y0[other] + size[other],
                                   shape[0])
    first_x, last_x = _blocks_read(x0[other], x0[other] + size[other],
                                   shape[1])
    allowed[max(first_y - top, 0):max(last_y - top, 0),
            max(first_x - left, 0):max(last_x - left, 0)] = False
  return allowed


def card_window(center: tuple[int, int], size: int,
                shape: tuple[int, int]) -> tuple[int, int, int, int]:
  """``(top, bottom, left, right)``: the part of an ``[H, W]`` frame that
  :func:`draw_object` can paint for a ``size`` px card on ``center``.

  The card and its outline span ``center +- size // 2`` (inclusive); the
  distractor's triangle pokes above it, to two thirds of its height. Two
  pixels more each side hold the anti-aliased edges. Clipped to the frame,
  so a card cut by the frame's edge is clipped at the same edge drawn here
  as drawn whole.
  """
  half = size // 2
  reach = max(half, 2 * _triangle_third(half)) + 2

  def span(at: int, limit: int) -> tuple[int, int]:
    return (min(max(at - reach, 0), limit),
            min(max(at + reach + 1, 0), limit))

  return (*span(center[1], shape[0]), *span(center[0], shape[1]))


def render_frames(performance: motion.Performance, seq: ntu.SkeletonSequence,
                  background: np.ndarray, object_size: int,
                  crop_size_px: int) -> Iterable[np.ndarray]:
  """Yields the BGR frames of a view: people, then objects on the hands.

  An object is visible only in the crop of the hand that holds it: the part
  of its card that falls into another present hand's crop box (the boxes
  preparation cuts, ``glimpse_crops.pixel_boxes``, widened to the JPEG
  blocks their decoded pixels depend on, at most :data:`MASK_REACH_PX`) is
  not drawn, so the other crops decode to the same bytes with or without
  it. Otherwise, when hands come close,
  the other hands' glimpses would show the class object and its timing, and
  attention-free rows (sum, concatenation) would learn it.
  """
  height, width = background.shape[:2]
  fx = views.color_intrinsics((width, height))[0]
  hand_xy = views.hand_pixels(seq)
  hands = np.round(hand_xy).astype(int)
  present = np.arange(skeletons.NUM_HANDS) // 2 < len(performance.people)
  y0, x0, size, valid = glimpse_crops.pixel_boxes(
      hand_xy, np.broadcast_to(present, hand_xy.shape[:2]), crop_size_px,
      (width, height))
  for t in range(seq.num_frames):
    image = background.copy()
    depth = seq.xyz[t, :, _J["SpineMid"], 2]
    for p in np.argsort(-depth, kind="stable"):
      _draw_person(image, seq.color_xy[t, p], seq.xyz[t, p, :, 2],
                   performance.people[p], fx)
    for hand in performance.draw_order:
      start, stop = performance.hand_windows[hand]
      obj = performance.hand_objects[hand]
      if obj != motion.NO_OBJECT and start <= t < stop:
        # Drawn into a window around the card, not a copy of the frame:
        # comparing whole frames was half of the generator's time.
        center = int(hands[t, hand, 0]), int(hands[t, hand, 1])
        top, bottom, left, right = card_window(center, object_size,
                                               (height, width))
        if top == bottom or left == right:  # wholly outside the frame
          continue
        view = image[top:bottom, left:right]
        card = view.copy()
        draw_object(card, obj, (center[0] - left, center[1] - top),
                    object_size)
        drawn = np.any(card != view, axis=-1) & object_allowed(
            (height, width), hand, y0[t], x0[t], size[t], valid[t],
            (top, bottom, left, right))
        view[drawn] = card[drawn]
    yield image


# OpenCV's own MJPEG encoder at a fixed quality, not FFmpeg's: FFmpeg runs
# bitrate control, so a card anywhere re-quantises the whole frame and leaks
# into every crop. Quality 30 decodes as close to the drawn frames as
# FFmpeg's default did (RMS error 4.4 grey levels on demo-size clips) in
# 1.5x the bytes (BUILD_NOTES, issue 26 item 4).
VIDEO_QUALITY = 30


def _open_writer(tmp: Path, image_size: tuple[int, int]) -> cv2.VideoWriter:
  writer = cv2.VideoWriter(str(tmp), cv2.CAP_OPENCV_MJPEG,
                           cv2.VideoWriter_fourcc(*"MJPG"), motion.FPS,
                           image_size)
  if not writer.isOpened():
    raise OSError(f"{tmp.name}: OpenCV cannot open an MJPG AVI writer")
  if not writer.set(cv2.VIDEOWRITER_PROP_QUALITY, VIDEO_QUALITY):
    writer.release()
    raise OSError(f"{tmp.name}: OpenCV's MJPEG writer refused quality"
                  f" {VIDEO_QUALITY}")
  return writer


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray],
                image_size: tuple[int, int]) -> int:
  """Writes an MJPG AVI at ``motion.FPS`` atomically; returns frames written."""
  path = Path(path)
  count = 0
  # OpenCV picks the container from the extension.
  with atomic.replacing(path, keep_suffix=True) as tmp:
    writer = _open_writer(tmp, image_size)
    try:
      for frame in frames:
        writer.write(frame)
        count += 1
    finally:
      writer.release()
  return count
