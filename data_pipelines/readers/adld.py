"""ADLD / JAA-Net list files (docs/method.md §5): a conversion path for existing users.

Per list prefix P: `P_path.txt` (one image path a line, relative to --image-root),
`P_land.txt` (2n numbers a line, x1 y1 x2 y2 ..., already aligned 200x200 coordinates),
optional `P_AUoccur.txt` (n_au integers a line; 9, 999 or -1 = missing) and
`P_weight.txt` (one row of AU weights, kept in the metadata for reference).
The images are already aligned, so `prepare` only resizes them to --aligned-size.
`--input` is `SPLIT=PREFIX` (repeatable) or a bare PREFIX (the `train` split).
"""

import os

from data_pipelines import records as rec
from au_jax.errors import DataError
from data_pipelines.readers import Source

_MISSING = ('9', '999', '-1', '')


def _read_lines(path):
  if not os.path.isfile(path):
    raise DataError(f'{path}: list file not found')
  with open(path, encoding='utf-8') as f:
    return [line.strip() for line in f if line.strip()]


def parse_input(text):
  """'split=prefix' -> (split, prefix); a bare prefix is the train split."""
  if '=' in text:
    split, prefix = text.split('=', 1)
    return split.strip(), prefix.strip()
  return 'train', text


def _strip_suffix(prefix):
  """Accepts `P` or a file `P_path.txt` as the prefix."""
  for suffix in ('_path.txt', '_land.txt', '_AUoccur.txt', '_weight.txt'):
    if prefix.endswith(suffix):
      return prefix[:-len(suffix)]
  return prefix


def read(inputs, options):
  """Reads one or more list prefixes; `options.aus` names the _AUoccur.txt columns."""
  au_ids = options.aus
  records, weights, label_count = [], {}, None
  for text in inputs:
    split, prefix = parse_input(text)
    prefix = _strip_suffix(prefix)
    root = options.image_root or os.path.dirname(os.path.abspath(prefix))
    paths = _read_lines(prefix + '_path.txt')
    lands = _read_lines(prefix + '_land.txt')
    if len(lands) != len(paths):
      raise DataError(f'{prefix}_land.txt has {len(lands)} lines but {prefix}_path.txt '
                      f'has {len(paths)}')
    occur = None
    if os.path.isfile(prefix + '_AUoccur.txt'):
      occur = _read_lines(prefix + '_AUoccur.txt')
      if len(occur) != len(paths):
        raise DataError(f'{prefix}_AUoccur.txt has {len(occur)} lines but '
                        f'{prefix}_path.txt has {len(paths)}')
    if os.path.isfile(prefix + '_weight.txt'):
      weights[split] = [float(v) for v in _read_lines(prefix + '_weight.txt')[0].split()]
    for line, (path, land) in enumerate(zip(paths, lands), start=1):
      landmarks = rec.parse_landmarks(land.split(), prefix + '_land.txt', line)
      labels = {}
      if occur is not None:
        values = occur[line - 1].split()
        if au_ids is None:
          raise DataError(f'{prefix}_AUoccur.txt does not name its AUs: pass --aus '
                          f'with its {len(values)} AU ids, e.g. --aus 1,2,4,6,12,17')
        if len(values) != len(au_ids):
          raise DataError(f'{rec.where(prefix + "_AUoccur.txt", line)}: {len(values)} '
                          f'values, but --aus names {len(au_ids)} AUs')
        label_count = len(values)
        for au, value in zip(au_ids, values):
          parsed = rec.parse_binary(value, prefix + '_AUoccur.txt', line, f'AU{au}',
                                    missing=_MISSING)
          if parsed is not None:
            labels[au] = parsed
      subject = path.replace('\\', '/').split('/')[0] if '/' in path else ''
      records.append(rec.Record(
          key=f'{split}/{line:08d}', source=path, image_path=rec.resolve(path, root),
          subject=subject, landmarks=landmarks, labels=labels, split=split,
          aligned=True))
  ids = list(au_ids) if (au_ids is not None and label_count) else []
  extra = {'adld_weights': weights} if weights else {}
  return Source(records=records, au_ids=ids, extra=extra)
