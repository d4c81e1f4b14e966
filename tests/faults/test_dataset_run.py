"""A dataset run over a synthetic set where most clips are broken.

One ``prepare_dataset`` run sees every fault of the corpus once (16 clips:
7 unreadable, 8 with a documented fallback, 1 untouched). Each case is then
checked on the manifest, the TFRecords and the log: an unreadable clip is an
``error`` entry whose reason names the file and the problem; a fallback clip
is written, its log line names the clip, and its content is what the fallback
promises. Every good clip is written exactly once.
"""

from __future__ import annotations

import dataclasses
import shutil
from typing import Callable

import numpy as np
import pytest

from posedriven.data import glimpse_crops
from posedriven.data.formats import ntu
from posedriven import prepare
from posedriven.data.formats import registry
from posedriven.data import synthetic
from posedriven.data.synthetic import render as synthetic_render
from posedriven.data import video
from tests import helpers
from tests.faults import corpus

IMAGE_SIZE = (320, 180)  # tiny_synthetic's frames.
CROP = synthetic_render.crop_size_for_width(IMAGE_SIZE[0])
SHORTER_BY = 5
LONGER_BY = 4
NAN_FRAMES = (2, 3)
OUTSIDE_FRAMES = (0, 1)


def _sequence_fault(change: Callable[[ntu.SkeletonSequence],
                                     ntu.SkeletonSequence]):
  def apply(root, name):
    path = synthetic.skeleton_path(root, name)
    ntu.write_skeleton(path, change(ntu.load_skeleton(path)))
  return apply


def _text_fault(fault: corpus.TextFault):
  return lambda root, name: corpus.break_skeleton(
      synthetic.skeleton_path(root, name), fault)


def _video_fault(fault: Callable, *args):
  return lambda root, name: fault(synthetic.video_path(root, name), *args)


def _missing_video(root, name):
  synthetic.video_path(root, name).unlink()


@dataclasses.dataclass(frozen=True)
class Case:
  apply: Callable
  # Unreadable clips: words of the manifest reason. Fallbacks: None.
  reason: tuple[str, ...] | None = None
  # Words of a log line that also names the clip (fallbacks).
  log: tuple[str, ...] = ()


# One case per clip, in the order of the (sorted) clip names.
CASES = {
    "empty_skeleton": Case(_text_fault(corpus.empty),
                           ("SkeletonFormatError", ".skeleton", "empty")),
    "26_joints": Case(_text_fault(corpus.joint_count(26)),
                      ("SkeletonFormatError", ".skeleton:4", "26 joints")),
    "no_bodies": Case(_sequence_fault(corpus.without_bodies),
                      ("EmptySkeletonError", "no body is tracked")),
    "non_numeric": Case(_text_fault(corpus.non_numeric_joint),
                        ("SkeletonFormatError", ".skeleton:7",
                         "non-numeric value 'abc'")),
    "missing_video": Case(_missing_video,
                          ("VideoError", "_rgb.avi", "does not exist")),
    "zero_byte_video": Case(_video_fault(corpus.zero_bytes),
                            ("VideoError", "_rgb.avi", "empty (0 bytes)")),
    "random_bytes_video": Case(_video_fault(corpus.random_bytes),
                               ("VideoError", "_rgb.avi",
                                "not a decodable video")),
    "cut_mid_stream": Case(_video_fault(corpus.cut_mid_stream),
                           log=("keeping the first",)),
    "fewer_frames": Case(_video_fault(corpus.drop_frames, SHORTER_BY),
                         log=("keeping the first",)),
    "more_frames": Case(_video_fault(corpus.add_frames, LONGER_BY),
                        log=("the video container says",)),
    "double_resolution": Case(_video_fault(corpus.rescale, 2.0),
                              log=("video is 640x360", "scaling")),
    "hands_outside": Case(_sequence_fault(lambda s: corpus.with_hands_outside(
        s, IMAGE_SIZE, OUTSIDE_FRAMES)), log=("leave the frame",)),
    "nan_hand": Case(_sequence_fault(lambda s: corpus.with_nan_hand(
        s, NAN_FRAMES)), log=("NaN/inf", "not tracked")),
    "five_bodies": Case(_sequence_fault(corpus.with_extra_bodies),
                        log=("5 bodies tracked",)),
    "duplicate_body_id": Case(_sequence_fault(corpus.with_duplicate_body_id),
                              log=("repeats bodyID",)),
    "untouched": Case(lambda root, name: None),
}
UNREADABLE = sorted(c for c, case in CASES.items() if case.reason)
WRITTEN = sorted(c for c, case in CASES.items() if not case.reason)


