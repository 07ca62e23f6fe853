"""Faces in a photo, aligned into model crops as training aligned its data (the `Face`
record, `find_faces`), and the way back from crop pixels to the photo."""

import dataclasses
import time

import cv2
import numpy as np

from au_jax.faces import dlib_detectors
from au_jax.geometry import GeometryError
from au_jax.geometry import align
from au_jax.geometry import landmarks as lm


def as_rgb(image):
  """Any decoded image array -> (H, W, 3) uint8 RGB: greyscale is repeated, alpha is
  composited over the alignment border grey, 16-bit and float [0, 1] are rescaled."""
  image = np.asarray(image)
  if image.dtype == np.uint16:
    image = (image >> 8).astype(np.uint8)
  elif np.issubdtype(image.dtype, np.floating):
    image = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
  elif image.dtype != np.uint8:
    raise GeometryError(f'image of dtype {image.dtype}: expected uint8, uint16 or float')
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if image.ndim == 2:
    return np.stack([image] * 3, axis=-1)
  if image.ndim != 3 or image.shape[-1] not in (3, 4):
    raise GeometryError(f'image of shape {image.shape}: expected (H, W), (H, W, 3) or '
                        '(H, W, 4)')
  if image.shape[-1] == 4:
    alpha = image[..., 3:].astype(np.float32) / 255.0
    rgb = image[..., :3] * alpha + np.float32(align.BORDER_VALUE[0]) * (1.0 - alpha)
    return np.round(rgb).astype(np.uint8)
  return image


@dataclasses.dataclass
class Face:
  """One detected face. Coordinates are (x, y) pixels of the original image."""
  box: tuple            # (x, y, w, h)
  score: float          # the detector's confidence
  landmarks68: np.ndarray   # (68, 2) detector landmarks
  transform: np.ndarray     # 2x3 affine: original pixels -> crop pixels
  crop: np.ndarray          # (crop, crop, 3) uint8, aligned as in training
  au_probs: np.ndarray = None   # (n_au,), after prediction
  landmarks: np.ndarray = None  # (49, 2) model landmarks, after prediction

  def set_prediction(self, au_probs, crop_points=None):
    self.au_probs = np.asarray(au_probs)
    self.landmarks = (None if crop_points is None
                      else crop_to_image(crop_points, self.transform))


def crop_to_image(points, transform):
  """Maps crop-pixel points back to the original image (inverse of `transform`)."""
  inverse = cv2.invertAffineTransform(np.asarray(transform, np.float64))
  return (np.asarray(points, np.float64) @ inverse[:, :2].T + inverse[:, 2]).astype(
      np.float32)


def find_faces(image, detector, crop_size, aligned_size, max_size=1600, timer=None,
               boxes=None):
  """Detects faces and aligns each as training did (align to `aligned_size`, centre crop
  `crop_size`, docs/method.md §5), in one warp per face.

  Images larger than `max_size` are first shrunk (INTER_AREA) for detection and
  alignment: faster, and it avoids the aliasing of a large one-step warp; every
  coordinate is reported in the original pixels.

  boxes: [(x, y, w, h, score)] in original pixels, in the detector's box convention:
  no detection, dlib's landmarks are placed in these boxes (following tracked faces,
  `predict --detect-every`); the result then has one entry per box, None where the
  alignment failed.
  """
  image = as_rgb(image)
  height, width = image.shape[:2]
  s = min(1.0, max_size / max(height, width))
  work = image if s == 1.0 else cv2.resize(
      image, (max(1, round(width * s)), max(1, round(height * s))),
      interpolation=cv2.INTER_AREA)
  s_x, s_y = work.shape[1] / width, work.shape[0] / height
  # Original -> working pixels (pixel-centre convention, as cv2.resize).
  scale = np.array([[s_x, 0, 0.5 * s_x - 0.5], [0, s_y, 0.5 * s_y - 0.5], [0, 0, 1.0]])
  start = time.perf_counter()
  if boxes is None:
    detections = detector(work)
  else:  # working pixels: the inverse of the box mapping below
    work = np.ascontiguousarray(work)
    detections = []
    for x, y, w, h, score in boxes:
      left, top = x * s_x + 0.5 * s_x - 0.5, y * s_y + 0.5 * s_y - 0.5
      detections += dlib_detectors.place_landmarks(
          work, [(left, top, left + w * s_x - 1, top + h * s_y - 1, score)])
  if timer is not None:
    timer['detection'] += time.perf_counter() - start
  offset = (aligned_size - crop_size) // 2
  back = cv2.invertAffineTransform(scale[:2])  # working -> original pixels
  to_image = lambda p: np.asarray(p, np.float64) @ back[:, :2].T + back[:, 2]
  faces = []
  for (x, y, w, h), score, points in detections:
    try:
      matrix = align.alignment_matrix(lm.to_49(points), aligned_size)
    except align.AlignmentError:
      if boxes is not None:
        faces.append(None)
      continue  # degenerate landmarks: no usable alignment
    matrix = matrix - np.array([[0, 0, offset], [0, 0, offset]])  # the centre crop
    crop = cv2.warpAffine(work, matrix, (crop_size, crop_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=align.BORDER_VALUE)
    x0, y0 = to_image([[x, y]])[0]
    box = (float(x0), float(y0), w / s_x, h / s_y)
    faces.append(Face(box=box, score=score,
                      landmarks68=to_image(points).astype(np.float32),
                      transform=(np.vstack([matrix, [0, 0, 1]]) @ scale)[:2],
                      crop=crop))
  return faces
