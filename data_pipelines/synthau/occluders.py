"""Partial occluders of the wild domain: glasses, hair strands, hands and face masks.

They are drawn in face units on top of the face, so they follow the face's pose; the
landmarks stay where the (hidden) features are, as in annotated in-the-wild data.
"""

import numpy as np

from data_pipelines.synthau.draw import ellipse, scale, spline

PROBABILITY = {'glasses': 0.18, 'hair': 0.12, 'hand': 0.10, 'mask': 0.04}
_MASK_COLORS = ((235.0, 215.0, 170.0), (240.0, 240.0, 240.0), (40.0, 40.0, 40.0))


def sample_occluders(rng):
  """A list of (kind, params) for one wild image; most images get none."""
  u = rng.uniform
  found = []
  if rng.random() < PROBABILITY['mask']:
    found.append(('mask', {'top': u(0.3, 0.45), 'color': _MASK_COLORS[rng.integers(3)]}))
  if rng.random() < PROBABILITY['glasses']:
    found.append(('glasses', {'dark': bool(rng.random() < 0.25), 'rx': u(0.08, 0.13),
                              'ry': u(0.12, 0.17), 'width': u(0.018, 0.035),
                              'color': tuple(float(c) for c in rng.integers(0, 120, 3))}))
  if rng.random() < PROBABILITY['hair']:
    found.append(('hair', {'side': float(rng.choice([-1, 1])), 'x': u(0.15, 0.7),
                           'y': u(-0.25, 0.2), 'width': u(0.12, 0.28)}))
  if rng.random() < PROBABILITY['hand']:
    side = float(rng.choice([-1, 1]))
    found.append(('hand', {'centre': (side * u(0.35, 1.0), u(1.15, 1.9)),
                           'angle': side * u(0.1, 0.8), 'size': u(0.85, 1.15),
                           'tone': u(0.88, 1.04)}))
  return found


def draw_occluders(c, ident, pts, occluders):
  for kind, p in occluders:
    _DRAW[kind](c, ident, pts, p)


def _mask(c, ident, pts, p):
  w = ident['face_w']
  bottom = pts[2:15] * (1.03, 1.0) + (0, 0.04)
  top = np.array([(0.95 * w, 0.3), (0.4, p['top'] - 0.02), (0.0, p['top'] - 0.08),
                  (-0.4, p['top'] - 0.02), (-0.95 * w, 0.3)])
  c.fill(np.concatenate([bottom, spline(top, 3)]), p['color'])
  chin = pts[8, 1]
  c.lines([[(-0.55 * w, y), (0.55 * w, y)] for y in np.linspace(p['top'] + 0.2, chin - 0.3, 3)],
          scale(p['color'], 0.8), 0.0)
  c.lines([[(-0.95 * w, 0.32), (-w, 0.15)], [(0.95 * w, 0.32), (w, 0.15)]],
          scale(p['color'], 0.85), 0.015)


def _glasses(c, ident, pts, p):
  ex, ew = ident['eye_dx'], ident['eye_w']
  rims = [ellipse((side * ex, 0.0), ew + p['rx'], p['ry'], n=32) for side in (-1, 1)]
  if p['dark']:
    c.fill_many(rims, (35.0, 32.0, 30.0))
  for rim in rims:
    c.line(rim, p['color'], p['width'], closed=True)
  inner = ex - ew - p['rx']
  outer = ex + ew + p['rx']
  w = ident['face_w']
  c.lines([[(-inner, -0.03), (0.0, -0.06), (inner, -0.03)], [(-outer, -0.02), (-w, 0.0)],
           [(outer, -0.02), (w, 0.0)]], p['color'], p['width'])


def _hair(c, ident, pts, p):
  side, top = p['side'], ident['head_top']
  spine = spline(np.array([(side * 0.05, top + 0.1), (side * (p['x'] * 0.5), -0.7),
                           (side * p['x'], p['y'])]), 4)
  offset = np.linspace(p['width'], 0.02, len(spine))[:, None] / 2 * (1, 0)  # tapering
  c.fill(np.concatenate([spine + offset, (spine - offset)[::-1]]), ident['hair'])
  c.line(spine, scale(ident['hair'], 0.6), 0.0)


def _hand(c, ident, pts, p):
  skin = scale(ident['skin'], p['tone'])
  k, a = p['size'], p['angle']
  rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
  centre = np.asarray(p['centre'])
  place = lambda q: np.asarray(q) @ rot * k + centre
  fingers = [place(ellipse((x, -0.42), 0.055, 0.2 + 0.04 * (1 - abs(x) * 5), n=12))
             for x in (-0.15, -0.05, 0.05, 0.15)]
  palm = place(ellipse((0, 0), 0.23, 0.28))
  thumb = place(ellipse((0.25, -0.1), 0.06, 0.17, angle=-0.6, n=12))
  c.fill_many(fingers + [palm, thumb], skin)
  c.lines([place([(x, -0.3), (x, -0.5)]) for x in (-0.1, 0.0, 0.1)], scale(skin, 0.7), 0.0)


_DRAW = {'mask': _mask, 'glasses': _glasses, 'hair': _hair, 'hand': _hand}
