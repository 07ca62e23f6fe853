"""Writes SynthAU: lab and wild manifests (docs/method.md §8) with their images, from one seed.

Layout under `out_dir`:
  lab/manifest.csv, lab/images/<split>/<subject>/<k>.png
  wild/manifest.csv, wild/images/<split>/<index>.jpg
  synthau.json   seed, preset, sizes, counts and occurrence rates per domain and split
Every image draws its random numbers from its own stream, keyed by (seed, domain, split,
index), and every lab subject from (seed, subject): the bytes written do not depend on
the number of workers or on the order in which images are made.
"""

import concurrent.futures
import csv
import json
import multiprocessing
import os
import time

import cv2
import numpy as np

from data_pipelines.synthau import domains
from data_pipelines.synthau import labels as labels_lib
from data_pipelines.synthau import shape as shape_lib
from data_pipelines.synthau.labels import AU_NAMES
from data_pipelines.synthau.presets import (DEFAULT_LAB_IMAGES, DEFAULT_LAB_SUBJECTS,
                                            DEFAULT_WILD_IMAGES, PRESETS, SPLITS)

DOMAINS = ('lab', 'wild')
COLUMNS = (['image', 'subject', 'split', 'domain']
           + [f'{c}{i}' for i in range(1, 69) for c in 'xy'] + list(AU_NAMES))
_TAG = {'lab': 0, 'wild': 1, 'subject': 2}
_BATCH = 64


def image_rng(seed, domain, split, index):
  return np.random.default_rng([seed, _TAG[domain], SPLITS.index(split), index])


def subject_identity(seed, subject):
  """The identity and session backdrop of lab subject number `subject`."""
  rng = np.random.default_rng([seed, _TAG['subject'], subject, 0])
  ident = shape_lib.sample_identity(rng)
  backdrop = domains.BACKDROPS[int(rng.integers(len(domains.BACKDROPS)))]
  return ident, backdrop


def render_example(seed, domain, split, index, subject=None, size=96):
  """Samples and draws one image; returns a dict with everything that made it."""
  rng = image_rng(seed, domain, split, index)
  labels, intensity, expression = labels_lib.sample_labels(rng, domain)
  if domain == 'lab':
    ident, backdrop = subject_identity(seed, subject)
  else:
    ident, backdrop = shape_lib.sample_identity(rng), None
  scene = domains.sample_scene(rng, domain, size, backdrop)
  image, points = domains.render(ident, intensity, scene)
  return {'image': image, 'landmarks': points, 'labels': labels, 'intensity': intensity,
          'expression': expression, 'identity': ident, 'scene': scene}


def hidden_labels(seed, split, count):
  """(count, len(AUS)) labels the generator drew for wild images 0..count-1 of `split`,
  without drawing them: the wild train split's are left out of the manifest, and this
  is how an analysis (e.g. scoring pseudo labels) reads them back."""
  return np.array([labels_lib.sample_labels(image_rng(seed, 'wild', split, i), 'wild')[0]
                   for i in range(count)], np.int64).reshape(count, len(AU_NAMES))


def encode(image, scene):
  """PNG for lab; JPEG at the scene's quality for wild (the artefacts are part of it)."""
  if scene.jpeg_quality:
    ok, buf = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, scene.jpeg_quality])
  else:
    ok, buf = cv2.imencode('.png', image)
  if not ok:
    raise RuntimeError('image encoding failed')
  return buf.tobytes()


def _plan(lab_subjects, lab_images, wild_images):
  """Jobs (domain, split, index, subject number or None, subject name, relative path)."""
  jobs = []
  first = 0
  for split, n_subjects, n_images in zip(SPLITS, lab_subjects, lab_images):
    if n_images and n_subjects < 1:
      raise ValueError(f'lab {split}: {n_images} images need at least one subject')
    for i in range(n_images):
      subject = first + i % n_subjects
      name = f'L{subject:03d}'
      jobs.append(('lab', split, i, subject, name,
                   f'images/{split}/{name}/{i // n_subjects:04d}.png'))
    first += n_subjects
  for split, n_images in zip(SPLITS, wild_images):
    for i in range(n_images):
      jobs.append(('wild', split, i, None, f'W{SPLITS.index(split)}{i:05d}',
                   f'images/{split}/{i:05d}.jpg'))
  return jobs


def _render_batch(task):
  """Worker: draws and writes a batch of images; returns their manifest rows and labels."""
  seed, size, out_dir, jobs = task
  rows = []
  for domain, split, index, subject, name, path in jobs:
    ex = render_example(seed, domain, split, index, subject, size)
    with open(os.path.join(out_dir, domain, path), 'wb') as f:
      f.write(encode(ex['image'], ex['scene']))
    coords = [f'{v:.3f}' for v in ex['landmarks'].reshape(-1)]
    hidden = domain == 'wild' and split == 'train'
    aus = [''] * len(AU_NAMES) if hidden else [str(int(v)) for v in ex['labels']]
    rows.append(([path, name, split, domain] + coords + aus, ex['labels']))
  return rows


