"""Synthetic SBU- and MSR-format sets, read back by the real readers."""

import cv2
import numpy as np

from posedriven.data import skeletons
from posedriven.data.formats import msr
from posedriven.data.formats import registry
from posedriven.data.formats import sbu
from posedriven.data.synthetic import sbu_msr


def test_sbu_tree_reads_back_with_classes_frames_and_pixels(tmp_path):
  dirs = sbu_msr.generate_sbu(tmp_path, sets=("s01s02",), first_frame=30)
  assert [registry.split_of("sbu_fold1", {"set_name": "s01s02"})] == ["test"]
  sources = registry.list_clips(tmp_path, "sbu")
  assert [s.skeleton_path for s in sources] == dirs and len(dirs) == 8
  clips = [sbu.load_clip(d) for d in dirs]
  assert [c.label for c in clips] == list(range(8))
  clip = clips[5]  # person B, motion 1
  assert clip.skeleton == "sbu" and clip.present.all()
  assert clip.metadata["frame_index"][0] == 30
  frames = sbu.clip_frame_paths(dirs[5], clip)
  assert all(p.is_file() for p in frames)
  assert not (dirs[5] / "rgb_000029.png").exists()
  image = cv2.imread(str(frames[0]))
  assert image.shape == (480, 640, 3)
  # Metres, body in front of the camera, ~1.7 m tall (head above feet).
  head = clip.xyz[:, :, skeletons.SBU.joint_names.index("Head")]
  foot = clip.xyz[:, :, skeletons.SBU.joint_names.index("FootLeft")]
  assert (np.abs(head[..., 1] - foot[..., 1]) > 1.2).all()
  assert ((clip.xyz[..., 2] > 1.5) & (clip.xyz[..., 2] < 5)).all()
  # The file's hand pixels are where the renderer put the hands' objects:
  # the active hand's card is drawn around its pixel in its window.
  hand_px = np.round(clip.hand_xy_px).astype(int)
  t = len(frames) // 2
  image = cv2.imread(str(frames[t]))
  x, y = hand_px[t].T
  inside = (x >= 0) & (x < 640) & (y >= 0) & (y < 480)
  cards = [tuple(image[y[h], x[h]]) for h in range(4) if inside[h]]
  background = cv2.imread(str(frames[0]))
  assert any(np.abs(np.int32(c) - np.int32(background[y[h], x[h]])).sum()
             > 30 for h, c in zip(np.flatnonzero(inside), cards))


