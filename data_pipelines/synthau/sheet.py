"""A contact sheet of SynthAU: lab and wild rows with landmarks and AU labels, and a
gallery of one identity showing each AU alone and the expression prototypes."""

import csv
import json
import os

import cv2
import numpy as np

from au_jax.geometry import landmarks as lm
from data_pipelines.synthau import domains
from data_pipelines.synthau.dataset import subject_identity
from data_pipelines.synthau.labels import AU_NAMES, AUS, INDEX

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_CAPTION = 30  # pixels of text under each tile
_HEADER = 22
_GALLERY = [('neutral', {})] + [(f'AU{a}', {a: 1.0}) for a in AUS] + [
    ('happy 6+12+25', {6: .9, 12: .9, 25: .9}),
    ('surprise 1+2+25+26', {1: .9, 2: .9, 25: .9, 26: .9}),
    ('sad 1+4+15+17', {1: .9, 4: .9, 15: .9, 17: .7}),
    ('disgust 9+4+17', {9: .9, 4: .6, 17: .6}),
    ('anger 4+17', {4: 1.0, 17: .8})]


def _rows(out_dir, domain, split, n):
  with open(os.path.join(out_dir, domain, 'manifest.csv'), newline='') as f:
    rows = [r for r in csv.DictReader(f) if r['split'] == split and r[AU_NAMES[0]] != '']
  if not rows:
    return []
  picks = np.linspace(0, len(rows) - 1, min(n, len(rows))).round().astype(int)
  return [rows[i] for i in picks]


def _wrap(text, width):
  lines, line = [], ''
  for word in text.split():
    trial = f'{line} {word}'.strip()
    if line and cv2.getTextSize(trial, _FONT, 0.4, 1)[0][0] > width - 4:
      lines.append(line)
      trial = word
    line = trial
  return (lines + [line])[:2]


def _tile(image, caption, tile, points=None):
  """image resized to tile x tile with optional (68, 2) landmarks, caption below."""
  k = tile / image.shape[0]
  out = cv2.resize(image, (tile, tile), interpolation=cv2.INTER_AREA if k < 1 else
                   cv2.INTER_CUBIC)
  if points is not None:  # half-transparent, so that the features stay visible
    marks = out.copy()
    for x, y in points * k:
      cv2.circle(marks, (int(round(x * 4)), int(round(y * 4))), 4, (0, 255, 0), -1,
                 cv2.LINE_AA, 2)
    for x, y in lm.eye_centres(lm.to_49(points)):
      cv2.drawMarker(marks, (int(round(x * k)), int(round(y * k))), (0, 0, 255),
                     cv2.MARKER_CROSS, 7, 1)
    out = cv2.addWeighted(marks, 0.6, out, 0.4, 0)
  strip = np.full((_CAPTION, tile, 3), 255, np.uint8)
  for i, line in enumerate(_wrap(caption, tile)):
    cv2.putText(strip, line, (3, 12 + 13 * i), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
  return np.concatenate([out, strip])


def _header(text, width):
  bar = np.full((_HEADER, width, 3), 235, np.uint8)
  cv2.putText(bar, text, (4, 15), _FONT, 0.45, (40, 40, 40), 1, cv2.LINE_AA)
  return bar


def _grid(tiles, n, tile):
  blank = np.full((tile + _CAPTION, tile, 3), 255, np.uint8)
  rows = []
  for i in range(0, len(tiles), n):
    row = tiles[i:i + n]
    rows.append(np.concatenate(row + [blank] * (n - len(row)), 1))
  return rows


def make_contact_sheet(out_dir, path, n=8, tile=150, gallery=True, seed=0):
  """Writes a PNG: n lab test and n wild validation images from the data set in
  `out_dir` (68 landmarks in green, eye centres in red, AU labels below), then a gallery
  of one lab identity with each AU alone and the prototypes. Returns `path`."""
  with open(os.path.join(out_dir, 'synthau.json')) as f:
    info = json.load(f)
  width = n * tile
  raw = info['sizes']['image_size']
  parts = []
  for domain, split, title in (
      ('lab', 'test', f'lab, test split ({raw}x{raw} raw): plain backdrop, even light'),
      ('wild', 'validation', f'wild, validation split ({raw}x{raw} raw): pose, yaw, clutter, '
       'light, occluders, blur, noise, JPEG')):
    tiles = []
    for row in _rows(out_dir, domain, split, n):
      image = cv2.imread(os.path.join(out_dir, domain, row['image']), cv2.IMREAD_COLOR)
      points = np.array([float(row[f'{c}{i}']) for i in range(1, 69) for c in 'xy'])
      aus = ' '.join(a[2:] for a in AU_NAMES if row[a] == '1') or 'none'
      tiles.append(_tile(image, f'AU {aus}', tile, points.reshape(68, 2)))
    if tiles:
      parts += [_header(title, width)] + _grid(tiles, n, tile)
  if gallery:
    ident, backdrop = subject_identity(seed, 0)
    scene = domains.Scene('lab', tile * 2, scale=tile * 2 * 0.34, shift=(0, tile * 0.12),
                          backdrop=backdrop)
    tiles = []
    for name, aus in _GALLERY:
      intensity = np.zeros(len(AUS))
      for a, v in aus.items():
        intensity[INDEX[a]] = v
      image, _ = domains.render(ident, intensity, scene)
      tiles.append(_tile(image, name, tile))
    parts += [_header('one lab identity: each AU alone at full intensity, then expression '
                      'prototypes', width)] + _grid(tiles, n, tile)
  sheet = np.concatenate(parts)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  cv2.imwrite(path, sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
  return path
