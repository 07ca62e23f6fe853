"""Face alignment on 49 landmarks, as ADLD's `align_face_49pts` does (docs/method.md §5).

Eye centres (means of 0-based landmarks 19-24 and 25-30) are rotated level; the box
around the two eye centres and landmarks 13, 31 and 37 (after rotation) is enlarged 2.8
times and mapped onto an `output_size` square, its centre on the output's centre pixel.
"""

import cv2
import numpy as np

from au_jax.geometry import GeometryError
from au_jax.geometry import landmarks as lm

BOX_ENLARGE = 2.8
BORDER_VALUE = (128, 128, 128)
# Landmarks that, with the eye centres, bound the face box (0-based, 49 points).
_BOX_POINTS = (13, 31, 37)


class AlignmentError(GeometryError):
  """The landmarks cannot define an alignment (NaN, eyes at one point, zero box)."""


def alignment_matrix(landmarks49, output_size=200, box_enlarge=BOX_ENLARGE):
  """The 2x3 affine matrix that aligns an image with these (49, 2) landmarks."""
  points = np.asarray(landmarks49, dtype=np.float64)
  if points.shape != (lm.NUM_LANDMARKS, 2):
    raise AlignmentError(f'expected (49, 2) landmarks, got shape {points.shape}')
  if not np.all(np.isfinite(points)):
    raise AlignmentError('landmarks contain NaN or infinite values')
  left, right = lm.eye_centres(points)
  delta = right - left
  eye_distance = np.hypot(delta[0], delta[1])
  if eye_distance < 1e-6:
    raise AlignmentError('degenerate landmarks: both eye centres are at one point')
  cos, sin = delta / eye_distance
  rotate = np.array([[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]])

  box = np.stack([left, right] + [points[i] for i in _BOX_POINTS])
  box = box @ rotate[:2, :2].T
  low, high = box.min(axis=0), box.max(axis=0)
  centre = (low + high) / 2
  half_size = 0.5 * box_enlarge * float(np.max(high - low))
  scale = (output_size - 1) / 2.0 / half_size
  to_output = np.array([[scale, 0.0, scale * (half_size - centre[0])],
                        [0.0, scale, scale * (half_size - centre[1])],
                        [0.0, 0.0, 1.0]])
  return (to_output @ rotate)[:2]


def transform_points(points, matrix):
  """Applies a 2x3 affine matrix to (N, 2) points."""
  points = np.asarray(points, dtype=np.float64)
  return points @ matrix[:, :2].T + matrix[:, 2]


def align_face(image, landmarks49, output_size=200, box_enlarge=BOX_ENLARGE):
  """Aligns `image` (H, W, C uint8) on its 49 landmarks.

  Returns (aligned image of output_size x output_size, aligned (49, 2) float32
  landmarks). Raises AlignmentError for NaN or degenerate landmarks.
  """
  matrix = alignment_matrix(landmarks49, output_size, box_enlarge)
  aligned = cv2.warpAffine(image, matrix, (output_size, output_size),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=BORDER_VALUE)
  points = transform_points(landmarks49, matrix).astype(np.float32)
  return aligned, points


def resize_aligned(image, landmarks, output_size):
  """Resizes an already aligned square face and its landmarks (pixel-centre convention)."""
  height, width = image.shape[:2]
  if (height, width) == (output_size, output_size):
    return image, np.asarray(landmarks, dtype=np.float32)
  interpolation = cv2.INTER_AREA if output_size < width else cv2.INTER_LINEAR
  resized = cv2.resize(image, (output_size, output_size), interpolation=interpolation)
  factor = np.array([output_size / width, output_size / height])
  points = (np.asarray(landmarks, dtype=np.float64) + 0.5) * factor - 0.5
  return resized, points.astype(np.float32)
