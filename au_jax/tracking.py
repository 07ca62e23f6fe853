"""Face tracks in a video: the same person keeps the same id from frame to frame.

Each frame's faces are matched to the tracks of the last frames by the overlap of their
boxes (intersection over union) and by the distance between their 68 landmarks, in
inter-ocular distances; a track's box and landmarks are first moved by its velocity, so
two faces that cross keep their ids. The matching is a minimum-cost assignment
(scipy's linear_sum_assignment). A track that finds no face keeps its id for `patience`
frames; a face that matches no track starts a new id (0, 1, 2... per video, never
reused). `au-jax predict` writes the id in the `track` column.

`Tracker.seeds()` gives, for `predict --detect-every K`, where each live track's face
should be in the next frame: its landmarks moved by its velocity and the detector's box
placed on them as the detector last placed it relative to the landmarks.
"""

import dataclasses

import numpy as np

from au_jax.geometry import landmarks as lm


def iou(a, b):
  """Intersection over union of two (x, y, w, h) boxes."""
  x0, y0 = max(a[0], b[0]), max(a[1], b[1])
  x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
  inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
  union = a[2] * a[3] + b[2] * b[3] - inter
  return inter / union if union > 0 else 0.0


def landmark_distance(a, b):
  """Mean distance between two (68, 2) landmark sets, in inter-ocular distances of `a`."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return float(np.linalg.norm(a - b, axis=1).mean() / max(lm.inter_ocular_distance(a), 1e-6))


@dataclasses.dataclass
class Track:
  id: int
  box: tuple               # (x, y, w, h) of the last face
  landmarks68: np.ndarray  # (68, 2) of the last face
  last_frame: int          # the frame index it was last seen in
  velocity: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(2))
  box_offset: tuple = None  # the detector's box relative to the landmarks (seeds)
  missed: int = 0           # frames since it was last seen
  frames: int = 0           # frames seen
  score: float = 0.0        # the detector's score when it last found the face

  def predicted(self, frame):
    """(box, landmarks) moved by the velocity to `frame`."""
    shift = self.velocity * (frame - self.last_frame)
    x, y, w, h = self.box
    return (x + shift[0], y + shift[1], w, h), self.landmarks68 + shift


def _centre_scale(landmarks68):
  points = np.asarray(landmarks68, np.float64)
  return points.mean(0), max(float(lm.inter_ocular_distance(points)), 1e-6)


def box_offset(box, landmarks68):
  """The box relative to the landmarks: (dx, dy, w, h) in inter-ocular distances from
  the landmarks' centre."""
  centre, scale = _centre_scale(landmarks68)
  x, y, w, h = box
  return ((x - centre[0]) / scale, (y - centre[1]) / scale, w / scale, h / scale)


def place_box(offset, landmarks68):
  """The inverse of `box_offset`: a box (x, y, w, h) on these landmarks."""
  centre, scale = _centre_scale(landmarks68)
  dx, dy, w, h = offset
  return (centre[0] + dx * scale, centre[1] + dy * scale, w * scale, h * scale)


class Tracker:
  """Assigns track ids to the faces of successive frames of one video.

  patience: frames a track survives without a face (then its id ends);
  min_iou, max_distance: a face continues a track only if their boxes overlap by at least
  `min_iou` or their landmarks lie within `max_distance` inter-ocular distances;
  smoothing: weight of the newest motion in the velocity (0: no motion model).
  """

  def __init__(self, patience=10, min_iou=0.3, max_distance=0.6, smoothing=0.5):
    if patience < 0:
      raise ValueError('patience must be 0 or more')
    self.patience, self.min_iou, self.max_distance = patience, min_iou, max_distance
    self.smoothing = smoothing
    self.tracks = []
    self.next_id = 0

  def cost(self, track, frame, box, landmarks68):
    """The matching cost of a face for a track, or None if it cannot continue it."""
    p_box, p_points = track.predicted(frame)
    overlap = iou(p_box, box)
    distance = landmark_distance(p_points, landmarks68)
    if overlap < self.min_iou and distance > self.max_distance:
      return None
    return (1.0 - overlap) + distance

  def update(self, frame, faces):
    """Track ids for `faces` (objects with .box and .landmarks68) of frame index `frame`,
    in their order; updates the tracks and ends those out of patience."""
    from scipy.optimize import linear_sum_assignment  # pylint: disable=g-import-not-at-top
    ids = [None] * len(faces)
    if self.tracks and faces:
      big = 1e6
      costs = np.full((len(self.tracks), len(faces)), big)
      for i, track in enumerate(self.tracks):
        for j, face in enumerate(faces):
          c = self.cost(track, frame, face.box, face.landmarks68)
          if c is not None:
            costs[i, j] = c
      for i, j in zip(*linear_sum_assignment(costs)):
        if costs[i, j] < big:
          ids[j] = self._continue(self.tracks[i], frame, faces[j])
    for j, face in enumerate(faces):
      if ids[j] is None:
        track = Track(self.next_id, tuple(face.box),
                      np.asarray(face.landmarks68, np.float64), frame,
                      box_offset=box_offset(face.box, face.landmarks68), frames=1,
                      score=float(face.score))
        self.next_id += 1
        self.tracks.append(track)
        ids[j] = track.id
    seen = set(ids)
    for track in self.tracks:
      if track.id not in seen:
        track.missed = frame - track.last_frame
    self.tracks = [t for t in self.tracks if t.missed <= self.patience]
    return ids

  def _continue(self, track, frame, face, keep_offset=False):
    points = np.asarray(face.landmarks68, np.float64)
    gap = max(1, frame - track.last_frame)
    motion = (points.mean(0) - track.landmarks68.mean(0)) / gap
    track.velocity = motion if track.frames == 1 else (
        (1 - self.smoothing) * track.velocity + self.smoothing * motion)
    track.box, track.landmarks68, track.last_frame = tuple(face.box), points, frame
    if not keep_offset:  # a detection: its box and score
      track.box_offset = box_offset(face.box, points)
      track.score = float(face.score)
    track.missed, track.frames = 0, track.frames + 1
    return track.id

  def seeds(self, frame):
    """[(track id, box (x, y, w, h), score)] where the tracks seen in the last frame
    should be in `frame`: a box for the landmark model, placed on the track's predicted
    landmarks as the detector last placed its box; the score of that detection."""
    out = []
    for track in self.tracks:
      if track.missed == 0 and track.box_offset is not None:
        _, points = track.predicted(frame)
        out.append((track.id, place_box(track.box_offset, points), track.score))
    return out

  def follow(self, frame, pairs):
    """Updates tracks from faces placed at their seeds: [(track id, face)]; the detector's
    box offset is kept. Tracks without a face here count a missed frame."""
    by_id = {t.id: t for t in self.tracks}
    seen = set()
    for track_id, face in pairs:
      self._continue(by_id[track_id], frame, face, keep_offset=True)
      seen.add(track_id)
    for track in self.tracks:
      if track.id not in seen:
        track.missed = frame - track.last_frame
    self.tracks = [t for t in self.tracks if t.missed <= self.patience]
