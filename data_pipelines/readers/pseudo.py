"""Pseudo AU labels for target images (`prepare --pseudo-labels PATH`), e.g. OpenFace's.

PATH is either
  - one CSV whose rows name an image (column `image`, `file`, `filename`, `input`,
    `path` or `name`) and hold AU columns `AU01_c` (OpenFace), `pseudo_AU1` or `AU1`;
  - or a folder of OpenFace `FaceLandmarkImg` outputs, one `<image stem>.csv` per image.
Rows with `success` 0 are ignored; of several faces per image the one with the highest
`confidence` is kept. A row matches an image when one path ends the other (relative,
absolute or a bare file name) or by stem; a row that would label two images is an error.
They are stored as `pseudo_au`/`pseudo_mask`, apart from the true labels.
"""

import csv
import glob
import os
import re

from data_pipelines import records as rec
from au_jax.errors import DataError

_NAME_COLUMNS = ('image', 'file', 'filename', 'input', 'path', 'name')


def _au_columns(header):
  out = {}
  for i, name in enumerate(header):
    for pattern in (r'AU\s*0*(\d+)_c', r'pseudo_AU\s*0*(\d+)', r'AU\s*0*(\d+)'):
      match = re.fullmatch(pattern, name, flags=re.IGNORECASE)
      if match:
        out.setdefault(int(match.group(1)), i)
        break
  return out


def _read_table(path, name_from_file=False):
  """{image reference: {au: 0/1}} of one table."""
  with open(path, newline='', encoding='utf-8-sig') as f:
    rows = [r for r in csv.reader(f) if any(c.strip() for c in r)]
  if not rows:
    raise DataError(f'{path}: empty pseudo-label file')
  header = [h.strip() for h in rows[0]]
  lower = [h.lower() for h in header]
  aus = _au_columns(header)
  if not aus:
    raise DataError(f'{path}: no AU columns (AU01_c, pseudo_AU1 or AU1)')
  name_col = next((lower.index(n) for n in _NAME_COLUMNS if n in lower), None)
  if name_col is None and not name_from_file:
    raise DataError(f'{path}: no image column (one of {", ".join(_NAME_COLUMNS)})')
  success = lower.index('success') if 'success' in lower else None
  confidence = lower.index('confidence') if 'confidence' in lower else None
  best = {}
  for row_number, row in enumerate(rows[1:], start=2):
    if success is not None and float(row[success] or 0) < 0.5:
      continue
    name = (os.path.splitext(os.path.basename(path))[0] if name_from_file
            else row[name_col].strip())
    score = float(row[confidence]) if confidence is not None and row[confidence] else 0.0
    if name in best and best[name][0] >= score:
      continue
    labels = {}
    for au, i in aus.items():
      value = rec.parse_binary(row[i], path, row_number, header[i])
      if value is not None:
        labels[au] = value
    best[name] = (score, labels)
  return {name: labels for name, (_, labels) in best.items()}


def read_pseudo_labels(path):
  """Reads a pseudo-label CSV or a folder of per-image OpenFace CSVs."""
  if os.path.isdir(path):
    table = {}
    files = sorted(glob.glob(os.path.join(path, '**', '*.csv'), recursive=True))
    if not files:
      raise DataError(f'{path}: no OpenFace .csv files')
    for file in files:
      table.update(_read_table(file, name_from_file=True))
    return table
  if not os.path.isfile(path):
    raise DataError(f'{path}: pseudo-label file not found')
  return _read_table(path)


def _parts(reference):
  """Path components of an image reference (a video frame's `#N` dropped)."""
  reference = reference.replace('\\', '/').split('#')[0]
  return tuple(p for p in reference.split('/') if p not in ('', '.'))


def _overlap(name, path):
  """How many trailing components two references share when one ends the other (a
  path relative to the data set, or an absolute one, or a bare file name), else 0. A
  bare name without extension (OpenFace's per-image CSV stem) matches the file's stem."""
  n = min(len(name), len(path))
  if name[-n:] == path[-n:]:
    return n
  if len(name) == 1 and '.' not in name[0] and os.path.splitext(path[-1])[0] == name[0]:
    return 1
  return 0


def attach(records, table):
  """Sets `record.pseudo` from the table; returns how many records matched.

  A table row names an image by a path that ends the record's path, or that the
  record's path ends (so `images/train/0001.jpg` and `/data/wild/images/train/0001.jpg`
  match, `images/test/0001.jpg` does not), or by its stem. Of several matching rows the
  one sharing the most components wins. A row that would label different images (a bare
  `0001.jpg` when train/ and test/ both hold one) is an error, not a guess.
  """
  by_stem = {}
  for name, labels in table.items():
    parts = _parts(name)
    if parts:
      by_stem.setdefault(os.path.splitext(parts[-1])[0], []).append((name, parts, labels))
  matched, images_of = 0, {}
  for record in records:
    path = _parts(record.source)
    if not path:
      continue
    scored = [(_overlap(parts, path), name, labels)
              for name, parts, labels in by_stem.get(os.path.splitext(path[-1])[0], ())]
    scored = sorted((s for s in scored if s[0]), key=lambda s: -s[0])
    if not scored:
      continue
    _, name, labels = scored[0]
    images_of.setdefault(name, set()).add(path)
    record.pseudo = dict(labels)
    matched += 1
  for name, paths in images_of.items():
    if len(paths) > 1:
      shown = ', '.join('/'.join(p) for p in sorted(paths)[:3])
      raise DataError(f'pseudo label row {name!r} matches {len(paths)} images ({shown}'
                      f'{", ..." if len(paths) > 3 else ""}); name images by their path '
                      'in the data set')
  return matched
