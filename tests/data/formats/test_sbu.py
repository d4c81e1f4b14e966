"""SBU Kinect Interaction reader on tiny hand-written files."""

from __future__ import annotations

import numpy as np
import pytest

from posedriven.data.formats import sbu
from posedriven.data import skeletons


def _normalized(t: int) -> np.ndarray:
  """Distinct, exactly representable values ``[T, 2, 15, 3]`` in [0, 1]."""
  values = np.zeros((t, 2, 15, 3))
  for f in range(t):
    for p in range(2):
      for j in range(15):
        values[f, p, j] = [(j + 1) / 32, (p + 1) / 4 + f / 64, (f + 1) / 8]
  return values


def _row(frame: int, values: np.ndarray) -> str:
  return ",".join([str(frame)] + [repr(float(v)) for v in values.ravel()])


def _write_sequence(root, set_name="s01s02", action="03", seq="002", t=3,
                    first_frame=1, rows=None):
  seq_dir = root / set_name / action / seq
  seq_dir.mkdir(parents=True)
  values = _normalized(t)
  if rows is None:
    rows = [_row(first_frame + f, values[f]) for f in range(t)]
  (seq_dir / "skeleton_pos.txt").write_text("\n".join(rows) + "\n")
  return seq_dir, values


def test_denormalize_known_values():
  got = sbu.denormalize(np.array([[0.5, 0.5, 0.0], [0.25, 0.75, 0.5],
                                  [0.0, 0.0, 1.0]]))
  # X = 1280 - 2560 x, Y = 960 - 1920 y, Z = z * 10000 / 7.8125 (mm) / 1000.
  # Exact binary inputs; float32 metres <= 1.28 round by <= 1.28 * 2^-24
  # = 7.6e-8 < 1e-7.
  np.testing.assert_allclose(got, [[0.0, 0.0, 0.0], [0.64, -0.48, 0.64],
                                   [1.28, 0.96, 1.28]], atol=1e-7)


def test_load_skeleton_file_values(tmp_path):
  seq_dir, values = _write_sequence(tmp_path, first_frame=5)
  data = sbu.load_skeleton_file(seq_dir / "skeleton_pos.txt")
  assert data.num_frames == 3
  np.testing.assert_array_equal(data.frame_index, [5, 6, 7])
  np.testing.assert_array_equal(data.normalized, values.astype(np.float32))
  # Frame 0, person B (index 1), joint 2 (index 1): x=2/32, y=1/2, z=1/8.
  # float32 metres <= 1.28: rounding <= 7.6e-8, well inside 1e-6.
  np.testing.assert_allclose(
      data.xyz[0, 1, 1],
      [(1280 - 2560 * 2 / 32) / 1000, (960 - 1920 * 0.5) / 1000,
       0.125 * 10000 / 7.8125 / 1000], atol=1e-6)
  x_mm, y_mm, z_mm = 1280 - 2560 * 2 / 32, 960 - 1920 * 0.5, 160.0
  # The file values 2/32, 1/2, 1/8 are exact binary fractions, the
  # projection runs in float64 and is rounded once to float32: relative
  # error <= 2^-24 = 6e-8; rtol 1e-6 is 16x that.
  np.testing.assert_allclose(data.color_xy_px[0, 1, 1],
                             [319.5 + 525 * x_mm / z_mm,
                              239.5 - 525 * y_mm / z_mm], rtol=1e-6)
  assert data.xyz.dtype == np.float32 and data.xyz.shape == (3, 2, 15, 3)


def test_load_clip(tmp_path):
  seq_dir, values = _write_sequence(tmp_path)
  clip = sbu.load_clip(seq_dir)
  assert clip.name == "s01s02_a03_002"
  assert clip.label == 2 and sbu.SBU_CLASS_NAMES[clip.label] == "kicking"
  assert clip.skeleton == "sbu"
  assert clip.image_size == (640, 480)
  assert clip.xyz.shape == (3, 2, 15, 3)
  assert clip.present.all()
  assert clip.hand_valid.all()
  assert clip.metadata["set_name"] == "s01s02"
  assert clip.metadata["subject_pair"] == (1, 2)
  assert clip.metadata["action"] == 3
  assert clip.metadata["sequence"] == 2
  assert clip.metadata["frame_index"] == (1, 2, 3)
  # Hands in HAND_NAMES order: A left, A right, B left, B right.
  left, right = skeletons.SBU.left_hand, skeletons.SBU.right_hand
  pixels = _readme_pixels(values)
  expected = np.stack([pixels[:, 0, left], pixels[:, 0, right],
                       pixels[:, 1, left], pixels[:, 1, right]], axis=1)
  # float32 pixels (< 2^13 here): relative error <= 2^-24 < 1e-6.
  np.testing.assert_allclose(clip.hand_xy_px, expected, rtol=1e-6)