def _init_worker():
  cv2.setNumThreads(1)


def _counts(value, name):
  value = tuple(int(v) for v in value)
  if len(value) != 3 or min(value) < 0:
    raise ValueError(f'{name} must be three non-negative counts (train, validation, test)')
  return value


def generate(out_dir, *, preset='small', seed=0, lab_subjects=DEFAULT_LAB_SUBJECTS,
             lab_images=DEFAULT_LAB_IMAGES, wild_images=DEFAULT_WILD_IMAGES, image_size=None,
             workers=1, progress=False):
  """Writes the data set; returns paths, counts, occurrence rates and the speed.

  Counts are (train, validation, test). Lab subjects are disjoint across splits; every
  wild image is its own subject. Wild train rows have empty AU cells (unlabelled).
  `image_size` overrides the preset's raw side. `workers` > 1 draws in spawned processes
  (so the calling script must be importable, as always with multiprocessing); the bytes
  written are the same for any number of workers. `progress` shows a tqdm bar (img/s).
  """
  if preset not in PRESETS:
    raise ValueError(f'unknown preset {preset!r}; choose from {sorted(PRESETS)}')
  sizes = dict(PRESETS[preset])
  if image_size:
    sizes['image_size'] = int(image_size)
  lab_subjects = _counts(lab_subjects, 'lab_subjects')
  lab_images = _counts(lab_images, 'lab_images')
  wild_images = _counts(wild_images, 'wild_images')
  out_dir = os.path.abspath(os.fspath(out_dir))
  jobs = _plan(lab_subjects, lab_images, wild_images)
  for folder in sorted({os.path.dirname(os.path.join(out_dir, j[0], j[5])) for j in jobs}):
    os.makedirs(folder, exist_ok=True)
  for domain in DOMAINS:
    os.makedirs(os.path.join(out_dir, domain), exist_ok=True)

  # Batches small enough that every worker gets several, large enough to be cheap.
  batch = max(1, min(_BATCH, -(-len(jobs) // (4 * max(1, workers)))))
  tasks = [(seed, sizes['image_size'], out_dir, jobs[i:i + batch])
           for i in range(0, len(jobs), batch)]
  start = time.perf_counter()
  results = []
  from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  with tqdm(total=len(jobs), unit='img', desc='synth', disable=not progress) as bar:
    if workers > 1 and len(tasks) > 1:
      context = multiprocessing.get_context('spawn')
      with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context,
                                                  initializer=_init_worker) as pool:
        for rows in pool.map(_render_batch, tasks):
          results.extend(rows)
          bar.update(len(rows))
    else:
      for task in tasks:
        rows = _render_batch(task)
        results.extend(rows)
        bar.update(len(rows))
  seconds = time.perf_counter() - start

  manifests, counts, occurrence = {}, {}, {}
  for domain in DOMAINS:
    path = os.path.join(out_dir, domain, 'manifest.csv')
    with open(path, 'w', newline='') as f:
      writer = csv.writer(f, lineterminator='\n')
      writer.writerow(COLUMNS)
      writer.writerows(row for row, _ in results if row[3] == domain)
    manifests[domain] = path
    counts[domain], occurrence[domain] = {}, {}
    for split in SPLITS:
      found = [lab for row, lab in results if row[3] == domain and row[2] == split]
      counts[domain][split] = len(found)
      rates = np.mean(found, axis=0) if found else [None] * len(AU_NAMES)
      occurrence[domain][split] = {a: None if r is None else round(float(r), 4)
                                   for a, r in zip(AU_NAMES, rates)}

  info = {
      'name': 'SynthAU', 'version': 1, 'seed': seed, 'preset': preset, 'sizes': sizes,
      'aus': list(AU_NAMES), 'manifests': {d: f'{d}/manifest.csv' for d in DOMAINS},
      'counts': counts, 'lab_subjects': dict(zip(SPLITS, lab_subjects)),
      'occurrence': occurrence,
      'targets': {d: dict(zip(AU_NAMES, labels_lib.target_rates(d).tolist())) for d in DOMAINS},
      'note': ('wild train AU cells are empty in the manifest (unlabelled); its rates here '
               'come from the generator and are for analysis only'),
  }
  info_path = os.path.join(out_dir, 'synthau.json')
  with open(info_path, 'w') as f:
    json.dump(info, f, indent=1, sort_keys=True)
    f.write('\n')
  return {'out_dir': out_dir, 'lab_manifest': manifests['lab'],
          'wild_manifest': manifests['wild'], 'info': info_path, 'counts': counts,
          'occurrence': occurrence, 'sizes': sizes, 'seconds': seconds,
          'images_per_second': len(jobs) / max(seconds, 1e-9)}