def _run(root, out):
  # Crops, not features: the fault paths are the same and crops let the
  # tests check what each fallback cut out of the frames.
  return prepare.prepare_dataset(
      root, out, dataset="synthetic", protocol="synthetic_cs", store="crops",
      clips_per_file=3, log_every_s=1e9)


@pytest.fixture(scope="module")
def clean(tiny_synthetic, tmp_path_factory):
  """Records of the unbroken dataset, by clip name."""
  out = tmp_path_factory.mktemp("clean")
  _run(tiny_synthetic, out)
  return helpers.records_by_name(out)


@pytest.fixture(scope="module")
def broken(tiny_synthetic, tmp_path_factory):
  """Breaks clip k with case k, adds a stray file, runs once."""
  root = tmp_path_factory.mktemp("broken") / "data"
  shutil.copytree(tiny_synthetic, root)
  names = sorted(s.name for s in registry.list_clips(root, "synthetic"))
  assert len(names) == len(CASES)
  clip_of = dict(zip(CASES, names))
  for case, name in clip_of.items():
    CASES[case].apply(root, name)
  # A file that is not a sample at all (a stray copy): left out, logged.
  stray = root / synthetic.SKELETON_DIR / "copy of take 3.skeleton"
  shutil.copy(synthetic.skeleton_path(root, names[-1]), stray)
  out = root.parent / "out"
  with helpers.capture_logs() as logs:
    summary = _run(root, out)
  return {"root": root, "clip_of": clip_of, "summary": summary, "logs": logs,
          "entries": {e["name"]: e for e in summary["manifest"]["clips"]},
          "records": helpers.records_by_name(out)}


def test_run_completes_and_writes_exactly_the_readable_clips(broken):
  manifest = broken["summary"]["manifest"]
  assert manifest["complete"]
  assert manifest["counts"] == {"ok": len(WRITTEN), "error": len(UNREADABLE),
                                "skipped": 0, "degraded": 0}
  assert sorted(broken["records"]) == sorted(
      broken["clip_of"][c] for c in WRITTEN)
  # The stray file is no clip: not in the manifest, but said in the log.
  assert len(broken["entries"]) == len(CASES)
  assert broken["logs"].messages("copy of take 3.skeleton",
                                 "not an NTU sample name")


@pytest.mark.parametrize("case", UNREADABLE)
def test_unreadable_clip_is_listed_with_its_reason(broken, case):
  name = broken["clip_of"][case]
  entry = broken["entries"][name]
  assert entry["status"] == "error" and entry["file"] is not None
  for word in CASES[case].reason:
    assert word in entry["reason"], entry["reason"]
  # The reason names the broken file (the clip's name is in both paths).
  assert name in entry["reason"]
  # Logged as what the manifest says it is: "skipped" is the word of the
  # official missing-skeleton lists (README).
  assert broken["logs"].messages(name, "error", entry["reason"])
  assert not broken["logs"].messages(name, "skipped")
  assert name not in broken["records"]


@pytest.mark.parametrize("case", [c for c in WRITTEN if CASES[c].log])
def test_fallback_is_logged_with_the_clip_name(broken, case):
  name = broken["clip_of"][case]
  assert broken["entries"][name]["status"] == "ok"
  assert broken["logs"].messages(name, *CASES[case].log), (
      f"no log line with {name} and {CASES[case].log}")


def _record(broken, case):
  return broken["records"][broken["clip_of"][case]]


def _mean_abs_diff(a, b):
  return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def test_untouched_and_dropped_noise_bodies_give_the_clean_record(broken,
                                                                  clean):
  for case in ("untouched", "five_bodies", "duplicate_body_id"):
    record = _record(broken, case)
    reference = clean[record["name"].decode()]
    for key in ("xyz", "present", "hand_xy_px", "hand_valid", "crops"):
      np.testing.assert_array_equal(record[key], reference[key], err_msg=key)


def test_video_cut_mid_stream_keeps_the_frames_that_decode(broken, clean):
  record = _record(broken, "cut_mid_stream")
  reference = clean[record["name"].decode()]
  t = int(record["num_frames"])
  entry = broken["entries"][record["name"].decode()]
  assert 0 < t < int(reference["num_frames"])
  assert (entry["frames"], entry["video_frames"]) == (t, t)
  assert entry["skeleton_frames"] == entry["container_frames"]
  # Same bytes for the frames before the cut: identical decode.
  np.testing.assert_array_equal(record["crops"], reference["crops"][:t])
  np.testing.assert_array_equal(record["xyz"], reference["xyz"][:t])