def _readme_pixels(normalized, fx=525.0, fy=525.0, cx=319.5, cy=239.5):
  """The SBU README's formulas, then the pinhole projection, in float64."""
  normalized = np.asarray(normalized, np.float64)
  x_mm = 1280 - 2560 * normalized[..., 0]
  y_mm = 960 - 1920 * normalized[..., 1]
  z_mm = normalized[..., 2] * 10000 / 7.8125
  return np.stack([cx + fx * x_mm / z_mm, cy - fy * y_mm / z_mm], -1)


def test_pixels_are_the_projection_of_the_readme_coordinates():
  rng = np.random.default_rng(3)
  # Real SBU ranges: x, y in [0, 1.2], depth 1.2-3.5 m (z = Z_mm / 1280).
  values = np.stack([rng.uniform(0, 1.2, 50), rng.uniform(0, 1.2, 50),
                     rng.uniform(1.2, 3.5, 50) / 1.28], -1)
  got = sbu.to_pixels(values)
  assert got.dtype == np.float32
  # float64 projection rounded once to float32; |u|, |v| < 2^11 px here
  # (|X/Z| < 1.5), so the rounding is <= half an ulp = 2^-13 px < 1e-3.
  np.testing.assert_allclose(got, _readme_pixels(values), atol=1e-3)
  # The same through metres: project_to_color takes any length unit
  # (float64 throughout, rounded once to float32: the same 2^-13 px bound).
  np.testing.assert_allclose(
      sbu.project_to_color(sbu.denormalize(values), sbu.KINECT_V1_COLOR),
      _readme_pixels(values), atol=1e-3)
  # (denormalize's float32 metres carry 6e-8 relative error into X and Z:
  # 525 px * |X/Z| < 1.5 * 1.2e-7 = 1e-4 px, plus the 2^-13 px above.)


@pytest.mark.parametrize("depth_m", [1.05, 1.6, 2.1, 2.8, 4.2])
def test_offset_from_the_centre_shrinks_as_one_over_depth(depth_m):
  # Same normalised x, y at another depth: the pixel's offset from the
  # principal point scales by 2.1 m / Z (f = 525 px: 2.1 m = 4 f mm).
  xy = np.array([[0.2, 0.3], [0.5, 0.5], [0.9, 0.75]])
  z = np.full((3, 1), depth_m * 1000 * 7.8125 / 10000)
  offset = sbu.to_pixels(np.concatenate([xy, z], 1)) - [319.5, 239.5]
  offset_at_2p1 = np.stack([320 - 640 * xy[:, 0], 480 * xy[:, 1] - 240], -1)
  # float32 pixels below 2^10: rounding <= 2^-14 px; 1e-3 covers it.
  np.testing.assert_allclose(offset, offset_at_2p1 * 2.1 / depth_m, atol=1e-3)


def test_linear_formula_recovered_at_2p1_m_with_u_mirrored():
  # At Z = 4 f mm = 2100 mm the projection is linear in x, y: v is the old
  # 480 y (half a pixel off: cy = 239.5), u is 640 (1 - x), the mirror of
  # the old 640 x (the real-frame evidence in the module docstring).
  x, y = np.meshgrid(np.linspace(0, 1, 11), np.linspace(0, 1, 7))
  values = np.stack([x, y, np.full_like(x, 2100 * 7.8125 / 10000)], -1)
  got = sbu.to_pixels(values)
  # float32 pixels below 2^10: rounding <= 2^-14 px; 1e-3 covers it.
  np.testing.assert_allclose(got[..., 1], 480 * y - 0.5, atol=1e-3)
  np.testing.assert_allclose(got[..., 0], 640 * (1 - x) - 0.5, atol=1e-3)
  # ...and only there: at 1.6 m a hand near the edge is tens of px away.
  values[..., 2] = 1600 * 7.8125 / 10000
  far = np.abs(sbu.to_pixels(values)[..., 0] - (640 * (1 - x) - 0.5))
  assert far.max() > 90


def test_normalize_inverts_denormalize():
  xyz = np.random.default_rng(1).uniform([-1.5, -1, 1], [1.5, 1, 4],
                                         (20, 3))
  # float64 normalise, float32 metres out: relative error ~6e-8 of <= 4 m.
  np.testing.assert_allclose(sbu.denormalize(sbu.normalize(xyz)), xyz,
                             atol=1e-6)
  # float64 throughout on exact inputs: rounding ~1e-16 of values <= 1.
  np.testing.assert_allclose(sbu.normalize([[0.0, 0.0, 1.28]]),
                             [[0.5, 0.5, 1.0]], atol=1e-12)


