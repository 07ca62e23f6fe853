"""The two imaging domains: a controlled lab and the wild.

lab (the BP4D/DISFA role): frontal faces, a plain per-subject backdrop, even lighting,
  small scale/rotation/position jitter, lossless PNG.
wild (the EmotioNet role): in-plane rotation, scale and translation, slight yaw (a
  horizontal squash), cluttered backgrounds, lighting gradients, colour casts and gamma,
  occluders, low resolution, blur, sensor noise and JPEG artefacts.
A Scene holds every random choice about the picture except the face, so that the same
scene can be re-rendered with other AUs (the tests do).
"""

import dataclasses
import functools

import cv2
import numpy as np

from data_pipelines.synthau import face as face_lib
from data_pipelines.synthau import occluders as occluders_lib
from data_pipelines.synthau import shape as shape_lib
from data_pipelines.synthau.draw import Canvas

# Face point that lands near the image centre (between the eyes and the mouth), face units.
_FACE_CENTRE = np.array([0.0, 0.55])
_MARGIN = 1.0  # pixels between any landmark and the image border
BACKDROPS = ((200.0, 200.0, 200.0), (170.0, 160.0, 150.0), (140.0, 120.0, 100.0),
             (215.0, 205.0, 190.0), (110.0, 110.0, 110.0), (160.0, 175.0, 180.0))


@dataclasses.dataclass(frozen=True)
class Scene:
  domain: str
  size: int
  scale: float  # pixels per face unit (about the inter-ocular distance)
  angle: float = 0.0  # degrees, in-plane rotation
  squash: float = 1.0  # horizontal scale of a slight yaw
  shift: tuple = (0.0, 0.0)  # pixels
  backdrop: tuple = BACKDROPS[0]
  clutter_seed: int = -1  # >= 0: cluttered background
  gain: tuple = (1.0, 0.0, 0.0)  # lighting: mean, gradient strength, gradient direction
  cast: tuple = (1.0, 1.0, 1.0)
  gamma: float = 1.0
  occluders: tuple = ()
  lowres: float = 1.0
  blur: float = 0.0  # Gaussian sigma, pixels
  noise: float = 0.0  # standard deviation, grey levels
  noise_seed: int = 0
  jpeg_quality: int = 0  # 0: lossless PNG


def sample_scene(rng, domain, size, backdrop=None):
  """Draws a Scene; lab scenes use `backdrop` (the subject's session colour) if given."""
  u = rng.uniform
  if domain == 'lab':
    if backdrop is None:
      backdrop = BACKDROPS[int(rng.integers(len(BACKDROPS)))]
    return Scene('lab', size, scale=size * 0.27 * u(0.94, 1.06),
                 angle=float(np.clip(rng.normal(0, 2.0), -5, 5)),
                 shift=tuple(u(-0.03, 0.03, 2) * size), backdrop=backdrop)
  if domain != 'wild':
    raise ValueError(f'unknown domain {domain!r}')
  blur_unit = size / 96.0  # blur looks the same at both presets
  soft = int(rng.choice(3, p=[0.3, 0.25, 0.45]))  # sharp, low resolution, out of focus
  return Scene(
      'wild', size, scale=size * u(0.19, 0.3), angle=float(np.clip(rng.normal(0, 12), -30, 30)),
      squash=u(0.8, 1.0), shift=tuple(u(-0.1, 0.1, 2) * size),
      backdrop=tuple(float(c) for c in rng.integers(0, 256, 3)),
      clutter_seed=int(rng.integers(2**31)),
      gain=(u(0.7, 1.15), u(-0.6, 0.6), u(0, 2 * np.pi)), cast=tuple(u(0.8, 1.2, 3)),
      gamma=u(0.8, 1.25), occluders=tuple(occluders_lib.sample_occluders(rng)),
      # Either a low-resolution source or an out-of-focus one (both at once is unreadable).
      lowres=u(0.5, 0.85) if soft == 1 else 1.0,
      blur=u(0.3, 1.0) * blur_unit if soft == 2 else 0.0, noise=u(2, 12),
      noise_seed=int(rng.integers(2**31)), jpeg_quality=int(rng.integers(25, 86)))


