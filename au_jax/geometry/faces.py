"""Faces in photos: detection with 68-point landmarks, and the alignment into model crops.

`DlibDetector` is the one wrapper of dlib (the optional `[faces]` extra): its HOG
frontal face detector finds faces, its 68-point shape predictor places the landmarks.
The predictor file ships in the `face-recognition-models` package; its path is found
with importlib without importing that package, whose import needs the removed
`pkg_resources`. `prepare --detect-landmarks` labels target images with it and `predict`
finds faces with it.

`find_faces` detects and aligns every face of a photo as training aligned its data
(docs/method.md §5) and keeps the transform that maps crop pixels back to the photo.
"""

import dataclasses
import functools
import importlib.util
import os
import time
from typing import NamedTuple

import cv2
import numpy as np

from au_jax.geometry import GeometryError
from au_jax.geometry import align
from au_jax.geometry import landmarks as lm

MODEL_FILE = os.path.join('models', 'shape_predictor_68_face_landmarks.dat')
_INSTALL_HINT = 'install the faces extra: pip install -e ".[faces]"'


class Detection(NamedTuple):
  box: tuple              # (left, top, right, bottom) pixels
  score: float            # the detector's confidence
  landmarks68: np.ndarray  # (68, 2) float32 (x, y) pixels


def predictor_path():
  """Path of dlib's 68-point model inside the face-recognition-models package."""
  spec = importlib.util.find_spec('face_recognition_models')
  if spec is None or not spec.submodule_search_locations:
    raise GeometryError(f'face detection needs the face-recognition-models package; '
                        f'{_INSTALL_HINT}')
  path = os.path.join(list(spec.submodule_search_locations)[0], MODEL_FILE)
  if not os.path.isfile(path):
    raise GeometryError(f'{path}: dlib 68-point model missing; reinstall '
                        f'face-recognition-models')
  return path


@functools.lru_cache(maxsize=1)
def _models():
  try:
    import dlib  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise GeometryError(f'face detection needs dlib; {_INSTALL_HINT}') from None
  return dlib.get_frontal_face_detector(), dlib.shape_predictor(predictor_path())


def check_available():
  """Raises GeometryError now (not after reading a data set) if dlib or its model is
  missing."""
  _models()


class DlibDetector:
  """dlib's HOG face detector and 68-point shape predictor.

  upsample: 0 finds faces of about 80 pixels and more, 1 down to about 40 (4x slower;
  such small faces are upscaled 2-4x by alignment, little use for AUs).
  min_score: the detector's score threshold. dlib's own is 0, but its HOG model then
  also fires on round, textured things (the mission patch of scikit-image's astronaut
  scores 0.04-0.12 while her face scores 1.5); 0.3 drops those and keeps clear faces.
  """

  def __init__(self, upsample=0, min_score=0.3):
    self._detector, self._predictor = _models()
    self.upsample, self.min_score = int(upsample), float(min_score)

  def __call__(self, image_rgb):
    """[Detection], largest face first."""
    image = np.ascontiguousarray(image_rgb, dtype=np.uint8)
    rects, scores, _ = self._detector.run(image, self.upsample, self.min_score)
    found = []
    for rect, score in zip(rects, scores):
      shape = self._predictor(image, rect)
      points = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
      found.append(Detection((rect.left(), rect.top(), rect.right(), rect.bottom()),
                             float(score), points))
    found.sort(key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    return found


@functools.lru_cache(maxsize=1)
def default_detector():
  """One DlibDetector with default settings (its 68-point model takes a second to load)."""
  return DlibDetector()


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


def find_faces(image, detector, crop_size, aligned_size, max_size=1600, timer=None):
  """Detects faces and aligns each as training did (align to `aligned_size`, centre crop
  `crop_size`, docs/method.md §5), in one warp per face.

  Images larger than `max_size` are first shrunk (INTER_AREA) for detection and
  alignment: faster, and it avoids the aliasing of a large one-step warp; every
  coordinate is reported in the original pixels.
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
  detections = detector(work)
  if timer is not None:
    timer['detection'] += time.perf_counter() - start
  offset = (aligned_size - crop_size) // 2
  back = cv2.invertAffineTransform(scale[:2])  # working -> original pixels
  to_image = lambda p: np.asarray(p, np.float64) @ back[:, :2].T + back[:, 2]
  faces = []
  for (left, top, right, bottom), score, points in detections:
    try:
      matrix = align.alignment_matrix(lm.to_49(points), aligned_size)
    except align.AlignmentError:
      continue  # degenerate landmarks: no usable alignment
    matrix = matrix - np.array([[0, 0, offset], [0, 0, offset]])  # the centre crop
    crop = cv2.warpAffine(work, matrix, (crop_size, crop_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=align.BORDER_VALUE)
    x0, y0 = to_image([[left, top]])[0]
    box = (float(x0), float(y0), (right - left + 1) / s_x, (bottom - top + 1) / s_y)
    faces.append(Face(box=box, score=score,
                      landmarks68=to_image(points).astype(np.float32),
                      transform=(np.vstack([matrix, [0, 0, 1]]) @ scale)[:2],
                      crop=crop))
  return faces