@pytest.mark.parametrize("case,delta", [("fewer_frames", -SHORTER_BY),
                                        ("more_frames", LONGER_BY)])
def test_frame_count_mismatch_keeps_the_common_frames(broken, clean, case,
                                                      delta):
  record = _record(broken, case)
  name = record["name"].decode()
  reference = clean[name]
  t_skeleton = int(reference["num_frames"])
  entry = broken["entries"][name]
  assert entry["container_frames"] == t_skeleton + delta
  assert entry["frames"] == int(record["num_frames"]) == min(
      t_skeleton, t_skeleton + delta)
  assert int(record["skeleton_frames"]) == t_skeleton
  t = entry["frames"]
  np.testing.assert_array_equal(record["xyz"], reference["xyz"][:t])
  # Re-encoding changes JPEG noise only.
  assert _mean_abs_diff(record["crops"], reference["crops"][:t]) < 3.0


def test_other_resolution_scales_hands_and_crop_size(broken, clean):
  record = _record(broken, "double_resolution")
  reference = clean[record["name"].decode()]
  assert float(record["crop_size_px"]) == 2 * CROP
  # Hand pixels keep referring to the skeleton's image size.
  np.testing.assert_array_equal(record["hand_xy_px"], reference["hand_xy_px"])
  assert record["image_size"].tolist() == list(IMAGE_SIZE)
  # The crops show the same part of the scene as at the native size ...
  scaled_error = _mean_abs_diff(record["crops"], reference["crops"])
  assert scaled_error < 6.0
  # ... which unscaled positions in the bigger frame would not.
  path = synthetic.video_path(broken["root"], record["name"].decode())
  with video.VideoReader(path) as reader:
    frames = np.stack([f for _, f in reader.read_frames(range(3))])
  unscaled = glimpse_crops.crop_hands(
      frames, reference["hand_xy_px"][:3], reference["hand_valid"][:3], CROP,
      CROP).numpy()
  assert _mean_abs_diff(unscaled, reference["crops"][:3]) > 3 * scaled_error


def test_hands_outside_the_frame_are_cut_at_the_border(broken, clean):
  record = _record(broken, "hands_outside")
  reference = clean[record["name"].decode()]
  frames_kept = [t for t in range(int(record["num_frames"]))
                 if t not in OUTSIDE_FRAMES]
  np.testing.assert_array_equal(record["crops"][frames_kept],
                                reference["crops"][frames_kept])
  # Still valid: the box is shifted inside, onto the nearest border.
  assert record["hand_valid"][list(OUTSIDE_FRAMES), :2].all()
  path = synthetic.video_path(broken["root"], record["name"].decode())
  with video.VideoReader(path) as reader:
    frames = np.stack([f for _, f in reader.read_frames(OUTSIDE_FRAMES)])
  width, height = IMAGE_SIZE
  at_border = np.array([[[(CROP - 1) / 2, height / 2],
                         [width / 2, height - (CROP - 1) / 2]]] * 2,
                       np.float32)
  expected = glimpse_crops.crop_hands(
      frames, np.concatenate([at_border, np.zeros((2, 2, 2), np.float32)], 1),
      np.array([[True, True, False, False]] * 2), CROP, CROP).numpy()
  np.testing.assert_array_equal(record["crops"][list(OUTSIDE_FRAMES), :2],
                                expected[:, :2])


def test_nan_hand_gets_a_zero_crop_and_no_mask(broken, clean):
  record = _record(broken, "nan_hand")
  reference = clean[record["name"].decode()]
  frames = list(NAN_FRAMES)
  assert reference["hand_valid"][frames, 0].all()
  assert not record["hand_valid"][frames, 0].any()
  assert not record["crops"][frames, 0].any()
  assert np.isfinite(record["xyz"]).all() and np.isfinite(
      record["hand_xy_px"]).all()
  # Everything else is untouched.
  valid = reference["hand_valid"].copy()
  valid[frames, 0] = False
  np.testing.assert_array_equal(record["hand_valid"], valid)
  np.testing.assert_array_equal(record["crops"][valid],
                                reference["crops"][valid])
