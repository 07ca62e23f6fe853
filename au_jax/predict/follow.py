"""Which faces a frame has: detection, or in videos following the faces of the frame before.

A photo, and a video frame by default, gets a full detection. With `detect_every` K > 1
the detector runs on every K-th frame only (it is most of the time of a frame); in
between, each face's landmarks are placed in a box seeded from its landmarks in the
last frame, and the face is kept if it is where its track predicted it and the detector
`confirm`s it in a small window around that box, a fraction of a full detection's cost.
One face lost sends the frame to a full detection, so following never invents a face.
"""

import time

import cv2
import numpy as np

from au_jax import tracking
from au_jax import faces as faces_lib
from au_jax.geometry import landmarks as lm

# A followed face must stay within this many inter-ocular distances of where its track
# predicted it, at 0.8-1.25 times its size; else the frame gets a full detection.
FOLLOW_DISTANCE, FOLLOW_SCALE = 0.5, 1.25
# Followed landmarks farther than this from the prediction are placed a second time.
REFINE_DISTANCE = 0.1


def confirm(detector, image, box, side=160, margin=0.35):
  """Whether `detector` (with a .boxes method) finds a face overlapping `box` (x, y, w,
  h) in a window `margin` box sizes larger on each side, shrunk so that the box is at
  most `side` pixels wide: a check that costs a fraction of a full detection."""
  x, y, w, h = box
  height, width = image.shape[:2]
  x0, y0 = max(0, int(x - margin * w)), max(0, int(y - margin * h))
  x1 = min(width, int(np.ceil(x + (1 + margin) * w)))
  y1 = min(height, int(np.ceil(y + (1 + margin) * h)))
  if x1 - x0 < 8 or y1 - y0 < 8:
    return False
  window = image[y0:y1, x0:x1]
  s = min(1.0, side / max(w, 1.0))
  if s < 1.0:
    window = cv2.resize(window, (max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s))),
                        interpolation=cv2.INTER_AREA)
  for left, top, right, bottom, _ in detector.boxes(np.ascontiguousarray(window)):
    found = (x0 + left / s, y0 + top / s, (right - left) / s, (bottom - top) / s)
    if tracking.iou(found, box) >= 0.3:
      return True
  return False


class FaceFinder:
  """The faces of photos and video frames, aligned for `predictor`; counts its work
  (detection time, frames detected, faces followed) in `summary`, a progress.Summary."""

  def __init__(self, detector, predictor, max_size, detect_every, summary):
    self.detector, self.predictor = detector, predictor
    self.max_size, self.detect_every, self.summary = max_size, detect_every, summary

  def _find(self, image, **kw):
    return faces_lib.find_faces(image, self.detector, self.predictor.crop_size,
                                self.predictor.aligned_size, self.max_size,
                                timer=self.summary.timer, **kw)

  def find(self, image, tracker=None, n=0):
    """(faces, track ids) of a photo (tracker None: ids are the face indices) or of the
    n-th processed frame of a video."""
    if tracker is None:
      faces = self._find(image)
      return faces, list(range(len(faces)))
    if self.detect_every > 1 and n % self.detect_every:
      seeds = tracker.seeds(n)
      if not seeds:  # nobody to follow: new faces wait for the next detection
        tracker.follow(n, [])
        return [], []
      pairs = self._follow(image, tracker, n, seeds)
      if pairs is not None:
        self.summary.followed += len(pairs)
        return [f for _, f in pairs], [t for t, _ in pairs]
    faces = self._find(image)
    self.summary.detected += 1
    return faces, tracker.update(n, faces)

  def _follow(self, image, tracker, n, seeds):
    """[(track id, face)] placed at the seeds, or None when one of them is lost (not
    where its track predicted it, or not confirmed by the detector)."""
    faces = self._find(image, boxes=[(*box, score) for _, box, score in seeds])
    predicted = {t.id: t.predicted(n)[1] for t in tracker.tracks}
    # Far from the prediction (fast motion): once more in the box the detector would
    # place on these landmarks; dlib's model lands closer from a closer box.
    offsets = {t.id: t.box_offset for t in tracker.tracks}
    if all(f is not None for f in faces) and any(
        tracking.landmark_distance(predicted[track], face.landmarks68) > REFINE_DISTANCE
        for (track, _, _), face in zip(seeds, faces)):
      faces = self._find(image, boxes=[
          (*tracking.place_box(offsets[track], face.landmarks68), score)
          for (track, _, score), face in zip(seeds, faces)])
    start = time.perf_counter()
    try:
      for (track, box, _), face in zip(seeds, faces):
        if face is None:
          return None
        ratio = (lm.inter_ocular_distance(face.landmarks68)
                 / max(lm.inter_ocular_distance(predicted[track]), 1e-6))
        if (tracking.landmark_distance(predicted[track], face.landmarks68) > FOLLOW_DISTANCE
            or not 1 / FOLLOW_SCALE <= ratio <= FOLLOW_SCALE):
          return None
        if hasattr(self.detector, 'boxes') and not confirm(self.detector, image, face.box):
          return None
    finally:
      self.summary.timer['detection'] += time.perf_counter() - start
    pairs = [(track, face) for (track, _, _), face in zip(seeds, faces)]
    tracker.follow(n, pairs)
    return pairs
