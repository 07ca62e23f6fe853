"""Drawing in face coordinates: every shape is a polygon mapped by one affine matrix.

Face coordinates ("units") put the eye centres near (-0.5, 0) and (0.5, 0), x to the
image right, y down. Mapping every primitive (and the landmarks) through the same 2x3
matrix keeps the landmarks exactly on the drawn features under rotation, scale and the
horizontal squash of the wild domain. OpenCV draws with 4 fractional bits (1/16 pixel)
and anti-aliasing; pixel centres sit on integer coordinates, as in cv2.warpAffine.
"""

import functools

import cv2
import numpy as np

SHIFT = 4
_ONE = 1 << SHIFT


@functools.lru_cache(maxsize=None)
def _spline_operator(k, n, closed):
  """The (samples, k) matrix taking k control points to their Catmull-Rom curve.

  The curve is linear in the points (the open ends extrapolate linearly too), so one
  matrix product replaces the per-segment work.
  """
  t = np.arange(n) / n
  basis = 0.5 * np.stack([-t**3 + 2 * t**2 - t, 3 * t**3 - 5 * t**2 + 2,
                          -3 * t**3 + 4 * t**2 + t, t**3 - t**2], axis=1)
  eye = np.eye(k)
  if closed:
    ext = np.concatenate([eye[-1:], eye, eye[:2]])
    segments = k
  else:
    ext = np.concatenate([2 * eye[:1] - eye[1:2], eye, 2 * eye[-1:] - eye[-2:-1]])
    segments = k - 1
  rows = [basis @ ext[i:i + 4] for i in range(segments)]
  if not closed:
    rows.append(eye[-1:])
  return np.concatenate(rows)


_CIRCLE = {n: np.stack([np.cos(a), np.sin(a)], 1)
           for n in (12, 20, 32) for a in [np.linspace(0, 2 * np.pi, n, endpoint=False)]}


def spline(points, n=4, closed=False):
  """A Catmull-Rom curve through `points` (k, 2), n samples per segment."""
  points = np.asarray(points, dtype=np.float64)
  return _spline_operator(len(points), n, closed) @ points


def ellipse(centre, rx, ry, angle=0.0, n=20):
  """Polygon of an ellipse in face units; `angle` in radians."""
  c = _CIRCLE[n] * (rx, ry)
  if angle:
    cos, sin = np.cos(angle), np.sin(angle)
    c = c @ np.array([[cos, sin], [-sin, cos]])
  return c + centre


def mix(a, b, t):
  """Colour between a (t=0) and b (t=1)."""
  return tuple(float(x + (y - x) * t) for x, y in zip(a, b))


def scale(color, f):
  return tuple(float(min(255.0, c * f)) for c in color)


class Canvas:
  """An image plus the face->pixel matrix; draws polygons and lines given in face units."""

  def __init__(self, image, matrix):
    self.image = image
    self.matrix = np.asarray(matrix, dtype=np.float64)
    self.ppu = float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))  # pixels per unit
    self._fixed_linear = self.matrix[:, :2].T * _ONE
    self._fixed_offset = self.matrix[:, 2] * _ONE

  def to_pixels(self, points):
    return np.asarray(points, dtype=np.float64) @ self.matrix[:, :2].T + self.matrix[:, 2]

  def _fixed(self, points):
    fixed = np.asarray(points, dtype=np.float64) @ self._fixed_linear + self._fixed_offset
    return fixed.round().astype(np.int32)

  def fill(self, points, color):
    cv2.fillPoly(self.image, [self._fixed(points)], color, cv2.LINE_AA, SHIFT)

  def fill_many(self, polygons, color):
    cv2.fillPoly(self.image, [self._fixed(p) for p in polygons], color, cv2.LINE_AA, SHIFT)

  def width(self, units):
    return max(1, int(round(units * self.ppu)))

  def line(self, points, color, width=0.0, closed=False):
    cv2.polylines(self.image, [self._fixed(points)], closed, color, self.width(width),
                  cv2.LINE_AA, SHIFT)

  def lines(self, polylines, color, width=0.0):
    cv2.polylines(self.image, [self._fixed(p) for p in polylines], False, color,
                  self.width(width), cv2.LINE_AA, SHIFT)
