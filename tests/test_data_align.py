"""Alignment (ADLD align_face_49pts) against an independent NumPy computation."""

import math
import os

import cv2
import numpy as np
import pytest

from au_jax.geometry import landmarks as lm
from au_jax.geometry import align
from data_pipelines import fakes


def adld_reference(land, img_size, box_enlarge=2.8):
  """ADLD's align_face_49pts written out in scalars, as in its PyTorch repository."""
  flat = np.asarray(land, np.float64).reshape(-1)
  left0 = sum(flat[2 * i] for i in range(19, 25)) / 6.0
  left1 = sum(flat[2 * i + 1] for i in range(19, 25)) / 6.0
  right0 = sum(flat[2 * i] for i in range(25, 31)) / 6.0
  right1 = sum(flat[2 * i + 1] for i in range(25, 31)) / 6.0
  dx, dy = right0 - left0, right1 - left1
  length = math.sqrt(dx * dx + dy * dy)
  sin, cos = dy / length, dx / length
  mat1 = np.array([[cos, sin, 0], [-sin, cos, 0], [0, 0, 1]])
  mat2 = np.array([[left0, left1, 1], [right0, right1, 1],
                   [flat[26], flat[27], 1], [flat[62], flat[63], 1], [flat[74], flat[75], 1]])
  mat2 = (mat1 @ mat2.T).T
  cx = (mat2[:, 0].max() + mat2[:, 0].min()) * 0.5
  cy = (mat2[:, 1].max() + mat2[:, 1].min()) * 0.5
  width = mat2[:, 0].max() - mat2[:, 0].min()
  height = mat2[:, 1].max() - mat2[:, 1].min()
  half = 0.5 * box_enlarge * (width if width > height else height)
  scale = (img_size - 1) / 2.0 / half
  mat3 = np.array([[scale, 0, scale * (half - cx)], [0, scale, scale * (half - cy)],
                   [0, 0, 1]])
  mat = mat3 @ mat1
  land3 = np.concatenate([flat.reshape(-1, 2), np.ones((len(flat) // 2, 1))], axis=1)
  return (mat @ land3.T).T[:, :2], mat[:2]


def write_visual_check(path, image, points):
  """Test helper: the aligned face with its landmarks drawn, for a person to look at."""
  canvas = cv2.cvtColor(image, cv2.COLOR_RGB2BGR).copy()
  for x, y in points:
    cv2.circle(canvas, (int(round(x)), int(round(y))), 2, (0, 0, 255), -1)
  left, right = lm.eye_centres(points)
  cv2.line(canvas, tuple(int(v) for v in left), tuple(int(v) for v in right), (0, 255, 0), 1)
  cv2.imwrite(path, canvas)
  return path


@pytest.mark.parametrize('size', [200, 72])
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_align_matches_adld_formula(size, seed):
  image, points68 = fakes.fake_face(np.random.default_rng(seed), 240, 200, face=110.0)
  points = lm.to_49(points68)
  aligned, aligned_points = align.align_face(image, points, output_size=size)
  expected, matrix = adld_reference(points, size)
  assert aligned.shape == (size, size, 3) and aligned.dtype == np.uint8
  assert aligned_points.shape == (49, 2) and aligned_points.dtype == np.float32
  assert np.max(np.abs(aligned_points - expected)) < 0.5
  np.testing.assert_allclose(align.alignment_matrix(points, size), matrix, atol=1e-9)


def test_aligned_eyes_are_level_and_box_centred():
  image, points68 = fakes.fake_face(np.random.default_rng(3), 240, 200, face=110.0,
                                      angle=25.0)
  aligned, points = align.align_face(image, lm.to_49(points68), output_size=200)
  left, right = lm.eye_centres(points)
  assert abs(left[1] - right[1]) < 1e-3  # Rotated level.
  box = np.stack([left, right, points[13], points[31], points[37]])
  centre = (box.min(axis=0) + box.max(axis=0)) / 2
  np.testing.assert_allclose(centre, [99.5, 99.5], atol=1e-3)
  # The box's larger side spans (200 - 1) / 2.8 pixels.
  assert abs(np.max(box.max(axis=0) - box.min(axis=0)) - 199 / 2.8) < 1e-3
  del aligned


def test_image_follows_landmarks():
  """A white dot drawn at a landmark lands at the aligned landmark."""
  rng = np.random.default_rng(4)
  image, points68 = fakes.fake_face(rng, 240, 200, face=110.0, angle=15.0)
  points = lm.to_49(points68)
  image[:] = 0
  x, y = points[13]
  cv2.circle(image, (int(round(x)), int(round(y))), 3, (255, 255, 255), -1)
  aligned, aligned_points = align.align_face(image, points, output_size=200)
  ys, xs = np.nonzero(aligned[..., 0] > 128)
  assert len(xs) > 0
  found = np.array([xs.mean(), ys.mean()])
  assert np.linalg.norm(found - aligned_points[13]) < 1.5


def test_visual_check_image(tmp_path):
  image, points68 = fakes.fake_face(np.random.default_rng(5), 240, 200, face=110.0,
                                      angle=-18.0)
  aligned, points = align.align_face(image, lm.to_49(points68), output_size=200)
  path = write_visual_check(os.fspath(tmp_path / 'aligned_check.png'), aligned, points)
  written = cv2.imread(path)
  assert written.shape == (200, 200, 3)
  # Landmark dots (red in BGR) were drawn inside the image.
  assert np.count_nonzero((written[..., 2] == 255) & (written[..., 1] == 0)) > 49


def test_border_is_grey():
  _, points68 = fakes.fake_face(np.random.default_rng(6), 50, 50, face=45.0)
  image = np.zeros((25, 25, 3), np.uint8)  # Covers only the face's top-left part.
  aligned, _ = align.align_face(image, lm.to_49(points68), output_size=100)
  assert tuple(aligned[-1, -1]) == (128, 128, 128)
  assert tuple(aligned[5, 5]) == (0, 0, 0)


def test_degenerate_eyes_raise():
  _, points68 = fakes.fake_face(np.random.default_rng(7))
  points = lm.to_49(points68)
  points[lm.RIGHT_EYE] = points[lm.LEFT_EYE]
  with pytest.raises(align.AlignmentError, match='eye centres'):
    align.align_face(np.zeros((120, 100, 3), np.uint8), points)


def test_nan_landmarks_raise():
  _, points68 = fakes.fake_face(np.random.default_rng(8))
  points = lm.to_49(points68)
  points[3, 0] = np.nan
  with pytest.raises(align.AlignmentError, match='NaN'):
    align.align_face(np.zeros((120, 100, 3), np.uint8), points)


def test_wrong_shape_raises():
  with pytest.raises(align.AlignmentError, match=r'\(49, 2\)'):
    align.alignment_matrix(np.zeros((68, 2)))


def test_resize_aligned_keeps_landmarks_on_content():
  image, points68 = fakes.fake_face(np.random.default_rng(9), 240, 200, face=110.0)
  aligned, points = align.align_face(image, lm.to_49(points68), output_size=200)
  small, small_points = align.resize_aligned(aligned, points, 72)
  assert small.shape == (72, 72, 3)
  again, again_points = align.align_face(image, lm.to_49(points68), output_size=72)
  # Pixel-centre scaling: same as aligning at 72 up to the alignment's own rounding.
  assert np.max(np.abs(small_points - again_points)) < 0.5
  del again


def test_jpeg_decoded_at_reduced_size_aligns_like_the_full_image(tmp_path):
  # A BP4D-size frame: the alignment shrinks it more than 2x, so prepare decodes the
  # JPEG at half size. The face must come out where the full decode puts it.
  from data_pipelines import fakes, process
  from data_pipelines.records import Record, load_image_file
  image, points = fakes.fake_face(np.random.default_rng(3), 1040, 1392, face=470.0)
  path = os.fspath(tmp_path / 'frame.jpg')
  fakes.write_image(path, image)
  options = process.ProcessOptions(aligned_size=200)
  matrix = align.alignment_matrix(lm.to_49(points), 200)
  assert process.decode_reduction(matrix) == 2
  record = Record(key='a', source='frame.jpg', image_path=path, landmarks=points)
  reduced, reduced_points = process._align_reduced(record, options)
  full, full_points = align.align_face(load_image_file(path), lm.to_49(points), 200)
  np.testing.assert_array_equal(reduced_points, full_points)
  difference = np.abs(reduced.astype(float) - full.astype(float))
  assert difference.mean() < 2.0, difference.mean()  # grey levels of 255
  # The whole record: the same PNG path as before, through the reduced decode.
  png, landmarks = process.process_record(record, None, options)
  np.testing.assert_array_equal(landmarks, full_points)
  decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR),
                         cv2.COLOR_BGR2RGB)
  np.testing.assert_array_equal(decoded, reduced)
  # A small image is not reduced (the alignment enlarges it).
  small = align.alignment_matrix(lm.to_49(fakes.fake_face(np.random.default_rng(0))[1]), 200)
  assert process.decode_reduction(small) == 1


def test_one_inter_ocular_distance_for_68_66_and_49_points():
  rng = np.random.default_rng(0)
  points68 = rng.uniform(0, 100, (3, 68, 2))
  points66 = np.delete(points68, [60, 64], axis=1)  # the 66-point scheme lacks 61 and 65
  expected = np.linalg.norm(points68[:, 36:42].mean(1) - points68[:, 42:48].mean(1), axis=-1)
  for points in (points68, points66, lm.to_49(points68)):
    np.testing.assert_allclose(lm.inter_ocular_distance(points), expected)
  with pytest.raises(ValueError, match='68, 66 or 49'):
    lm.inter_ocular_distance(points68[:, :50])
