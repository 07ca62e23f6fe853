"""Face detectors compared: recall, false detections, landmark error and time per image.

    python benchmarks/detectors.py --synthau data/synthau/wild --out detectors.json

Two sets of images:
- SynthAU wild test images (`--synthau`, a folder with manifest.csv; the first `--count`
  test rows): 96x96 drawn faces, one per image, with their true 68 landmarks;
- scikit-image's `astronaut()` (a NASA portrait, public domain) and variants built from
  it here with OpenCV: greyscale, shrunk to 256 px, rotated 20 degrees, sunglasses (dark
  ellipses on the eyes its 68 landmarks give), a skin-coloured hand over the forehead, and
  a group photo: 5 resized, some flipped, differently occluded copies on a plain
  background. All of them come from this one portrait: a check of the failure cases, not
  a face-detection benchmark.

A detection counts as a found face when its centre lies inside the bounding box of the
face's 68 points and its width is 0.5-2x that box's; each face is matched once, and
other detections count as false. `nme` is dlib's 68 points' mean error over the
inter-ocular distance (eye centres), on the SynthAU faces found. Times are wall clock
per image, detection and 68 landmarks together, after a warm-up call.

`--calibrate` fits, instead, where each other detector's box lies relative to dlib's HOG
box of the same face (the box its 68-point model was trained on), on SynthAU training
images: the CALIBRATION constants of au_jax/faces/.

The Markdown table goes to stdout, everything to the `--out` JSON.
"""

import argparse
import csv
import json
import os
import platform
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import cv2  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from au_jax import errors  # pylint: disable=g-import-not-at-top,wrong-import-position
from au_jax import faces  # pylint: disable=g-import-not-at-top,wrong-import-position
from au_jax import metrics  # pylint: disable=g-import-not-at-top,wrong-import-position
from au_jax.geometry import landmarks as lm  # pylint: disable=g-import-not-at-top,wrong-import-position

# name -> (detector name, options)
DETECTORS = {
    'hog': ('hog', {}),
    'hog up1': ('hog', {'upsample': 1}),
    'cnn': ('cnn', {}),
    'cnn up1': ('cnn', {'upsample': 1}),
    'blazeface': ('blazeface', {}),
    'blazeface full': ('blazeface', {'model': 'full'}),
    'auto': ('auto', {}),
}


# -- scenes ---------------------------------------------------------------------------------

def _transform(points, matrix):
  return np.asarray(points, np.float64) @ np.asarray(matrix)[:, :2].T + np.asarray(
      matrix)[:, 2]


def sunglasses(image, points):
  """Dark lenses on both eyes, a bridge and the temples."""
  out = image.copy()
  eyes = lm.eye_centres(np.asarray(points, np.float64))
  width = np.linalg.norm(points[39] - points[36])
  tilt = np.degrees(np.arctan2(*(eyes[1] - eyes[0])[::-1]))
  frame = (15, 15, 20)
  for eye in eyes:
    centre = tuple(int(round(v)) for v in eye)
    cv2.ellipse(out, centre, (int(1.15 * width), int(0.9 * width)), tilt, 0, 360,
                (25, 28, 35), -1, cv2.LINE_AA)
    cv2.ellipse(out, centre, (int(1.15 * width), int(0.9 * width)), tilt, 0, 360,
                frame, max(2, int(0.12 * width)), cv2.LINE_AA)
  thick = max(2, int(0.1 * width))
  inner = [eyes[0] + (eyes[1] - eyes[0]) * 0.3, eyes[1] - (eyes[1] - eyes[0]) * 0.3]
  cv2.line(out, tuple(int(v) for v in inner[0]), tuple(int(v) for v in inner[1]), frame,
           thick, cv2.LINE_AA)
  for eye, ear in ((eyes[0], points[0]), (eyes[1], points[16])):
    start = eye + (ear - eye) * 0.45
    cv2.line(out, tuple(int(v) for v in start), tuple(int(v) for v in ear), frame, thick,
             cv2.LINE_AA)
  return out


