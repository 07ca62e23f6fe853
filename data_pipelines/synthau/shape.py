"""Face geometry: identities and the 68 landmarks under AU displacements.

`landmarks(identity, au)` places the 68 iBUG points (0-based: 0-16 jaw, 17-21 right brow
(the subject's right, image left), 22-26 left brow, 27-35 nose, 36-41 right eye, 42-47 left
eye, 48-59 outer lips, 60-67 inner lips) in face units: eye centres near (+-0.5, 0), x to
the image right, y down. face.py draws every feature through these points.

AU displacements (intensity s in [0, 1], face units at s = 1, one face unit ≈ one
inter-ocular distance; directions from the FACS manual; the AU1, AU2 and AU12 magnitudes
from motion capture at maximal effort, docs/synthau.md):
  AU1  inner brow ends up 0.17, outer ends barely.      AU2 outer brow ends up 0.17.
  AU4  brows down 0.03-0.10 and inner ends 0.06 towards the midline.
  AU6  lower lids up 0.045 and outer eye corners up (eyes narrowed from below).
  AU9  nostrils up 0.05 and flared, nose tip up, upper lip up 0.035.
  AU12 lip corners up 0.117 (relative to the lip middle) and out 0.094 (0.15 in all),
       lips thinner.
  AU15 lip corners down 0.06.
  AU17 lip line middle and lower lip up 0.03, lower lip thinner, chin up 0.035.
  AU25 inner lips part by 0.09 (teeth show).
  AU26 chin down 0.25; with AU25 the mouth opens 0.7 of that more, without it the lips
       stay together and the lower lip stretches.
Each AU moves only the landmark groups listed in AU_GROUPS.
"""

import numpy as np

from data_pipelines.synthau.draw import ellipse, mix, scale
from data_pipelines.synthau.labels import AUS, INDEX

GROUPS = {'jaw': range(0, 17), 'brows': range(17, 27), 'nose': range(27, 36),
          'eyes': range(36, 48), 'mouth': range(48, 68)}
AU_GROUPS = {1: {'brows'}, 2: {'brows'}, 4: {'brows'}, 6: {'eyes'}, 9: {'nose', 'mouth'},
             12: {'mouth'}, 15: {'mouth'}, 17: {'mouth', 'jaw'}, 25: {'mouth'},
             26: {'mouth', 'jaw'}}


def _rgb(*colors):
  return [tuple(float(v) for v in c[::-1]) for c in colors]


SKIN = _rgb((255, 226, 200), (241, 194, 160), (224, 172, 128), (198, 134, 96),
            (141, 85, 54), (90, 56, 38))
HAIR = _rgb((22, 18, 16), (48, 32, 22), (92, 62, 38), (160, 120, 72), (212, 182, 120),
            (150, 148, 145), (142, 62, 30))
IRIS = _rgb((62, 40, 26), (102, 72, 42), (72, 112, 142), (82, 112, 72), (40, 30, 26))

# Brow raise/lower profiles, outer -> inner end (face units at intensity 1).
# Peaks of 0.17 inter-ocular distances: the measured brow lift (docs/synthau.md).
_AU1_UP = np.array([0.0, 0.036, 0.085, 0.134, 0.17])
_AU2_UP = np.array([0.17, 0.158, 0.109, 0.049, 0.012])
# AU12 moves each lip corner 0.15 inter-ocular distances (measured smile), up and out
# at about 51° from the horizontal.
_AU12_UP, _AU12_OUT = 0.117, 0.094
_AU4_DOWN = np.array([0.03, 0.05, 0.07, 0.09, 0.10])
_AU4_IN = np.array([0.0, 0.01, 0.025, 0.04, 0.06])
_BROW_ARCH = np.array([0.35, 0.9, 1.0, 0.75, 0.4])
# Lip outline profiles: upper 48..54 (Cupid's bow at 50 and 52), lower 55..59.
_MOUTH_X = np.array([-1, -0.6, -0.27, 0, 0.27, 0.6, 1])
_UPPER = np.array([0, 0.75, 1.05, 0.85, 1.05, 0.75, 0])
_LOWER_X = np.array([0.6, 0.27, 0, -0.27, -0.6])
_LOWER = np.array([0.75, 0.98, 1.0, 0.98, 0.75])
_INNER_X = np.array([-0.4, 0, 0.4])


def sample_identity(rng):
  """Draws one subject: face shape, feature sizes and colours (a dict of plain values)."""
  u = rng.uniform
  t = u(0, len(SKIN) - 1.001)
  skin = mix(SKIN[int(t)], SKIN[int(t) + 1], t - int(t))
  skin = tuple(min(255.0, c * f) for c, f in zip(skin, u(0.94, 1.06, 3)))
  hair = HAIR[int(rng.integers(len(HAIR)))]
  style = int(rng.choice(4, p=[0.08, 0.47, 0.3, 0.15]))  # bald, short, long, fringe
  brow_y = u(0.30, 0.38)
  return {
      'face_w': u(0.98, 1.14), 'jaw_top': u(0.05, 0.18), 'chin_y': u(1.68, 1.9),
      'jaw_sq': u(2.0, 3.0), 'head_top': u(-1.75, -1.55),
      'hairline': min(u(-1.0, -0.8), -(brow_y + 0.45)), 'hair_style': style,
      'eye_dx': u(0.46, 0.54), 'eye_w': u(0.19, 0.235), 'eye_h': u(0.068, 0.095),
      'eye_tilt': u(-0.015, 0.03), 'iris_r': u(0.085, 0.097),
      'brow_y': brow_y, 'brow_arch': u(0.02, 0.07), 'brow_thick': u(0.035, 0.085),
      'brow_inner': u(0.16, 0.22), 'brow_out': u(0.04, 0.1),
      'nose_y': u(0.55, 0.66), 'nose_w': u(0.15, 0.2),
      'mouth_y': u(1.0, 1.1), 'mouth_w': u(0.3, 0.39), 'lip_up': u(0.05, 0.08),
      'lip_lo': u(0.07, 0.105), 'mouth_curve': u(-0.012, 0.012),
      'skin': skin, 'hair': hair, 'brow': scale(hair, 0.8 if hair[0] > 100 else 1.0),
      'iris': IRIS[int(rng.integers(len(IRIS)))],
      'lip': mix(skin, (95.0, 90.0, 185.0), u(0.3, 0.5)),
      'shirt': tuple(float(c) for c in rng.integers(20, 235, 3)),
      'chin_dots': ellipse((0, 0), 1, 1, n=20)[rng.permutation(20)[:12]] * u(0.3, 1, (12, 1)),
  }