def test_intrinsics_are_gin_bindable(tmp_path):
  import gin
  seq_dir, values = _write_sequence(tmp_path)
  default = sbu.load_clip(seq_dir)
  gin.parse_config(["sbu_color_camera.fx = 580.0",
                    "sbu_color_camera.cy = 260.0"])
  bound = sbu.load_clip(seq_dir)
  left = skeletons.SBU.left_hand
  # float32 pixels (< 2^13 here): relative error <= 2^-24 < 1e-6.
  np.testing.assert_allclose(
      bound.hand_xy_px[:, 0],
      _readme_pixels(values[:, 0, left], fx=580.0, cy=260.0), rtol=1e-6)
  assert not np.allclose(bound.hand_xy_px, default.hand_xy_px)
  # An explicit camera wins over the binding.
  explicit = sbu.load_clip(seq_dir, camera=sbu.KINECT_V1_COLOR)
  np.testing.assert_array_equal(explicit.hand_xy_px, default.hand_xy_px)
  with pytest.raises(ValueError, match="focal"):
    sbu.color_camera(fx=0.0)


def test_tracked_joint_at_depth_zero_has_no_hand(tmp_path):
  values = _normalized(2)
  left = skeletons.SBU.left_hand
  values[1, 0, left, 2] = 0.0  # person A's left hand without depth
  rows = [_row(f + 1, values[f]) for f in range(2)]
  seq_dir, _ = _write_sequence(tmp_path, t=2, rows=rows)
  clip = sbu.load_clip(seq_dir)
  assert clip.present.all()
  np.testing.assert_array_equal(clip.hand_valid,
                                [[1, 1, 1, 1], [0, 1, 1, 1]])
  assert (clip.hand_xy_px[1, 0] == 0).all()


def test_wrong_column_count_names_file_and_line(tmp_path):
  values = _normalized(2)
  rows = [_row(1, values[0]), _row(2, values[1]) + ",0.5"]
  seq_dir, _ = _write_sequence(tmp_path, rows=rows)
  with pytest.raises(sbu.SbuFormatError, match=r"skeleton_pos\.txt:2: .*92"):
    sbu.load_clip(seq_dir)


def test_non_numeric_names_line(tmp_path):
  values = _normalized(2)
  tokens = _row(2, values[1]).split(",")
  tokens[5] = "abc"
  rows = [_row(1, values[0]), "", ",".join(tokens)]
  seq_dir, _ = _write_sequence(tmp_path, rows=rows)
  with pytest.raises(sbu.SbuFormatError, match=r":3: non-numeric value 'abc'"):
    sbu.load_skeleton_file(seq_dir / "skeleton_pos.txt")


def test_empty_file(tmp_path):
  seq_dir, _ = _write_sequence(tmp_path, rows=["", "  "])
  with pytest.raises(sbu.SbuFormatError, match="no frames"):
    sbu.load_clip(seq_dir)


def test_missing_file_and_bad_layout(tmp_path):
  missing = tmp_path / "s01s02" / "01" / "001"
  missing.mkdir(parents=True)
  with pytest.raises(sbu.SbuFormatError, match="cannot read"):
    sbu.load_clip(missing)
  bad = tmp_path / "set1" / "01" / "001"
  with pytest.raises(ValueError, match="not an SBU sequence directory"):
    sbu.load_clip(bad)
  with pytest.raises(ValueError, match="outside 01-08"):
    sbu.parse_sequence_dir(tmp_path / "s01s02" / "09" / "001")


def test_list_sequences_sorted_and_filtered(tmp_path):
  _write_sequence(tmp_path, "s02s01", "01", "001")
  _write_sequence(tmp_path, "s01s02", "02", "001")
  _write_sequence(tmp_path, "s01s02", "01", "002")
  (tmp_path / "notes" / "01" / "001").mkdir(parents=True)
  (tmp_path / "notes" / "01" / "001" / "skeleton_pos.txt").write_text("")
  found = sbu.list_sequences(tmp_path)
  assert [p.relative_to(tmp_path).as_posix() for p in found] == [
      "s01s02/01/002", "s01s02/02/001", "s02s01/01/001"]
  with pytest.raises(FileNotFoundError):
    sbu.list_sequences(tmp_path / "nope")


def test_frame_path(tmp_path):
  assert sbu.frame_path(tmp_path, 7) == tmp_path / "rgb_000007.png"


