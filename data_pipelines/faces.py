"""Face detection and 68-point landmarks with dlib (the optional `[faces]` extra).

dlib's HOG frontal face detector finds faces; its 68-point shape predictor places the
landmarks. The predictor file ships in the `face-recognition-models` package; its path
is found with importlib without importing that package, whose import needs the removed
`pkg_resources`. Used by `prepare --detect-landmarks` and by `predict`.
"""

import functools
import importlib.util
import os

import numpy as np

from data_pipelines.errors import DataError

MODEL_FILE = os.path.join('models', 'shape_predictor_68_face_landmarks.dat')
_INSTALL_HINT = 'install the faces extra: pip install -e ".[faces]"'


def predictor_path():
  """Path of dlib's 68-point model inside the face-recognition-models package."""
  spec = importlib.util.find_spec('face_recognition_models')
  if spec is None or not spec.submodule_search_locations:
    raise DataError(f'face detection needs the face-recognition-models package; '
                    f'{_INSTALL_HINT}')
  path = os.path.join(list(spec.submodule_search_locations)[0], MODEL_FILE)
  if not os.path.isfile(path):
    raise DataError(f'{path}: dlib 68-point model missing; reinstall '
                    f'face-recognition-models')
  return path


@functools.lru_cache(maxsize=1)
def _models():
  try:
    import dlib  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise DataError(f'face detection needs dlib; {_INSTALL_HINT}') from None
  return dlib, dlib.get_frontal_face_detector(), dlib.shape_predictor(predictor_path())


def check_available():
  """Raises DataError now (not after reading a data set) if dlib or its model is missing."""
  _models()


def detect_faces(image_rgb, upsample=1):
  """Finds faces in an RGB uint8 image.

  Returns a list of (box, landmarks68): box = (left, top, right, bottom) in pixels,
  landmarks68 a (68, 2) float32 array of (x, y) pixels; largest face first.
  """
  _, detector, predictor = _models()
  image = np.ascontiguousarray(image_rgb, dtype=np.uint8)
  faces = []
  for rect in detector(image, upsample):
    shape = predictor(image, rect)
    points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
    faces.append(((rect.left(), rect.top(), rect.right(), rect.bottom()), points))
  faces.sort(key=lambda f: -(f[0][2] - f[0][0]) * (f[0][3] - f[0][1]))
  return faces