def test_sbu_files_hold_the_readme_coordinates_of_the_rendered_bodies(
    tmp_path):
  # Round trip of the real convention: the file holds the README's
  # normalised metric coordinates of the bodies the frames show, and the
  # reader's projection lands on the pixels the renderer drew them at.
  dirs = sbu_msr.generate_sbu(tmp_path, sets=("s01s03",), write_frames=False)
  action = 6  # person B, motion 1
  clip = sbu.load_clip(dirs[action - 1])
  perf = sbu_msr._performance(0, sbu_msr.SBU_SETUP, 103, 1, (action - 1) % 4,
                              (action - 1) // 4, None, True)
  seq = sbu_msr._view_sequence(perf, sbu_msr.SBU_VIEW, sbu_msr._project_sbu)
  joints = sbu_msr._joint_indices(skeletons.SBU, sbu_msr._SBU_FROM_V2)
  # float32 normalised values (ulp <= 2^-23 * 2 of values < 2): back in
  # metres that is < 2560 mm * 2.4e-7 = 0.6 um; 1e-5 m leaves room.
  np.testing.assert_allclose(clip.xyz, seq.xyz[:, :, joints], atol=1e-5)
  hands = [skeletons.KINECT_V2.left_hand, skeletons.KINECT_V2.right_hand]
  rendered = seq.color_xy[:, :, hands].reshape(-1, 4, 2)
  # 0.6 um at >= 1.5 m moves a pixel by 525 * 4e-7 = 2e-4 px; float32
  # pixels round by <= 2^-14 px: 1e-3 px covers both.
  np.testing.assert_allclose(clip.hand_xy_px, rendered, atol=1e-3)
  # Same handedness as NTU (sbu module docstring): up x (right - left
  # shoulder) is where a body faces; the synthetic people face the camera
  # (-Z), which a mirrored file would turn into +Z.
  names = skeletons.SBU.joint_names
  xyz = clip.xyz.astype(np.float64)
  up = xyz[:, :, names.index("Neck")] - xyz[:, :, names.index("Torso")]
  across = (xyz[:, :, names.index("ShoulderRight")] -
            xyz[:, :, names.index("ShoulderLeft")])
  facing = np.cross(up, across)
  assert (facing[..., 2] < 0).all()


def test_sbu_classes_are_motions_of_person_a_or_b():
  # Folder k: motion (k-1) % 4 by person (k-1) // 4, whichever hand.
  for action in (1, 6):
    perf = sbu_msr._performance(0, sbu_msr.SBU_SETUP, 102, 1,
                                (action - 1) % 4, (action - 1) // 4, None,
                                True)
    assert perf.num_people == 2
    assert perf.active_hand // 2 == (action - 1) // 4
    assert perf.motion == (action - 1) % 4


def test_msr_folder_reads_back(tmp_path):
  paths = sbu_msr.generate_msr(tmp_path, num_subjects=2, environments=(1, 2),
                               write_videos=False)
  assert len(paths) == 2 * 8 * 2
  sources = registry.list_clips(tmp_path, "msr")
  assert {s.skeleton_path for s in sources} == set(paths)
  clip = msr.load_clip(tmp_path / "a06_s02_e01_skeleton.txt")
  assert clip.label == 5 and clip.skeleton == "kinect_v1"
  assert clip.present[:, 0].all() and not clip.present[:, 1].any()
  assert registry.split_of("msr_cs", clip.metadata) == "test"
  other = msr.load_clip(tmp_path / "a06_s02_e02_skeleton.txt")
  # Same performance, another camera: same length, other coordinates.
  assert other.num_frames == clip.num_frames
  assert not np.allclose(other.xyz, clip.xyz, atol=0.05)
  # Hands inside the 640x480 frame.
  assert ((clip.hand_xy_px[:, :2] > 0).all() and
          (clip.hand_xy_px[:, :2, 0] < 640).all())


def test_msr_video_has_one_frame_per_skeleton_frame(tmp_path):
  sbu_msr.generate_msr(tmp_path, num_subjects=1, environments=(1,))
  path = tmp_path / "a01_s01_e01_skeleton.txt"
  clip = msr.load_clip(path)
  capture = cv2.VideoCapture(str(msr.video_path(path)))
  shapes = []
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    shapes.append(frame.shape)
  capture.release()
  assert shapes == [(480, 640, 3)] * clip.num_frames


def test_overwrite_replaces_what_other_settings_wrote(tmp_path):
  sbu_root, msr_root = tmp_path / "sbu", tmp_path / "msr"
  sbu_msr.generate_sbu(sbu_root, sets=("s01s02", "s01s03"), seed=0,
                       write_frames=False)
  sbu_file = sbu_root / "s01s02" / "01" / "001" / sbu.SKELETON_FILE
  first = sbu_file.read_bytes()
  # Without overwrite a finished sequence is kept (resumption), whatever
  # the settings: the old seed's file stays.
  sbu_msr.generate_sbu(sbu_root, sets=("s01s02",), seed=1,
                       write_frames=False)
  assert sbu_file.read_bytes() == first
  sbu_msr.generate_sbu(sbu_root, sets=("s01s02",), seed=1,
                       write_frames=False, overwrite=True)
  assert sbu_file.read_bytes() != first
  assert not (sbu_root / "s01s03").exists()  # a set of the old settings
  sbu_msr.generate_msr(msr_root, num_subjects=2, seed=0, write_videos=False)
  msr_file = msr_root / f"a01_s01_e01{msr.SKELETON_SUFFIX}"
  first = msr_file.read_bytes()
  sbu_msr.generate_msr(msr_root, num_subjects=1, seed=1, write_videos=False,
                       overwrite=True)
  assert msr_file.read_bytes() != first
  assert not (msr_root / f"a01_s02_e01{msr.SKELETON_SUFFIX}").exists()