def _envelope(ident):
  """Corners of a face-unit box holding the landmarks of every AU combination.

  The neutral landmarks' box grows by the largest AU displacements (brows up 0.14, chin
  down 0.25, lip corners out 0.07), so the frame does not depend on the AUs shown.
  """
  points = shape_lib.landmarks(ident, np.zeros(10))
  (x0, y0), (x1, y1) = points.min(0) - (0.08, 0.16), points.max(0) + (0.08, 0.3)
  return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def face_matrix(scene, ident):
  """The 2x3 face-units -> pixels matrix; landmarks of any AU set fit inside the image."""
  a = np.deg2rad(scene.angle)
  rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
  linear = scene.scale * rot @ np.diag([scene.squash, 1.0])
  centre = (scene.size - 1) / 2 + np.asarray(scene.shift)
  points = (_envelope(ident) - _FACE_CENTRE) @ linear.T
  low, high = points.min(0), points.max(0)
  room = scene.size - 1 - 2 * _MARGIN
  shrink = min(1.0, room / float(np.max(high - low)))
  linear, low, high = linear * shrink, low * shrink, high * shrink
  lo_ok = _MARGIN - low  # smallest allowed centre
  hi_ok = scene.size - 1 - _MARGIN - high
  centre = np.clip(centre, lo_ok, np.maximum(lo_ok, hi_ok))
  return np.concatenate([linear, (centre - linear @ _FACE_CENTRE)[:, None]], 1)


def _clutter(size, backdrop, seed):
  """Colour blotches plus random rectangles, discs, lines and stripes."""
  rng = np.random.default_rng(seed)
  k = int(rng.integers(2, 6))
  grid = rng.integers(0, 256, (k, k, 3)).astype(np.uint8)
  grid[0, 0] = backdrop
  image = cv2.resize(grid, (size, size), interpolation=cv2.INTER_LINEAR)
  unit = max(1, size // 96)
  for _ in range(int(rng.integers(5, 13))):
    color = tuple(int(c) for c in rng.integers(0, 256, 3))
    kind = rng.integers(4)
    p = rng.integers(-size // 4, size + size // 4, 4)
    if kind == 0:
      cv2.rectangle(image, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), color, -1)
    elif kind == 1:
      cv2.circle(image, (int(p[0]), int(p[1])), int(rng.integers(3, size // 3)), color, -1,
                 cv2.LINE_AA)
    elif kind == 2:
      cv2.line(image, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), color,
               int(rng.integers(1, 5)) * unit, cv2.LINE_AA)
    else:  # stripes, like blinds, shelves or fabric
      step = int(rng.integers(3, 9)) * unit
      for x in range(int(p[0]) % step, size, step):
        cv2.line(image, (x, int(p[1])), (x + int(p[2]) // 3, int(p[3])), color, unit)
  return image


def background(scene):
  if scene.clutter_seed >= 0:
    return _clutter(scene.size, scene.backdrop, scene.clutter_seed)
  return np.full((scene.size, scene.size, 3), scene.backdrop, np.uint8)


@functools.lru_cache(maxsize=8)
def _grid(size):
  r = np.linspace(-0.5, 0.5, size, dtype=np.float32)
  return np.meshgrid(r, r)


@functools.lru_cache(maxsize=8)
def _noise_bank(size):
  # Noise windows are cut from one fixed field: drawing fresh noise per image costs more
  # than the rest of the camera model.
  return np.random.default_rng(12345).standard_normal((2 * size, 2 * size, 3), np.float32)


def finish(image, scene):
  """Camera and lighting of the domain; lab images pass through."""
  if scene.domain == 'lab':
    return image
  size = scene.size
  xx, yy = _grid(size)
  mean, strength, direction = scene.gain
  gain = mean + strength * (xx * np.cos(direction) + yy * np.sin(direction))
  f = image.astype(np.float32)
  f *= gain[..., None]
  f *= np.asarray(scene.cast, np.float32)
  lut = np.clip(255.0 * (np.arange(256) / 255.0) ** scene.gamma + 0.5, 0, 255).astype(np.uint8)
  out = cv2.LUT(np.clip(f, 0, 255).astype(np.uint8), lut)
  if scene.lowres < 1.0:
    small = max(8, int(round(size * scene.lowres)))
    out = cv2.resize(cv2.resize(out, (small, small), interpolation=cv2.INTER_AREA),
                     (size, size), interpolation=cv2.INTER_LINEAR)
  if scene.blur > 0:
    out = cv2.GaussianBlur(out, (0, 0), scene.blur)
  oy, ox = divmod(scene.noise_seed % (size * size), size)
  f = out.astype(np.float32)
  f += scene.noise * _noise_bank(size)[oy:oy + size, ox:ox + size]
  return np.clip(f + 0.5, 0, 255).astype(np.uint8)


def render(ident, au, scene):
  """Draws one picture: (uint8 image (S, S, 3) BGR, landmarks (68, 2) in pixels)."""
  points = shape_lib.landmarks(ident, au)
  canvas = Canvas(background(scene), face_matrix(scene, ident))
  face_lib.draw_face(canvas, ident, au, points)
  occluders_lib.draw_occluders(canvas, ident, points, scene.occluders)
  return finish(canvas.image, scene), canvas.to_pixels(points)
