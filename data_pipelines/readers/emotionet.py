"""EmotioNet as the target domain (`--input EMOTIONET_ROOT`).

  train/                  training images (any depth); their labels are not used
                          (the paper trains without target labels); --max-train N keeps
                          a random N of them (the paper: 200,000).
  validation/             the expert-labelled images;
  validation.csv          their AU table (or .tsv / .txt, delimiter sniffed): a header
                          with the image column first (a file name, relative path or
                          URL; matched by relative path, else by file name) and AU
                          columns `AU1`, `AU 1`, `AU01` or `1`; cells 0/1, 999 or 9 or
                          empty = unknown. Split at random (seeded) into the
                          `validation` and `test` halves, as the paper did;
  test/ + test.csv        optional: an explicit test set (then validation is not split);
  landmarks.csv           optional: image,x1,y1,...,xN,yN for any of these images
                          (image as in the tables: relative path or file name);
                          otherwise use `prepare --detect-landmarks` (dlib, as the paper).
"""

import csv
import os

import numpy as np

from data_pipelines import records as rec
from au_jax.errors import DataError
from data_pipelines.readers import Source

_MISSING = ('999', '9', '', '-1')
_TABLE_SUFFIXES = ('.csv', '.tsv', '.txt')


def _list_images(folder):
  """{relative path: absolute path} of the images under `folder`."""
  out = {}
  for directory, _, names in os.walk(folder):
    for name in names:
      if name.lower().endswith(rec.IMAGE_SUFFIXES):
        path = os.path.join(directory, name)
        out[os.path.relpath(path, folder).replace(os.sep, '/')] = path
  return dict(sorted(out.items()))


def _find_table(root, split):
  for suffix in _TABLE_SUFFIXES:
    if os.path.isfile(os.path.join(root, split + suffix)):
      return os.path.join(root, split + suffix)
  return None


def _read_rows(path):
  with open(path, newline='', encoding='utf-8-sig') as f:
    text = f.read()
  try:
    dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=',\t;')
  except (csv.Error, IndexError):
    dialect = csv.excel
  return [row for row in csv.reader(text.splitlines(), dialect) if any(c.strip() for c in row)]


def _key(name):
  """Match key of an image reference: a URL or path's file name, lower case."""
  return name.strip().replace('\\', '/').split('?')[0].rsplit('/', 1)[-1].lower()


def read_labels(path):
  """{image reference: {au: 0/1}} of an AU table."""
  rows = _read_rows(path)
  if len(rows) < 2:
    raise DataError(f'{path}: expected a header (image, AU1, AU2, ...) and one row per image')
  au_ids = []
  for name in rows[0][1:]:
    name = name.strip()
    au = int(name) if name.isdigit() else rec.au_column_id(name)
    if au is None:
      raise DataError(f'{path}: header cell {name!r} is not an AU column (AU1, AU 1, '
                      f'AU01 or 1)')
    au_ids.append(au)
  out = {}
  for row_number, row in enumerate(rows[1:], start=2):
    if len(row) != len(au_ids) + 1:
      raise DataError(f'{rec.where(path, row_number)}: {len(row)} cells, but the header '
                      f'has {len(au_ids) + 1}')
    labels = {}
    for au, cell in zip(au_ids, row[1:]):
      value = rec.parse_binary(cell, path, row_number, f'AU{au}', missing=_MISSING)
      if value is not None:
        labels[au] = value
    out[row[0].strip()] = labels
  return out, au_ids


def _read_landmarks(path):
  rows = _read_rows(path)
  out = {}
  for row_number, row in enumerate(rows[1:], start=2):
    out[row[0].strip()] = rec.parse_landmarks(row[1:], path, row_number)
  return out


def _lookup(table, relative):
  """Finds an image's entry by relative path, then by file name."""
  if relative in table:
    return table[relative]
  return table.get(_key(relative))


def read(inputs, options):
  if len(inputs) != 1:
    raise DataError('--format emotionet takes one --input folder (the EmotioNet root)')
  root = inputs[0]
  if not os.path.isdir(root):
    raise DataError(f'{root}: EmotioNet folder not found')
  landmarks = {}
  if os.path.isfile(os.path.join(root, 'landmarks.csv')):
    raw = _read_landmarks(os.path.join(root, 'landmarks.csv'))
    landmarks = {**{_key(k): v for k, v in raw.items()}, **raw}
  elif options.need_landmarks:
    raise DataError(f'{root}: no landmarks.csv (image,x1,y1,...); EmotioNet needs '
                    f'--detect-landmarks or that file')
  rng = np.random.default_rng(options.seed)
  records, all_aus = [], set()

  def add(split, relative, path, labels):
    records.append(rec.Record(
        key=f'{split}/{relative}', source=os.path.relpath(path, root), image_path=path,
        landmarks=_lookup(landmarks, relative), labels=labels, split=split,
        domain='wild'))

  train = _list_images(os.path.join(root, 'train'))
  names = list(train)
  if options.max_train is not None and len(names) > options.max_train:
    names = sorted(rng.choice(names, options.max_train, replace=False).tolist())
  for relative in names:
    add('train', relative, train[relative], {})

  has_test = os.path.isdir(os.path.join(root, 'test'))
  for split in ('validation', 'test') if has_test else ('validation',):
    folder = os.path.join(root, split)
    if not os.path.isdir(folder):
      continue
    table_path = _find_table(root, split)
    if table_path is None:
      raise DataError(f'{root}: {split}/ has no label table {split}.csv (image, AU1, ...)')
    table, au_ids = read_labels(table_path)
    all_aus.update(au_ids)
    table = {**{_key(k): v for k, v in table.items()}, **table}
    images = _list_images(folder)
    missing = [r for r in images if _lookup(table, r) is None]
    if missing:
      raise DataError(f'{table_path}: no row for {len(missing)} image(s) of {split}/, '
                      f'e.g. {missing[0]}')
    order = list(images)
    if split == 'validation' and not has_test:
      order = [order[i] for i in rng.permutation(len(order))]
    for i, relative in enumerate(order):
      target = 'test' if (split == 'validation' and not has_test
                          and i >= (len(order) + 1) // 2) else split
      add(target, relative, images[relative], _lookup(table, relative))
  if not records:
    raise DataError(f'{root}: no images under train/, validation/ or test/')
  return Source(records=records, au_ids=sorted(all_aus))
