"""A cartoon face drawn with OpenCV through its 68 landmarks, with FACS texture cues.

Every feature is drawn through the landmarks of shape.py (curves pass through them), so
the manifest landmarks are where the features are; the iris sits at the mean of the six
eye points, the eye centre of au_jax.geometry.landmarks.eye_centres.

Texture cues per AU (intensity s; none drawn below s = 0.01):
  AU1  medial forehead wrinkles.          AU2  lateral forehead wrinkles over the brows.
  AU4  vertical furrows between the brows.
  AU6  bunched cheek bulges, infraorbital furrows, crow's feet.
  AU9  wrinkles across and beside the nose root, deeper nasolabial folds.
  AU12 deep nasolabial folds following the lip corners.
  AU15 folds below the pulled-down lip corners.
  AU17 deeper mentolabial furrow, chin boss shadow and dimpled chin skin.
  AU25 dark mouth and upper teeth between the parted lips.
Each AU changes pixels only near its features (tests/test_synthau.py checks bands).
"""

import numpy as np

from data_pipelines.synthau.draw import ellipse, mix, scale, spline
from data_pipelines.synthau.shape import au_dict

SCLERA = (228.0, 236.0, 240.0)
PUPIL = (18.0, 16.0, 16.0)
MOUTH = (40.0, 30.0, 70.0)
TEETH = (222.0, 232.0, 238.0)
SHADOW = (30.0, 30.0, 60.0)  # wrinkle colour is mixed from the skin towards this
_BROW_TAPER = np.array([0.55, 0.85, 1.0, 1.0, 0.95])


def _shade(skin, amount):
  return mix(skin, SHADOW, min(1.0, amount))


def _brow(c, points, thick, color):
  """A tapered brow around the curve through its five points (outer -> inner)."""
  centre = spline(points, 3)
  t = np.interp(np.linspace(0, 4, len(centre)), np.arange(5), _BROW_TAPER) * thick / 2
  tangent = np.gradient(centre, axis=0)
  normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1)
  normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
  c.fill(np.concatenate([centre + normal * t[:, None], (centre - normal * t[:, None])[::-1]]),
         color)


def _eye(c, ident, pts, skin):
  """Eye opening through its six points, the iris at their mean, lids, lashes, crease."""
  c.fill(spline(pts, 4, closed=True), SCLERA)
  centre = pts.mean(0)
  r = ident['iris_r']
  c.fill(ellipse(centre, r, r), ident['iris'])
  c.fill(ellipse(centre, 0.42 * r, 0.42 * r, n=12), PUPIL)
  c.fill(ellipse(centre + (-0.5 * r, -0.5 * r), 0.16 * r, 0.16 * r, n=12), (250.0,) * 3)
  upper = spline(pts[[0, 1, 2, 3]], 4)
  lower = spline(pts[[3, 4, 5, 0]], 4)
  # Lid skin hides the iris outside the eye opening.
  c.fill(np.concatenate([upper, (upper - (0, 0.16))[::-1]]), skin)
  c.fill(np.concatenate([lower, (lower + (0, 0.13))[::-1]]), skin)
  c.line(upper, (25.0, 22.0, 22.0), 0.024)
  c.line(lower, scale(skin, 0.7), 0.0)
  c.line(upper[3:-3] - (0, 0.045), scale(skin, 0.8), 0.0)


def _head(c, ident, pts, skin):
  """Long hair behind, neck, shirt, ears, then the face through the jaw points 0-16."""
  w, y0, chin, top = ident['face_w'], ident['jaw_top'], ident['chin_y'], ident['head_top']
  hair = ident['hair']
  if ident['hair_style'] == 2:  # long hair falls behind the face
    theta = np.linspace(0, np.pi, 12)
    arc = np.stack([(w + 0.2) * np.cos(theta), y0 - (y0 - top + 0.12) * np.sin(theta)], 1)
    c.fill(np.concatenate([[(w + 0.28, chin + 0.5)], arc, [(-w - 0.28, chin + 0.5)]]), hair)
  c.fill(np.array([(-0.42 * w, 0.9), (0.42 * w, 0.9), (0.5 * w, chin + 1.0),
                   (-0.5 * w, chin + 1.0)]), scale(skin, 0.8))
  c.fill(np.array([(-3.0, chin + 0.6), (-0.5 * w, chin + 0.38), (0, chin + 0.6),
                   (0.5 * w, chin + 0.38), (3.0, chin + 0.6), (3.0, 5.0), (-3.0, 5.0)]),
         ident['shirt'])
  for side in (-1, 1):
    c.fill(ellipse((side * w * 0.97, y0 + 0.22), 0.09, 0.19), scale(skin, 0.9))
  theta = np.linspace(0, np.pi, 14)[1:-1]
  forehead = np.stack([w * np.cos(theta), y0 - (y0 - top) * np.sin(theta)], 1)
  outline = np.concatenate([spline(pts[0:17], 3), forehead])
  c.fill(outline, skin)
  c.line(spline(pts[0:17], 3), scale(skin, 0.82), 0.012)


