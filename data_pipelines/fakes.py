"""Fakes for tests, notebooks and benchmarks: faces, data set layouts, model batches.

Each `write_*` function builds a tiny copy of one layout of docs/data_formats.md with
drawn faces whose 68 landmarks are known exactly; `fake_arrays` gives a batch of random
model inputs shaped like the training data's.
"""

import csv
import os

import cv2
import numpy as np
from scipy import io as sio


def template_68():
  """A frontal 68-point face (iBUG order) in a unit box, image-left = subject's right."""
  def ellipse(cx, cy, rx, ry, degrees):
    t = np.deg2rad(np.asarray(degrees, np.float64))
    return np.stack([cx + rx * np.cos(t), cy - ry * np.sin(t)], axis=-1)
  t = np.linspace(np.pi, 0, 17)
  contour = np.stack([0.5 + 0.45 * np.cos(t), 0.42 + 0.5 * np.sin(t)], axis=-1)
  arch = 0.3 - 0.04 * np.sin(np.linspace(0, np.pi, 5))
  brow_r = np.stack([np.linspace(0.15, 0.42, 5), arch], axis=-1)
  brow_l = np.stack([np.linspace(0.58, 0.85, 5), arch], axis=-1)
  bridge = np.stack([np.full(4, 0.5), np.linspace(0.38, 0.55, 4)], axis=-1)
  nose = np.stack([np.linspace(0.42, 0.58, 5), [0.6, 0.61, 0.62, 0.61, 0.6]], axis=-1)
  eye_r = ellipse(0.32, 0.4, 0.08, 0.035, [180, 120, 60, 0, -60, -120])
  eye_l = ellipse(0.68, 0.4, 0.08, 0.035, [180, 120, 60, 0, -60, -120])
  mouth = ellipse(0.5, 0.76, 0.16, 0.06, [180, 150, 120, 90, 60, 30, 0, -30, -60, -90,
                                          -120, -150])
  inner = ellipse(0.5, 0.76, 0.11, 0.025, [180, 135, 90, 45, 0, -45, -90, -135])
  return np.concatenate([contour, brow_r, brow_l, bridge, nose, eye_r, eye_l, mouth,
                         inner])


def fake_face(rng, height=120, width=100, face=60.0, angle=None, landmarks=68):
  """Draws a face at a random pose; returns (RGB uint8 image, (N, 2) landmarks)."""
  angle = rng.uniform(-20, 20) if angle is None else angle
  theta = np.deg2rad(angle)
  rotate = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
  centre = np.array([width, height]) / 2 + rng.uniform(-0.05, 0.05, 2) * [width, height]
  points = (template_68() - 0.5) @ rotate.T * face + centre
  background = rng.integers(30, 220, 3)
  image = np.empty((height, width, 3), np.uint8)
  image[:] = background
  cv2.fillPoly(image, [np.round(points[:17]).astype(np.int32)], (205, 170, 140))
  for group in (slice(36, 42), slice(42, 48), slice(48, 60)):
    cv2.fillPoly(image, [np.round(points[group]).astype(np.int32)], (60, 30, 30))
  for x, y in points[17:]:
    cv2.circle(image, (int(round(x)), int(round(y))), 1, (255, 255, 255), -1)
  if landmarks == 66:
    points = np.delete(points, [60, 64], axis=0)
  elif landmarks == 49:
    from au_jax.geometry import landmarks as lm  # pylint: disable=g-import-not-at-top
    points = lm.to_49(points)
  return image, points.astype(np.float64)


def write_image(path, image):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def _row_landmarks(points):
  return [f'{v:.3f}' for v in points.reshape(-1)]


def write_manifest(folder, n=12, subjects=('s1', 's2', 's3'), aus=(1, 2, 4), splits=None,
                   domain='lab', seed=0, size=(120, 100), pseudo=False):
  """A manifest CSV with n images; returns its path. splits: a list cycled over rows."""
  rng = np.random.default_rng(seed)
  header = ['image', 'subject'] + (['split'] if splits else []) + ['domain']
  header += [f'{a}{i}' for i in range(1, 69) for a in 'xy'] + [f'AU{a}' for a in aus]
  header += [f'pseudo_AU{a}' for a in aus] if pseudo else []
  rows = []
  for i in range(n):
    image, points = fake_face(rng, *size)
    name = f'images/{i:04d}.png'
    write_image(os.path.join(folder, name), image)
    labels = [str(int(v)) for v in rng.integers(0, 2, len(aus))]
    if labels:
      labels[0] = str(i % 2)  # Both classes of the first AU, whatever the seed.
    row = [name, subjects[i % len(subjects)]] + ([splits[i % len(splits)]] if splits else [])
    row += [domain] + _row_landmarks(points) + labels
    row += [str(int(v)) for v in rng.integers(0, 2, len(aus))] if pseudo else []
    rows.append(row)
  return write_csv(os.path.join(folder, 'manifest.csv'), header, rows)


