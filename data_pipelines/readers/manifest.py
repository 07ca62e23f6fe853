"""Manifest CSV reader (docs/method.md §8), the generic route into `prepare`.

Header columns: `image` (relative to the CSV's folder, or absolute), `subject`,
`x1,y1,...,xN,yN` (N = 68, 66 or 49; original pixels), `AU<k>` (1, 0 or empty).
Optional: `split` (train/validation/test...), `domain` (free text), pseudo labels
`pseudo_AU<k>` or OpenFace-style `AU<kk>_c` (kept apart from the true labels).
Other columns are ignored.
"""

import csv
import io
import os
import re

from au_jax import paths
from data_pipelines import records as rec
from au_jax.errors import DataError
from data_pipelines.readers import Source

_SPLIT_ALIASES = {'val': 'validation', 'valid': 'validation', 'dev': 'validation',
                  'training': 'train', 'testing': 'test'}


def normalise_split(text, path, row):
  name = _SPLIT_ALIASES.get(text.strip().lower(), text.strip().lower())
  if not re.fullmatch(r'[a-z][a-z0-9_]*', name) or name == 'all':  # TFDS reserves 'all'.
    raise DataError(f'{rec.where(path, row)}: split {text!r} is not a split name '
                    f'(train, validation, test, or letters, digits and _)')
  return name


def _landmark_columns(header, path):
  """Column indices of x1,y1,...,xN,yN, or None when the CSV has no landmarks."""
  names = {name.lower(): i for i, name in enumerate(header)}
  xs = sorted(int(m.group(1)) for n in names if (m := re.fullmatch(r'x(\d+)', n)))
  ys = sorted(int(m.group(1)) for n in names if (m := re.fullmatch(r'y(\d+)', n)))
  if not xs and not ys:
    return None
  count = len(xs)
  if xs != ys or xs != list(range(1, count + 1)) or count not in rec.LANDMARK_COUNTS:
    raise DataError(f'{path}: landmark columns must be x1,y1,...,xN,yN with N = 68, 66 '
                    f'or 49; found {len(xs)} x and {len(ys)} y columns')
  return [names[f'{axis}{i}'] for i in range(1, count + 1) for axis in 'xy']


def _label_columns(header):
  """(true AU columns, pseudo AU columns) as {au_id: column index}."""
  true, pseudo = {}, {}
  for i, name in enumerate(header):
    if (au := rec.au_column_id(name)) is not None:
      true[au] = i
    elif (m := re.fullmatch(r'pseudo_AU\s*0*(\d+)', name, flags=re.IGNORECASE)):
      pseudo[int(m.group(1))] = i
    elif (m := re.fullmatch(r'AU\s*0*(\d+)_c', name, flags=re.IGNORECASE)):
      pseudo.setdefault(int(m.group(1)), i)
  return true, pseudo


def read(inputs, options):
  """Reads one manifest CSV (`inputs` = [path])."""
  del options
  if len(inputs) != 1:
    raise DataError('--format manifest takes one --input CSV file')
  path = inputs[0]
  file = paths.resolve(path)  # a local file or a URL (gs://...)
  if not file.is_file():
    raise DataError(f'{path}: manifest CSV not found')
  base = os.fspath(file.parent)
  rows = list(csv.reader(io.StringIO(file.read_text(encoding='utf-8-sig'), newline='')))
  if not rows:
    raise DataError(f'{path}: the manifest is empty; expected a header row with image, '
                    f'subject, x1,y1,...,AU1,...')
  header = [name.strip() for name in rows[0]]
  columns = {name.lower(): i for i, name in enumerate(header)}
  if 'image' not in columns:
    raise DataError(f'{path}: no `image` column in the header {header[:6]}...')
  landmark_index = _landmark_columns(header, path)
  au_index, pseudo_index = _label_columns(header)
  if len(rows) < 2:
    raise DataError(f'{path}: the manifest has a header but no rows')

  records = []
  for row_number, row in enumerate(rows[1:], start=2):
    if not any(cell.strip() for cell in row):
      continue
    if len(row) != len(header):
      raise DataError(f'{rec.where(path, row_number)}: {len(row)} cells, but the header '
                      f'has {len(header)}')
    cell = lambda name, row=row: row[columns[name]].strip() if name in columns else ''
    image = cell('image')
    if not image:
      raise DataError(f'{rec.where(path, row_number)}: empty `image` cell')
    landmarks = None
    if landmark_index is not None:
      values = [row[i].strip() for i in landmark_index]
      filled = sum(bool(v) for v in values)
      if filled == len(values):
        landmarks = rec.parse_landmarks(values, path, row_number)
      elif filled:
        raise DataError(f'{rec.where(path, row_number)}: {filled} of {len(values)} '
                        f'landmark cells are filled; a row has all or none')
    labels = {au: rec.parse_binary(row[i], path, row_number, header[i])
              for au, i in au_index.items()}
    pseudo = {au: rec.parse_binary(row[i], path, row_number, header[i])
              for au, i in pseudo_index.items()}
    split = cell('split')
    if 'split' in columns and not split:
      raise DataError(f'{rec.where(path, row_number)}: empty `split` cell')
    records.append(rec.Record(
        key=f'row{row_number:08d}',
        source=image,
        image_path=rec.resolve(image, base),
        subject=cell('subject'),
        landmarks=landmarks,
        labels={k: v for k, v in labels.items() if v is not None},
        pseudo={k: v for k, v in pseudo.items() if v is not None},
        split=normalise_split(split, path, row_number) if split else None,
        domain=cell('domain')))
  if not records:
    raise DataError(f'{path}: the manifest has a header but no rows')
  return Source(records=records, au_ids=sorted(au_index),
                extra={'pseudo_columns': sorted(pseudo_index)})