def _front_hair(c, ident):
  style = ident['hair_style']
  if style == 0:
    return
  w, y0, top, hl = ident['face_w'], ident['jaw_top'], ident['head_top'], ident['hairline']
  theta = np.linspace(-0.2, np.pi + 0.2, 16)
  outer = np.stack([(w + 0.07) * np.cos(theta), y0 - (y0 - top + 0.1) * np.sin(theta)], 1)
  drop = 0.12 if style == 3 else 0.0
  line = np.array([(-w + 0.03, y0 - 0.02), (-w + 0.08, y0 - 0.35), (-0.55, hl + 0.08 + drop),
                   (0.0, hl + drop), (0.55, hl + 0.08 + drop), (w - 0.08, y0 - 0.35),
                   (w - 0.03, y0 - 0.02)])
  c.fill(np.concatenate([outer, spline(line, 3)]), ident['hair'])


def draw_face(c, ident, au, pts):
  """Draws the face on canvas `c` (draw.Canvas); `pts` = shape.landmarks(ident, au)."""
  s = au_dict(au)
  skin = ident['skin']
  _head(c, ident, pts, skin)
  for eye in (pts[36:42], pts[42:48]):
    _eye(c, ident, eye, skin)
  if s[6] > 0.01:
    _cheeks(c, ident, pts, skin, s[6])
  _nose(c, ident, pts, skin, s[9])
  # Nasolabial folds: always faint, deeper with AU12 and AU9.
  for side, wing, corner in ((-1, pts[31], pts[48]), (1, pts[35], pts[54])):
    a = wing + (side * 0.04, -0.04)
    b = corner + (side * 0.07, 0.07)
    c.line(spline([a, (a + b) / 2 + (side * 0.06, -0.01), b], 3),
           _shade(skin, 0.12 + 0.45 * s[12] + 0.3 * s[9]), 0.014)
  _mouth(c, ident, pts, skin)
  _chin(c, ident, pts, skin, s[15], s[17])
  _forehead(c, pts, skin, s[1], s[2], s[4])
  _front_hair(c, ident)
  for brow in (pts[17:22], pts[22:27][::-1]):
    _brow(c, brow, ident['brow_thick'], ident['brow'])


def _cheeks(c, ident, pts, skin, s6):
  """AU6: bunched cheek bulges under the eyes, infraorbital furrows, crow's feet."""
  for side, eye in ((-1, pts[36:42]), (1, pts[42:48])):
    bulge = ellipse((side * (ident['eye_dx'] + 0.03), eye[[4, 5], 1].mean() + 0.14), 0.19,
                    0.085)
    c.fill(bulge, mix(skin, (255.0, 255.0, 255.0), 0.12 * s6))
    c.line(bulge[2:9], _shade(skin, 0.35 * s6), 0.0)
    lower = spline(eye[[3, 4, 5, 0]], 3)
    c.line(lower[1:-1] + (0, 0.05), _shade(skin, 0.4 * s6), 0.0)
    corner = eye[0] if side < 0 else eye[3]
    fan = [[corner + (side * 0.03, d * 0.3), corner + (side * 0.12, d)]
           for d in (-0.05, 0.0, 0.05)]
    c.lines(fan, _shade(skin, 0.5 * s6), 0.0)


_WING_ARC = {-1: [2, 3, 4, 5, 6, 7, 8], 1: [10, 11, 0, 1, 2, 3, 4]}  # of a 12-point circle