def au_dict(au):
  """Intensity per AU number from an array in AUS order (or a dict)."""
  if isinstance(au, dict):
    return {a: float(au.get(a, 0.0)) for a in AUS}
  return {a: float(au[INDEX[a]]) for a in AUS}


def landmarks(ident, au):
  """The 68 landmarks (68, 2) in face units for this identity and AU intensities."""
  s = au_dict(au)
  p = np.zeros((68, 2))
  # Jaw: a superellipse from the right ear (0) round the chin (8) to the left ear (16).
  phi = np.pi * (1 - np.arange(17) / 16)
  cos, sin = np.cos(phi), np.sin(phi)
  e = 2.0 / ident['jaw_sq']
  jaw_drop = 0.25 * s[26]
  p[0:17, 0] = ident['face_w'] * np.sign(cos) * np.abs(cos) ** e
  p[0:17, 1] = (ident['jaw_top'] + (ident['chin_y'] - ident['jaw_top']) * np.abs(sin) ** e
                + jaw_drop * sin ** 4 - 0.035 * s[17] * sin ** 12)

  # Brows, outer -> inner for the right brow; the left brow mirrors it inner -> outer.
  outer = ident['eye_dx'] + ident['eye_w'] + ident['brow_out']
  bx = np.linspace(outer, ident['brow_inner'], 5) - _AU4_IN * s[4]
  by = (-ident['brow_y'] - ident['brow_arch'] * _BROW_ARCH - _AU1_UP * s[1] - _AU2_UP * s[2]
        + _AU4_DOWN * s[4])
  p[17:22] = np.stack([-bx, by], 1)
  p[22:27] = np.stack([bx[::-1], by[::-1]], 1)

  # Nose: bridge 27-30 on the midline, lower edge 31-35.
  ny, nw = ident['nose_y'], ident['nose_w']
  p[27:31, 1] = [0.0, ny / 3, 2 * ny / 3 - 0.015 * s[9], ny - 0.03 * s[9]]
  flare = 0.02 * s[9]
  p[31:36, 0] = [-nw - flare, -nw / 2 - flare / 2, 0, nw / 2 + flare / 2, nw + flare]
  p[31:36, 1] = ny + np.array([0.05, 0.085, 0.09, 0.085, 0.05]) - 0.05 * s[9]

  # Eyes: right eye 36 outer corner, 37-38 upper lid, 39 inner corner, 40-41 lower lid.
  ex, ew, eh, tilt = ident['eye_dx'], ident['eye_w'], ident['eye_h'], ident['eye_tilt']
  low = max(0.012, 0.8 * eh - 0.045 * s[6])
  right = np.array([[-ex - ew, -tilt - 0.012 * s[6]], [-ex - ew / 3, -eh],
                    [-ex + ew / 3, -eh], [-ex + ew, tilt], [-ex + ew / 3, low],
                    [-ex - ew / 3, low]])
  p[36:42] = right
  mirror = right[[3, 2, 1, 0, 5, 4]] * (-1, 1)  # 42 inner, 43-44 upper, 45 outer, 46-47
  p[42:48] = mirror

  # Mouth: a lip line y = mid + curve * (x / half width)^2, lips around it.
  cw = ident['mouth_w'] + _AU12_OUT * s[12] + 0.01 * s[15]
  mid = ident['mouth_y'] + 0.25 * jaw_drop - 0.03 * s[17]
  curve = ident['mouth_curve'] - _AU12_UP * s[12] + 0.06 * s[15] + 0.03 * s[17]
  opening = s[25] * (0.09 + 0.7 * jaw_drop)
  thick_up = ident['lip_up'] * (1 - 0.3 * s[12]) + 0.035 * s[9]
  # With the lips kept together a dropped jaw stretches the lower lip down.
  thick_lo = (ident['lip_lo'] * (1 - 0.25 * s[12]) - 0.02 * s[17]
              + 0.25 * jaw_drop * (1 - s[25]))
  ci = 0.88 * cw
  line = lambda x: mid + curve * (np.abs(x) / cw) ** 2
  env = lambda x: 1 - 0.7 * (np.abs(x) / ci) ** 2
  x = _MOUTH_X * cw
  p[48:55] = np.stack([x, line(x) - 0.35 * opening * env(x) * (_UPPER > 0)
                       - thick_up * _UPPER], 1)
  x = _LOWER_X * cw
  p[55:60] = np.stack([x, line(x) + 0.65 * opening * env(x) + thick_lo * _LOWER], 1)
  x = _INNER_X * cw
  p[60] = (-ci, line(ci))
  p[61:64] = np.stack([x, line(x) - 0.35 * opening * env(x)], 1)
  p[64] = (ci, line(ci))
  p[65:68] = np.stack([-x, line(x) + 0.65 * opening * env(x)], 1)
  return p