def hand_on_forehead(image, points):
  """A skin-coloured palm and four fingers over the forehead and one eyebrow."""
  cheeks = np.concatenate([points[[1, 2, 3, 31]], points[[15, 14, 13, 35]]])
  x0, y0 = cheeks.min(0).astype(int)
  x1, y1 = cheeks.max(0).astype(int)
  skin = np.median(image[y0:y1, x0:x1].reshape(-1, 3), axis=0)
  skin = tuple(int(v) for v in np.clip(skin * 1.05, 0, 255))
  shade = tuple(int(v * 0.75) for v in skin)
  width = np.linalg.norm(points[16] - points[0])
  brows = points[17:27].mean(0)
  mask = np.zeros(image.shape[:2], np.uint8)
  palm = brows + np.array([0.5, -0.25]) * width
  cv2.ellipse(mask, tuple(int(v) for v in palm), (int(0.42 * width), int(0.3 * width)),
              -20, 0, 360, 255, -1, cv2.LINE_AA)
  outline = []
  for k in range(4):  # fingers reach across the forehead, over the right eyebrow
    start = palm + np.array([-0.2, -0.12 + 0.1 * k]) * width
    end = brows + np.array([-0.4 + 0.05 * k, -0.24 + 0.09 * k]) * width
    cv2.line(mask, tuple(int(v) for v in start), tuple(int(v) for v in end), 255,
             int(0.13 * width), cv2.LINE_AA)
    outline.append((start, end))
  out = image.copy()
  out[mask > 127] = skin
  for start, end in outline[1:]:  # creases between the fingers
    mid = (start + end) / 2 - np.array([0, 0.065]) * width
    cv2.line(out, tuple(int(v) for v in (start - np.array([0, 0.065]) * width)),
             tuple(int(v) for v in mid), shade, max(1, int(0.015 * width)), cv2.LINE_AA)
  soft = cv2.GaussianBlur(out, (3, 3), 0)
  edge = cv2.dilate(mask, np.ones((3, 3), np.uint8)) - cv2.erode(mask, np.ones((3, 3),
                                                                               np.uint8))
  out[edge > 0] = soft[edge > 0]
  return out


def face_mask(image, points):
  """A light blue surgical mask from the nose to the chin, with pleats."""
  out = image.copy()
  top = points[29] - (points[30] - points[28]) * 0.2
  outline = np.concatenate([points[1:16], [points[15] * 0.6 + top * 0.4, top,
                                            points[1] * 0.6 + top * 0.4]])
  cv2.fillPoly(out, [np.round(outline).astype(np.int32)], (168, 200, 226), cv2.LINE_AA)
  width = np.linalg.norm(points[15] - points[1])
  for k in (0.3, 0.5, 0.7):  # pleats
    left = points[2] * (1 - k) + points[1] * k
    y = top[1] + (points[8][1] - top[1]) * k
    cv2.line(out, (int(left[0] + 0.05 * width), int(y)),
             (int(points[14][0] - 0.05 * width), int(y)), (140, 170, 200),
             max(1, int(0.012 * width)), cv2.LINE_AA)
  return out


def _tilt(image, points, degrees):
  """The image turned by `degrees` about the face's centre, and its points."""
  centre = tuple(float(v) for v in (points.min(0) + points.max(0)) / 2)
  turn = cv2.getRotationMatrix2D(centre, degrees, 1.0)
  return (cv2.warpAffine(image, turn, image.shape[1::-1], flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE), _transform(points, turn))


def _head(image, points, size, flip):
  """A square crop around the face (2.2x the landmarks' width), resized to `size`."""
  centre = (points.min(0) + points.max(0)) / 2 - [0, 0.1 * np.ptp(points[:, 1])]
  side = 2.2 * np.ptp(points[:, 0])
  s = size / side
  matrix = np.array([[s, 0, size / 2 - s * centre[0]], [0, s, size / 2 - s * centre[1]]])
  if flip:
    matrix = (np.array([[-1, 0, size - 1], [0, 1, 0], [0, 0, 1]])
              @ np.vstack([matrix, [0, 0, 1]]))[:2]
  crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_AREA,
                        borderMode=cv2.BORDER_REPLICATE)
  return crop, _transform(points, matrix)  # mirrored ones unordered: only their box is used


# Scikit-image's cameraman (CC0, Lav Varshney): a turned face, greyscale. No landmarks;
# its face box marked by hand (x0, y0, x1, y1), for the matching only.
CAMERAMAN_FACE = (185, 125, 262, 198)

ASTRONAUT_SCENES = ('portrait', 'greyscale', 'small, 256 px', 'rotated 20 deg',
                    'sunglasses', 'sunglasses, tilted 15 deg', 'hand on forehead',
                    'group of 5', 'cameraman')