def write_csv(path, header, rows):
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  with open(path, 'w', newline='', encoding='utf-8') as f:
    writer = csv.writer(f)
    writer.writerow(header)
    writer.writerows(rows)
  return path


def write_bp4d(root, subjects=('F001', 'M011', 'F007'), tasks=('T1',), frames=3,
               landmark_format='csv', seed=0):
  """BP4D layout: AUCoding/AU_OCC, Sequences/<S>/<T>/<frame>.jpg, Landmarks or 2DFeatures."""
  rng = np.random.default_rng(seed)
  aus = [1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24]
  for subject in subjects:
    for task in tasks:
      name = f'{subject}_{task}'
      numbers = [100 + k for k in range(frames)]
      occ, marks, preds = [], [], []
      for k, frame in enumerate(numbers):
        image, points = fake_face(rng, landmarks=49)
        write_image(os.path.join(root, 'Sequences', subject, task, f'{frame:04d}.jpg'),
                    image)
        values = [int(v) for v in rng.integers(0, 2, len(aus))]
        values[0] = k % 2
        values[-1] = 9  # An unknown cell.
        occ.append([frame] + values)
        marks.append([frame] + _row_landmarks(points))
        preds.append(points)
      write_csv(os.path.join(root, 'AUCoding', 'AU_OCC', name + '.csv'),
                ['0'] + [str(a) for a in aus], occ)
      if landmark_format == 'csv':
        write_csv(os.path.join(root, 'Landmarks', name + '.csv'),
                  ['frame'] + [f'{a}{i}' for i in range(1, 50) for a in 'xy'], marks)
      else:
        fit = np.empty(len(preds), dtype=[('pred', object), ('frame', object)])
        for k, points in enumerate(preds):
          fit[k] = (points, numbers[k])
        os.makedirs(os.path.join(root, '2DFeatures'), exist_ok=True)
        sio.savemat(os.path.join(root, '2DFeatures', name + '.mat'), {'fit': fit})
  return root


def write_disfa(root, subjects=('SN001', 'SN002', 'SN003'), frames=4, aus=(1, 4, 6, 12),
                seed=0):
  """DISFA layout: ActionUnit_Labels, Videos_LeftCamera (MJPG .avi), Landmark_Points .mat.

  Returns {subject: [(image, 66 landmarks) per frame]} so tests can compare frames.
  """
  rng = np.random.default_rng(seed)
  truth = {}
  for subject in subjects:
    faces = [fake_face(rng, 120, 100, angle=0.0, landmarks=66) for _ in range(frames)]
    truth[subject] = faces
    path = os.path.join(root, 'Videos_LeftCamera', f'LeftVideo{subject}_comp.avi')
    os.makedirs(os.path.dirname(path), exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 20, (100, 120))
    for image, _ in faces:
      writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    for k, (_, points) in enumerate(faces):
      folder = os.path.join(root, 'Landmark_Points', subject, 'tmp_frame_lm')
      os.makedirs(folder, exist_ok=True)
      sio.savemat(os.path.join(folder, f'l{k + 1:04d}_lm.mat'), {'pts': points})
    label_dir = os.path.join(root, 'ActionUnit_Labels', subject)
    os.makedirs(label_dir, exist_ok=True)
    for au in aus:
      with open(os.path.join(label_dir, f'{subject}_au{au}.txt'), 'w') as f:
        for k in range(frames):
          f.write(f'{k + 1},{(k + au) % 6}\n')
  return truth