def test_folds_cover_21_sets_once():
  sets = [s for fold in sbu.SBU_FOLDS for s in fold]
  assert len(sets) == 21 == len(set(sets))
  assert [len(f) for f in sbu.SBU_FOLDS] == [4, 4, 4, 4, 5]


def test_fold_split():
  assert sbu.fold_split("s01s02", 1) == "test"
  assert sbu.fold_split("s01s02", 2) == "train"
  assert sbu.fold_split("s06s03", 5) == "test"
  assert sbu.fold_split("s07s01", 3) == "test"
  for set_name in sbu.SBU_SETS:
    splits = [sbu.fold_split(set_name, k) for k in range(1, 6)]
    assert splits.count("test") == 1
  with pytest.raises(ValueError, match="fold must be"):
    sbu.fold_split("s01s02", 0)
  with pytest.raises(ValueError, match="unknown SBU set"):
    sbu.fold_split("s09s09", 1)


# Real recordings (issue 13): what real skeleton_pos.txt files look like.


def test_windows_line_endings_trailing_blank_lines_and_any_first_frame(
    tmp_path):
  seq_dir = tmp_path / "s01s02" / "01" / "001"
  seq_dir.mkdir(parents=True)
  values = _normalized(3)
  rows = [_row(f, values[i]) for i, f in enumerate((118, 119, 121))]
  (seq_dir / "skeleton_pos.txt").write_bytes(
      ("\r\n".join(rows) + "\r\n\r\n\r\n").encode("ascii"))
  clip = sbu.load_clip(seq_dir)
  assert clip.metadata["frame_index"] == (118, 119, 121)
  # The file holds repr() of exact values, read as float32: both sides are
  # float32 metres <= 1.28 (rounding <= 7.6e-8 each), inside 1e-6.
  np.testing.assert_allclose(clip.xyz, sbu.denormalize(values), atol=1e-6)
  assert sbu.clip_frame_paths(seq_dir, clip)[0].name == "rgb_000118.png"


def test_person_missing_in_some_frames(tmp_path):
  values = _normalized(4)
  values[1, 1] = 0.0   # person B lost in frame 2: 45 zeros
  rows = [_row(f + 1, values[f]) for f in range(4)]
  # Frame 4: the row stops after person A.
  rows[3] = _row(4, values[3, 0])
  seq_dir, _ = _write_sequence(tmp_path, t=4, rows=rows)
  clip = sbu.load_clip(seq_dir)
  np.testing.assert_array_equal(clip.present,
                                [[1, 1], [1, 0], [1, 1], [1, 0]])
  assert (clip.xyz[1, 1] == 0).all() and (clip.xyz[3, 1] == 0).all()
  # As above: float32 metres <= 1.28 on both sides, rounding <= 7.6e-8.
  np.testing.assert_allclose(clip.xyz[3, 0], sbu.denormalize(values[3, 0]),
                             atol=1e-6)
  # Person B's hands are not valid where B is missing.
  np.testing.assert_array_equal(clip.hand_valid[:, 2:],
                                [[1, 1], [0, 0], [1, 1], [0, 0]])


def test_nobody_tracked_is_an_error(tmp_path):
  rows = [_row(f + 1, np.zeros((2, 15, 3))) for f in range(2)]
  seq_dir, _ = _write_sequence(tmp_path, t=2, rows=rows)
  with pytest.raises(sbu.SbuFormatError, match="skeleton_pos.txt.*tracked"):
    sbu.load_clip(seq_dir)


def test_bad_row_after_good_ones_names_its_line_with_crlf(tmp_path):
  values = _normalized(3)
  rows = [_row(f + 1, values[f]) for f in range(3)]
  rows[2] = rows[2].rsplit(",", 3)[0]  # 88 values
  seq_dir = tmp_path / "s01s02" / "01" / "001"
  seq_dir.mkdir(parents=True)
  (seq_dir / "skeleton_pos.txt").write_bytes(
      ("\r\n".join(rows) + "\r\n").encode("ascii"))
  with pytest.raises(sbu.SbuFormatError,
                     match=r"skeleton_pos.txt:3: row has 88 comma"):
    sbu.load_skeleton_file(seq_dir / "skeleton_pos.txt")


def test_format_rows_round_trips(tmp_path):
  values = np.random.default_rng(0).uniform(0, 1, (5, 2, 15, 3))
  values[2, 1] = 0.0
  path = tmp_path / "skeleton_pos.txt"
  path.write_text(sbu.format_rows(np.arange(40, 45), values))
  data = sbu.load_skeleton_file(path)
  np.testing.assert_array_equal(data.frame_index, np.arange(40, 45))
  np.testing.assert_array_equal(data.normalized, values.astype(np.float32))
  assert not data.present[2, 1] and data.present.sum() == 9