def astronaut_scenes():
  """[(name, RGB image, [(n, 2) true points per face])], named as ASTRONAUT_SCENES."""
  data = errors.require('skimage.data', 'the photo scenes',
                        'pip install scikit-image (or the test extra: pip install -e ".[test]")')
  image = data.astronaut()
  points = faces.DlibDetector()(image)[0].landmarks68.astype(np.float64)
  scenes = [('portrait', image, [points])]
  grey = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
  scenes.append(('greyscale', grey, [points]))
  small = cv2.resize(image, (256, 256), interpolation=cv2.INTER_AREA)
  scenes.append(('small, 256 px', small, [(points + 0.5) * 0.5 - 0.5]))
  scenes.append(('rotated 20 deg', *_listed(_tilt(image, points, 20))))
  dark = sunglasses(image, points)
  scenes.append(('sunglasses', dark, [points]))
  tilted, tilted_points = _tilt(image, points, 15)
  dark_tilted = sunglasses(tilted, tilted_points)
  scenes.append(('sunglasses, tilted 15 deg', dark_tilted, [tilted_points]))
  hand = hand_on_forehead(image, points)
  scenes.append(('hand on forehead', hand, [points]))
  # The group photo: 5 copies on a plain background, 1000 x 500; faces 80-95 pixels.
  canvas = np.full((500, 1000, 3), (196, 204, 212), np.uint8)
  copies = ((image, points, 210, False, 20, 150),
            (dark_tilted, tilted_points, 190, True, 215, 50),
            (hand, points, 200, False, 400, 170),
            (grey, points, 185, True, 600, 60),
            (face_mask(image, points), points, 195, True, 790, 180))
  truth = []
  for picture, where, size, flip, x, y in copies:
    crop, moved = _head(picture, where, size, flip)
    canvas[y:y + size, x:x + size] = crop
    truth.append(moved + [x, y])
  scenes.append(('group of 5', canvas, truth))
  x0, y0, x1, y1 = CAMERAMAN_FACE
  scenes.append(('cameraman', faces.as_rgb(data.camera()),
                 [np.array([[x0, y0], [x1, y1]], np.float64)]))
  assert tuple(n for n, *_ in scenes) == ASTRONAUT_SCENES
  return scenes


def _listed(image_points):
  image, points = image_points
  return image, [points]


def synthau_scenes(folder, count, split='test'):
  with open(os.path.join(folder, 'manifest.csv'), newline='', encoding='utf-8') as f:
    rows = [r for r in csv.DictReader(f) if r['split'] == split][:count]
  scenes = []
  for row in rows:
    image = cv2.cvtColor(cv2.imread(os.path.join(folder, row['image'])), cv2.COLOR_BGR2RGB)
    points = np.array([[float(row[f'x{i}']), float(row[f'y{i}'])] for i in range(1, 69)])
    scenes.append((row['image'], image, [points]))
  return scenes


# -- scoring --------------------------------------------------------------------------------

def match(detections, truths):
  """(found, false, [(detection, truth) pairs])."""
  pairs, used = [], set()
  for truth in truths:
    (x0, y0), (x1, y1) = truth.min(0), truth.max(0)
    for k, d in enumerate(detections):
      x, y, w, h = d.box
      cx, cy = x + w / 2, y + h / 2
      if (k not in used and x0 <= cx <= x1 and y0 <= cy <= y1
          and 0.5 <= w / (x1 - x0) <= 2.0):
        used.add(k)
        pairs.append((d, truth))
        break
  return len(pairs), len(detections) - len(used), pairs


def nme(points, truth):
  return float(metrics.landmark_errors(points[None], truth[None])[0])


def run(detector, scenes, landmark_error=False):
  """Per-image rows; landmark_error: the truths are ordered 68 points (SynthAU)."""
  detector(scenes[0][1])  # warm-up: models loaded, caches filled
  rows = []
  for name, image, truths in scenes:
    fallbacks = getattr(detector, 'fallbacks', None)
    start = time.perf_counter()
    found = detector(image)
    seconds = time.perf_counter() - start
    hits, false, pairs = match(found, truths)
    rows.append({'scene': name, 'faces': len(truths), 'found': hits, 'false': false,
                 'ms': 1000 * seconds,
                 # auto: whether its CNN stage ran on this image
                 'cnn_ran': None if fallbacks is None else detector.fallbacks > fallbacks,
                 'nme': [nme(d.landmarks68, t) for d, t in pairs] if landmark_error
                        else []})
  return rows


def summarise(rows):
  faces_ = sum(r['faces'] for r in rows)
  errors = [e for r in rows for e in r['nme']]
  return {'faces': faces_, 'found': sum(r['found'] for r in rows),
          'false': sum(r['false'] for r in rows),
          'recall': sum(r['found'] for r in rows) / faces_,
          'ms_per_image': float(np.mean([r['ms'] for r in rows])),
          'nme': float(np.mean(errors)) if errors else None,
          'cnn_ran': (None if rows[0]['cnn_ran'] is None
                      else sum(bool(r['cnn_ran']) for r in rows))}


