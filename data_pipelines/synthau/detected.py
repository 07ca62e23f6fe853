"""Detector-grade wild landmarks for SynthAU, and what the detector keeps of the truth.

EmotioNet has no landmark annotations: `prepare --detect-landmarks` takes them from dlib
and drops faces it does not find. SynthAU's manifests hold exact landmarks, kinder than
any real target domain. `detect_wild` writes `wild/manifest_detected.csv`: the same rows,
with the landmarks of the train, validation and test splits replaced by what `prepare
--detect-landmarks` would find (the largest face, same detector and settings), and left
empty where it finds none, so that `prepare` drops those rows ('no landmarks') as it
drops EmotioNet's: the test split is aligned on the detector's points and holds only
the faces it found, as EmotioNet's test images do. The same test faces with their exact
landmarks follow as a control split, `test_exact` (every face, aligned on the true
points: how the wild test split was scored before). `wild/detected.json` records recall
and error per split, so the faces left out are counted.

`measure` reports, on freshly drawn wild faces: recall, the landmark error in
inter-ocular distances per landmark group, and how much of each AU's landmark motion the
detected points keep (`retention`: the slope of detected against true displacement,
from the same face and scene drawn with and without the AU). docs/synthau.md quotes it.
"""

import csv
import json
import os

import cv2
import numpy as np

from au_jax.geometry import landmarks as lm
from data_pipelines.prepare import DETECTOR_OPTIONS  # prepare's own detector settings

# 68-point groups (0-based iBUG indices).
GROUPS = {'jaw': range(0, 17), 'brows': range(17, 27), 'nose': range(27, 36),
          'eyes': range(36, 48), 'mouth': range(48, 68)}
SPLITS = ('train', 'validation', 'test')
# The exact-landmark copy of the test split that `detect_wild` adds.
CONTROL = 'test_exact'
# A point moves with an AU when its true displacement exceeds this (inter-ocular units).
MOVED = 0.03


def make_detector(name='hog'):
  from au_jax import faces  # pylint: disable=import-outside-toplevel
  return faces.make_detector(name, **DETECTOR_OPTIONS.get(name, {}))


def largest_face(detect, image_rgb):
  """(68, 2) points of the largest face, as `prepare --detect-landmarks` takes them."""
  found = detect(image_rgb)
  return np.asarray(found[0].landmarks68, np.float64) if found else None


def _iod(points68):
  return float(lm.inter_ocular_distance(lm.to_49(points68)))


def _on_face(points, truth):
  """Whether detected points are on the true face (their centre inside its box)."""
  centre = points.mean(0)
  return bool(np.all(centre >= truth.min(0)) and np.all(centre <= truth.max(0)))


class ErrorStats:
  """Accumulates recall and per-group errors (inter-ocular distances) of detections."""

  def __init__(self):
    self.faces = self.found = self.wrong_face = 0
    self.nme49, self.groups = [], {g: [] for g in GROUPS}

  def add(self, points, truth):
    self.faces += 1
    if points is None:
      return
    self.found += 1
    if not _on_face(points, truth):
      self.wrong_face += 1
    error = np.linalg.norm(points - truth, axis=1) / _iod(truth)
    self.nme49.append(float(lm.to_49(error[:, None])[:, 0].mean()))
    for g, index in GROUPS.items():
      self.groups[g].append(float(error[list(index)].mean()))

  def summary(self):
    mean = lambda v: round(float(np.mean(v)), 4) if v else None
    return {'faces': self.faces, 'found': self.found,
            'recall': round(self.found / max(self.faces, 1), 4),
            'wrong_face': self.wrong_face, 'nme49_mean': mean(self.nme49),
            'nme49_median': (round(float(np.median(self.nme49)), 4) if self.nme49 else None),
            'group_error': {g: mean(v) for g, v in self.groups.items()}}


def control_rows(body, split_col, control):
  """The test rows again, with their exact points, under the split name `control`."""
  rows = [list(r) for r in body if r[split_col] == 'test'] if control else []
  for r in rows:
    r[split_col] = control
  return rows


