"""Pseudo AU labels for target images (`prepare --pseudo-labels PATH`), e.g. OpenFace's.

PATH is either
  - one CSV whose rows name an image (column `image`, `file`, `filename`, `input`,
    `path` or `name`) and hold AU columns `AU01_c` (OpenFace), `pseudo_AU1` or `AU1`;
  - or a folder of OpenFace `FaceLandmarkImg` outputs, one `<image stem>.csv` per image.
Rows with `success` 0 are ignored; of several faces per image the one with the highest
`confidence` is kept. Images are matched by relative path, else file name, else stem.
They are stored as `pseudo_au`/`pseudo_mask`, apart from the true labels.
"""

import csv
import glob
import os
import re

from data_pipelines import records as rec
from data_pipelines.errors import DataError

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


def _keys(reference):
  reference = reference.replace('\\', '/').split('#')[0]
  base = reference.rsplit('/', 1)[-1]
  return (reference, base, os.path.splitext(base)[0])


def attach(records, table):
  """Sets `record.pseudo` from the table; returns how many records matched."""
  index = {}
  for name, labels in table.items():
    for key in _keys(name):
      index.setdefault(key, labels)
  matched = 0
  for record in records:
    labels = next((index[k] for k in _keys(record.source) if k in index), None)
    if labels is not None:
      record.pseudo = dict(labels)
      matched += 1
  return matched