# -- calibration ----------------------------------------------------------------------------

def calibrate(folder, count):
  """(dx, dy, sx, sy) per detector: where dlib's HOG box lies relative to its box."""
  scenes = synthau_scenes(folder, count, split='train')
  hog = faces.DlibDetector(upsample=1)
  others = {'cnn': faces.CnnDetector(upsample=1),
            'blazeface': faces.BlazeFaceDetector(),
            'blazeface full': faces.BlazeFaceDetector('full')}
  identity = (0.0, 0.0, 1.0, 1.0)
  faces.CnnDetector.CALIBRATION = identity
  faces.BlazeFaceDetector.CALIBRATION = {'short': identity, 'full': identity}
  fits = {name: [] for name in others}
  for _, image, _ in scenes:
    image = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    target = hog.boxes(image)
    if len(target) != 1:
      continue
    l, t, r, b, _ = target[0]
    for name, detector in others.items():
      boxes = detector.boxes(image)
      if len(boxes) != 1:
        continue
      L, T, R, B, _ = boxes[0]
      w, h = R - L, B - T
      fits[name].append(((l + r - L - R) / 2 / w, (t + b - T - B) / 2 / h,
                         (r - l) / w, (b - t) / h))
  return {name: {'n': len(v), 'calibration': [round(float(x), 3)
                                             for x in np.median(np.array(v), axis=0)]}
          for name, v in fits.items() if v}


# -- main -----------------------------------------------------------------------------------

def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
  parser.add_argument('--synthau', default='data/synthau/wild',
                      help='SynthAU wild folder with manifest.csv (default: %(default)s)')
  parser.add_argument('--count', type=int, default=50,
                      help='SynthAU test images (default: %(default)s)')
  parser.add_argument('--detectors', default=','.join(DETECTORS),
                      help='comma-separated, of: ' + ', '.join(DETECTORS))
  parser.add_argument('--out', default='detectors.json', help='JSON results')
  parser.add_argument('--calibrate', action='store_true',
                      help='fit the box calibrations instead (SynthAU training images)')
  args = parser.parse_args(argv)
  if args.calibrate:
    result = calibrate(args.synthau, args.count)
    print(json.dumps(result, indent=1))
    with open(args.out, 'w', encoding='utf-8') as f:
      json.dump(result, f, indent=1)
    return 0
  sets = {'photos': astronaut_scenes()}
  if args.synthau and os.path.isfile(os.path.join(args.synthau, 'manifest.csv')):
    sets['synthau'] = synthau_scenes(args.synthau, args.count)
  result = {'machine': f'{platform.machine()}, {os.cpu_count()} CPUs, '
                       f'load average {os.getloadavg()[0]:.1f} at the start',
            'detectors': {}}
  for label in args.detectors.split(','):
    name, options = DETECTORS[label]
    try:
      detector = faces.make_detector(name, **options)
    except faces.GeometryError as e:
      print(f'{label}: skipped ({e})', file=sys.stderr)
      continue
    result['detectors'][label] = {}
    for set_name, scenes in sets.items():
      rows = run(detector, scenes, landmark_error=set_name == 'synthau')
      result['detectors'][label][set_name] = {'summary': summarise(rows), 'images': rows}
      print(f'{label:15s} {set_name:10s} {summarise(rows)}', file=sys.stderr)
  with open(args.out, 'w', encoding='utf-8') as f:
    json.dump(result, f, indent=1)
  print(table(result))
  return 0


def table(result):
  head = ['detector'] + list(ASTRONAUT_SCENES) + ['photos recall', 'ms/image',
                                     'SynthAU recall', 'NME', 'ms/image']
  lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
  for label, sets in result['detectors'].items():
    a = sets['photos']
    cells = [label] + [f'{r["found"]}/{r["faces"]}' + (f' +{r["false"]}' if r['false']
                                                         else '') for r in a['images']]
    s = a['summary']
    cells += [f'{s["found"]}/{s["faces"]}', f'{s["ms_per_image"]:.0f}']
    if 'synthau' in sets:
      s = sets['synthau']['summary']
      cells += [f'{s["found"]}/{s["faces"]}',
                '-' if s['nme'] is None else f'{s["nme"]:.3f}', f'{s["ms_per_image"]:.0f}']
    lines.append('| ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines) + f'\n\n{result["machine"]}'


if __name__ == '__main__':
  try:
    sys.exit(main())
  except errors.UserError as e:  # dlib or scikit-image missing, a bad file: one line
    sys.exit(f'benchmarks/detectors.py: error: {e}')