def write_landmarks(folder, name, header, rows, control, info):
  """Writes FOLDER/NAME.csv (atomically: whole or absent) with the control rows after
  `rows`, and `info` with the control's description as FOLDER/<json name>; returns
  {'manifest': path, **info}."""
  json_name = info.pop('json_name')
  target = os.path.join(folder, f'{name}.csv')
  with open(target + '.tmp', 'w', newline='') as f:
    csv.writer(f, lineterminator='\n').writerows([header] + rows + control)
  os.replace(target + '.tmp', target)
  info['control'] = ({'split': control[0][header.index('split')], 'of': 'test',
                      'faces': len(control), 'landmarks': 'exact'} if control else None)
  with open(os.path.join(folder, json_name), 'w') as f:
    json.dump(info, f, indent=1)
    f.write('\n')
  return {'manifest': target, **info}


def detect_wild(out_dir, detector='hog', splits=SPLITS, control=CONTROL, progress=False):
  """Writes OUT/wild/manifest_detected.csv and OUT/wild/detected.json; returns the stats.

  Rows of `splits` get the detector's 68 points (empty cells where it finds no face);
  other rows keep the exact ones. With `control` (a split name, or None), the test rows
  are repeated with their exact points under that split name.
  """
  from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  folder = os.path.join(out_dir, 'wild')
  source = os.path.join(folder, 'manifest.csv')
  if not os.path.isfile(source):
    raise FileNotFoundError(f'{source}: no SynthAU wild manifest; run `au-jax synth` first')
  with open(source, newline='') as f:
    rows = list(csv.reader(f))
  header, body = rows[0], rows[1:]
  first = header.index('x1')
  split_col = header.index('split')
  if control and any(r[split_col] == control for r in body):
    raise OSError(f'{source}: already has a {control!r} split')
  exact_test = control_rows(body, split_col, control)
  detect = make_detector(detector)
  stats = {s: ErrorStats() for s in splits}
  todo = [r for r in body if r[split_col] in splits]
  with tqdm(total=len(todo), unit='img', desc='detect', disable=not progress) as bar:
    for row in todo:
      image = cv2.imread(os.path.join(folder, row[0]), cv2.IMREAD_COLOR)
      if image is None:
        raise OSError(f'{row[0]}: unreadable image')
      truth = np.asarray(row[first:first + 136], np.float64).reshape(68, 2)
      points = largest_face(detect, cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
      stats[row[split_col]].add(points, truth)
      row[first:first + 136] = ([''] * 136 if points is None
                                else [f'{v:.3f}' for v in points.reshape(-1)])
      bar.update(1)
  return write_landmarks(folder, 'manifest_detected', header, body, exact_test, {
      'json_name': 'detected.json', 'detector': detector,
      'options': DETECTOR_OPTIONS.get(detector, {}),
      'splits': {s: stats[s].summary() for s in splits},
      'exact_splits': sorted({r[split_col] for r in body} - set(splits))})


def retention(moves):
  """Slope of detected against true displacement, over the points an AU moves:
  sum(d_det · d_true) / sum(|d_true|²); 1 keeps the motion, 0 loses it.
  `moves`: [(detected displacement (k, 2), true displacement (k, 2))]."""
  if not moves:
    return None
  num = sum(float(np.sum(d * t)) for d, t in moves)
  den = sum(float(np.sum(t * t)) for _, t in moves)
  return round(num / den, 4)


def motion_pairs(seed, preset, count, image_size=None, split='validation', domain='wild'):
  """For `count` faces drawn as SynthAU draws them (wild, or lab with one subject each): the encoded image, its truth,
  and for every AU shown at intensity >= 0.5 the same face and scene without that AU.

  Yields (example dict with 'image' (BGR after JPEG) and 'landmarks'),
  [(AU number, image without it, its true landmarks)].
  """
  # pylint: disable=import-outside-toplevel
  from data_pipelines.synthau import dataset, domains
  from data_pipelines.synthau.labels import AUS
  from data_pipelines.synthau.presets import PRESETS
  size = image_size or PRESETS[preset]['image_size']

  def jpeg(image, scene):
    return cv2.imdecode(np.frombuffer(dataset.encode(image, scene), np.uint8),
                        cv2.IMREAD_COLOR)

  for index in range(count):
    ex = dataset.render_example(seed, domain, split, index, size=size,
                                subject=index if domain == 'lab' else None)
    ex['image'] = jpeg(ex['image'], ex['scene'])
    pairs = []
    for k, au in enumerate(AUS):
      if ex['intensity'][k] >= 0.5:
        without = np.array(ex['intensity'], dtype=np.float64)
        without[k] = 0.0
        image, points = domains.render(ex['identity'], without, ex['scene'])
        pairs.append((au, jpeg(image, ex['scene']), points))
    yield ex, pairs


def measure(seed=1000, preset='small', count=300, detector='hog', image_size=None,
            progress=False):
  """Recall, error per group and motion retention per AU of a detector on wild faces
  (seed 1000: faces the data set of seed 0 does not contain)."""
  from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  detect = make_detector(detector)
  stats = ErrorStats()
  moves = {}
  rgb = lambda image: cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
  for ex, pairs in tqdm(motion_pairs(seed, preset, count, image_size), total=count,
                        unit='face', desc=f'measure {detector}', disable=not progress):
    truth = ex['landmarks']
    points = largest_face(detect, rgb(ex['image']))
    stats.add(points, truth)
    if points is None or not _on_face(points, truth):
      continue
    iod = _iod(truth)
    for au, image, truth0 in pairs:
      points0 = largest_face(detect, rgb(image))
      if points0 is None or not _on_face(points0, truth0):
        continue
      true_move = (truth - truth0) / iod
      moved = np.linalg.norm(true_move, axis=1) > MOVED
      if moved.any():
        moves.setdefault(au, []).append(((points - points0)[moved] / iod,
                                         true_move[moved]))
  return {'detector': detector, 'options': DETECTOR_OPTIONS.get(detector, {}),
          'seed': seed, 'preset': preset, 'image_size': image_size, 'count': count,
          **stats.summary(),
          'retention': {f'AU{au}': retention(m) for au, m in sorted(moves.items())},
          'retention_pairs': {f'AU{au}': len(m) for au, m in sorted(moves.items())}}


def true_shapes(seed, split, index, size):
  """(neutral, expressive) true 68 points in pixels of wild image `index` of `split`:
  the generator's draws replayed without drawing (dataset.render_example's order)."""
  # pylint: disable=import-outside-toplevel
  from data_pipelines.synthau import dataset, domains, shape as shape_lib
  from data_pipelines.synthau import labels as labels_lib
  rng = dataset.image_rng(seed, 'wild', split, index)
  _, intensity, _ = labels_lib.sample_labels(rng, 'wild')
  ident = shape_lib.sample_identity(rng)
  scene = domains.sample_scene(rng, 'wild', size)
  matrix = domains.face_matrix(scene, ident)
  pixels = lambda au: shape_lib.landmarks(ident, au) @ matrix[:, :2].T + matrix[:, 2]
  return pixels(np.zeros(len(intensity))), pixels(intensity)


def detector_noise(rows, detected_rows, first, split_col, splits=SPLITS):
  """What a detector's points miss by, per split, from the same rows with true and
  detected landmarks: recall, and per landmark group the RMS error (inter-ocular
  units) and the part of its square that is one shift of the whole group."""
  out = {}
  for split in splits:
    found = faces = 0
    squared, shared = {g: [] for g in GROUPS}, {g: [] for g in GROUPS}
    for row, det in zip(rows, detected_rows):
      if row[split_col] != split:
        continue
      if det[0] != row[0] or det[split_col] != split:
        raise ValueError(f'{det[0]}: manifest_detected.csv does not follow manifest.csv '
                         'row by row; run --detect-wild-landmarks again')
      faces += 1
      if not det[first]:
        continue
      found += 1
      truth = np.asarray(row[first:first + 136], np.float64).reshape(68, 2)
      error = (np.asarray(det[first:first + 136], np.float64).reshape(68, 2) - truth)
      error /= _iod(truth)
      for g, index in GROUPS.items():
        e = error[list(index)]
        squared[g].append(float(np.mean(np.sum(e ** 2, 1))))
        shared[g].append(float(np.sum(e.mean(0) ** 2)))
    out[split] = {'faces': faces, 'recall': found / max(faces, 1), 'groups': {
        g: {'rms': float(np.sqrt(np.mean(squared[g]))) if squared[g] else 0.0,
            'shared': float(min(1.0, np.mean(shared[g]) / max(np.mean(squared[g]), 1e-12)))
                      if squared[g] else 0.0} for g in GROUPS}}
  return out


def calibrate_wild(out_dir, motion, noise_seed=0, splits=SPLITS, control=CONTROL):
  """Writes OUT/wild/manifest_calibrated_r{motion}.csv and its .json: a calibrated
  detector's landmarks for the wild train, validation and test faces.

  Each face's points are its true neutral shape plus `motion` × its true AU motion,
  plus noise at the error per landmark group that dlib's points (manifest_detected.csv
  of `--detect-wild-landmarks`, needed first) have on the same split: a shift of each
  group and a jitter of each point, in dlib's measured proportions. Faces are missed
  (empty cells, dropped by prepare) at dlib's recall on the split. motion=1 with no
  noise gives the exact landmarks; dlib itself keeps little of the motion
  (docs/synthau.md). The test faces follow with exact points as `control`, as in
  manifest_detected.csv.
  """
  folder = os.path.join(out_dir, 'wild')
  exact_path = os.path.join(folder, 'manifest.csv')
  detected_path = os.path.join(folder, 'manifest_detected.csv')
  for path in (exact_path, detected_path):
    if not os.path.isfile(path):
      raise FileNotFoundError(f'{path}: not found; run `au-jax synth '
                              '--detect-wild-landmarks` first')
  with open(os.path.join(out_dir, 'synthau.json')) as f:
    drawn = json.load(f)
  with open(exact_path, newline='') as f:
    rows = list(csv.reader(f))
  with open(detected_path, newline='') as f:
    detected_rows = list(csv.reader(f))[1:len(rows)]
  header, body = rows[0], rows[1:]
  first, split_col = header.index('x1'), header.index('split')
  noise = detector_noise(body, detected_rows, first, split_col, splits)
  stats = {s: ErrorStats() for s in splits}
  out_rows = []
  for row in body:
    row = list(row)
    split = row[split_col]
    if split in splits:
      index = int(os.path.splitext(os.path.basename(row[0]))[0])
      truth = np.asarray(row[first:first + 136], np.float64).reshape(68, 2)
      neutral, full = true_shapes(drawn['seed'], split, index, drawn['sizes']['image_size'])
      if np.abs(full - truth).max() > 0.01:
        raise ValueError(f'{row[0]}: the manifest was not drawn by this generator '
                         '(its landmarks differ from the replayed ones)')
      rng = np.random.default_rng([noise_seed, SPLITS.index(split), index])
      points = None
      if rng.random() < noise[split]['recall']:
        points = neutral + motion * (full - neutral)
        iod = _iod(truth)
        for g, index_g in GROUPS.items():
          rms, part = noise[split]['groups'][g]['rms'], noise[split]['groups'][g]['shared']
          shift = rng.normal(0.0, rms * np.sqrt(part / 2), 2)
          jitter = rng.normal(0.0, rms * np.sqrt((1 - part) / 2), (len(index_g), 2))
          points[list(index_g)] += iod * (shift + jitter)
      stats[split].add(points, truth)
      row[first:first + 136] = ([''] * 136 if points is None
                                else [f'{v:.3f}' for v in points.reshape(-1)])
    out_rows.append(row)
  name = f'manifest_calibrated_r{motion:.2f}'
  return write_landmarks(folder, name, header, out_rows,
                         control_rows(body, split_col, control), {
                             'json_name': f'{name}.json', 'motion': motion,
                             'noise_seed': noise_seed, 'dlib_noise': noise,
                             'splits': {s: stats[s].summary() for s in splits}})