def write_emotionet(root, train=6, validation=6, aus=(1, 2, 4, 6, 12, 17), seed=0):
  """EmotioNet layout: train/, validation/ + validation.csv (999 = unknown), landmarks.csv."""
  rng = np.random.default_rng(seed)
  marks, table = [], []
  for split, count in (('train', train), ('validation', validation)):
    for i in range(count):
      image, points = fake_face(rng)
      name = f'{split}_{i:03d}.jpg'
      write_image(os.path.join(root, split, name), image)
      marks.append([name] + _row_landmarks(points))
      if split == 'validation':
        values = [str(int(v)) for v in rng.integers(0, 2, len(aus))]
        values[-1] = '999'
        table.append([f'http://example.org/img/{name}'] + values)
  write_csv(os.path.join(root, 'landmarks.csv'),
            ['image'] + [f'{a}{i}' for i in range(1, 69) for a in 'xy'], marks)
  write_csv(os.path.join(root, 'validation.csv'), ['URL'] + [f'AU{a}' for a in aus], table)
  return root


def write_adld(root, n=5, au_count=6, seed=0):
  """ADLD lists: <root>/list/BP4D_train_{path,land,AUoccur,weight}.txt, 200x200 images."""
  from au_jax.geometry import align  # pylint: disable=g-import-not-at-top
  from au_jax.geometry import landmarks as lm  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  prefix = os.path.join(root, 'list', 'BP4D_train')
  os.makedirs(os.path.dirname(prefix), exist_ok=True)
  paths, lands, occur = [], [], []
  for i in range(n):
    image, points = fake_face(rng)
    aligned, aligned_points = align.align_face(image, lm.to_49(points), 200)
    name = f'F00{i % 3 + 1}/T1/{i}.jpg'
    write_image(os.path.join(root, 'imgs', name), aligned)
    paths.append(name)
    lands.append(' '.join(f'{v:.4f}' for v in aligned_points.reshape(-1)))
    values = [str(int(v)) for v in rng.integers(0, 2, au_count)]
    values[-1] = '999'
    occur.append(' '.join(values))
  for suffix, lines in (('path', paths), ('land', lands), ('AUoccur', occur),
                        ('weight', [' '.join(['1.0'] * au_count)])):
    with open(f'{prefix}_{suffix}.txt', 'w') as f:
      f.write('\n'.join(lines) + '\n')
  return prefix


def fake_arrays(rng, n, crop_size, n_au, labelled=True):
  """Random faces-shaped arrays for tests: images, plausible landmarks, random AUs."""
  image = rng.uniform(-1, 1, (n, crop_size, crop_size, 3)).astype(np.float32)
  s = crop_size
  base = np.stack(np.meshgrid(np.linspace(0.25, 0.75, 7), np.linspace(0.3, 0.8, 7)),
                  -1).reshape(49, 2)
  base[19:25] = [[0.3 + 0.02 * i, 0.4] for i in range(6)]
  base[25:31] = [[0.6 + 0.02 * i, 0.4] for i in range(6)]
  landmarks = (base[None] * s + rng.normal(0, 0.5, (n, 49, 2))).astype(np.float32)
  au = rng.integers(0, 2, (n, n_au)).astype(np.int32)
  mask = np.full((n, n_au), 1.0 if labelled else 0.0, np.float32)
  return {'image': image, 'landmarks': landmarks, 'au': au, 'au_mask': mask}


def write_face_video(path, frames=20, size=(640, 360), fps=25, period=8.0):
  """An MJPG video of a real face (scikit-image's astronaut, 220 pixels) drifting left
  and right over a noisy grey background, `period` frames per radian of its sine;
  returns the path as a str. For the predict tests and benchmarks/inference.py."""
  from au_jax import errors  # pylint: disable=g-import-not-at-top
  data = errors.require('skimage.data', 'the test video',
                        'pip install scikit-image (or the test extra: pip install -e ".[test]")')
  face = cv2.resize(data.astronaut()[30:300, 90:360], (220, 220))
  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps, size)
  if not writer.isOpened():
    raise OSError(f'OpenCV cannot write an MJPG video to {path}')
  rng = np.random.default_rng(0)
  for i in range(frames):
    frame = np.full((size[1], size[0], 3), 110, np.uint8)
    frame += rng.integers(0, 20, frame.shape, dtype=np.uint8)
    x = int(40 + (size[0] - 300) * (0.5 + 0.5 * np.sin(i / period)))
    frame[70:290, x:x + 220] = face
    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
  writer.release()
  return str(path)