def _nose(c, ident, pts, skin, s9):
  """Bridge sides, nose wings, nostrils; AU9 wrinkles across and beside the nose root."""
  ny = ident['nose_y']
  for side, wing in ((-1, pts[31]), (1, pts[35])):
    c.line(spline([(side * 0.06, 0.12), (side * 0.085, ny * 0.7), wing + (side * 0.01, -0.06)],
                  3), scale(skin, 0.86), 0.0)
    arc = ellipse(wing + (-side * 0.02, -0.03), 0.045, 0.045, n=12)[_WING_ARC[side]]
    c.line(arc, scale(skin, 0.75), 0.0)
  for nostril in ((pts[32] + pts[33]) / 2, (pts[33] + pts[34]) / 2):
    c.fill(ellipse(nostril - (0, 0.02), 0.035, 0.017, n=12), scale(skin, 0.42))
  c.line(spline(pts[31:36], 3), scale(skin, 0.72), 0.0)
  if s9 > 0.01:
    root = pts[28, 1]
    arcs = [np.array([(-0.1, y + 0.012), (0.0, y), (0.1, y + 0.012)]) for y in
            (root - 0.05, root + 0.01, root + 0.07)]
    arcs += [np.array([(side * 0.13, root - 0.03), (side * 0.19, root + 0.07)])
             for side in (-1, 1)]
    c.lines(arcs, _shade(skin, 0.55 * s9), 0.0)


def _chin(c, ident, pts, skin, s15, s17):
  """AU15 folds below the corners; the mentolabial furrow (deeper with AU17); AU17's
  chin boss (a shadow below it) and dimpled skin."""
  if s15 > 0.01:
    c.lines([[pts[48] + (-0.01, 0.03), pts[48] + (-0.05, 0.14)],
             [pts[54] + (0.01, 0.03), pts[54] + (0.05, 0.14)]], _shade(skin, 0.45 * s15), 0.0)
  lip_bottom = pts[57, 1]
  xs = np.linspace(-0.17, 0.17, 5)
  c.line(np.stack([xs, lip_bottom + 0.07 - 0.03 * (xs / 0.17) ** 2], 1),
         _shade(skin, 0.1 + 0.35 * s17), 0.0)
  if s17 > 0.01:
    boss = np.array([0.0, (lip_bottom + pts[8, 1]) / 2 + 0.03])
    xs = np.linspace(-0.13, 0.13, 5)
    c.line(np.stack([xs, boss[1] + 0.07 - 0.035 * (xs / 0.13) ** 2], 1),
           _shade(skin, 0.3 * s17), 0.0)
    r = max(0.012, 0.7 / c.ppu)  # dimples stay at least a pixel wide in small images
    c.fill_many([ellipse(boss + d * (0.12, 0.055), r, r, n=12) for d in ident['chin_dots']],
                _shade(skin, 0.35 * s17))


def _forehead(c, pts, skin, s1, s2, s4):
  """Wrinkles of AU1 (medial) and AU2 (lateral), the vertical furrows of AU4."""
  inner_y = min(pts[21, 1], pts[22, 1])
  if s1 > 0.01:
    xs = np.linspace(-0.24, 0.24, 5)
    arcs = [np.stack([xs, inner_y - 0.12 - 0.065 * k - 0.025 * (1 - (xs / 0.24) ** 2)], 1)
            for k in range(3)]
    c.lines(arcs, _shade(skin, 0.5 * s1), 0.0)
  if s2 > 0.01:
    arcs = [brow[:3] - (0, 0.11 + 0.065 * k) for brow in (pts[17:22], pts[22:27][::-1])
            for k in range(3)]
    c.lines(arcs, _shade(skin, 0.5 * s2), 0.0)
  if s4 > 0.01:
    furrows = [[(side * 0.045, inner_y - 0.1), (side * 0.055, inner_y + 0.06)]
               for side in (-1, 1)]
    c.lines(furrows, _shade(skin, 0.6 * s4), 0.012)


def _mouth(c, ident, pts, skin):
  """Lips through points 48-67; parted lips show the dark mouth and the upper teeth."""
  outer_up = spline(pts[48:55], 3)
  outer_lo = spline(pts[[54, 55, 56, 57, 58, 59, 48]], 3)
  inner_up = spline(pts[60:65], 3)
  inner_lo = spline(pts[[64, 65, 66, 67, 60]], 3)
  gap = pts[66, 1] - pts[62, 1]
  dark = scale(ident['lip'], 0.6)
  if gap > 1e-3:
    c.fill(np.concatenate([inner_up, inner_lo[1:-1]]), MOUTH)
    x = inner_up[:, 0]
    taper = 1 - ((x - x.mean()) / (0.5 * (x.max() - x.min()))) ** 2
    teeth = inner_up + np.stack([np.zeros_like(x), min(0.07, 0.75 * gap) * taper], 1)
    c.fill(np.concatenate([inner_up, teeth[::-1]]), TEETH)
  c.fill(np.concatenate([outer_lo, inner_lo[::-1]]), ident['lip'])
  c.fill(np.concatenate([outer_up, inner_up[::-1]]), scale(ident['lip'], 0.9))
  if gap <= 1e-3:  # the seam of closed lips; parted lips are edged by the dark mouth
    c.line(inner_up, dark, 0.012)
