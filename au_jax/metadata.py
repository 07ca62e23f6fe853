"""Metadata of a prepared data set: AU ids, aligned size, counts and occurrence rates.

`prepare` stores it as `metadata.json` next to the TFDS files. AU occurrence rates come
from labelled frames only; training turns them into the loss weights of Eq. 9
(`au_jax.losses.au_occurrence_weights`, docs/method.md §3.7), the one place they are
computed.
"""

import dataclasses
import json
import os
import re

from etils import epath
import numpy as np

from au_jax.errors import DataError

BUILDER_NAME = 'aligned_faces'


def dataset_path(data_dir, name):
  """Folder of the newest complete version of a prepared data set.

  `name` is the `--name` given to prepare (or 'aligned_faces/<name>'), or a path to a
  version folder itself when `data_dir` is None.
  """
  if data_dir is None:
    path = name
  else:
    name = name.split('/', 1)[1] if name.startswith(BUILDER_NAME + '/') else name
    parent = os.path.join(os.fspath(data_dir), BUILDER_NAME, name)  # URLs too (gs://...)
    folder = epath.Path(parent)
    versions = sorted(
        (tuple(int(p) for p in v.split('.')), v) for v in
        ([p.name for p in folder.iterdir()] if folder.is_dir() else [])
        if re.fullmatch(r'\d+\.\d+\.\d+', v))
    if not versions:
      raise DataError(f'{parent}: no prepared data set; run `au-jax prepare --output '
                      f'{data_dir} --name {name} ...` first')
    path = os.path.join(parent, versions[-1][1])
  if not (epath.Path(path) / 'dataset_info.json').is_file():
    raise DataError(f'{path}: not a prepared data set (no dataset_info.json)')
  return path


def occurrence_rates(positives, labelled):
  """Rate of each AU over its labelled frames (NaN where none is labelled)."""
  positives = np.asarray(positives, np.float64)
  labelled = np.asarray(labelled, np.float64)
  with np.errstate(invalid='ignore', divide='ignore'):
    return np.where(labelled > 0, positives / np.maximum(labelled, 1), np.nan)


def fold_split(fold, num_folds=3):
  """(train split, test split) of subject-independent fold `fold` (ADLD/JAA-Net order).

  E.g. fold_split(0) == ('fold1+fold2', 'fold0').
  """
  if not 0 <= fold < num_folds:
    raise DataError(f'fold {fold} is not in 0..{num_folds - 1}')
  train = '+'.join(f'fold{k}' for k in range(num_folds) if k != fold)
  return train, f'fold{fold}'


@dataclasses.dataclass
class DatasetMetadata:
  """What training needs to know about a prepared data set.

  au_ids: AU numbers of the `au` columns, e.g. [1, 2, 4, 6, 12, 17].
  aligned_size: side of the stored aligned images (200 at paper size).
  splits: {split: number of examples}.
  counts: {split: {'positives': [...], 'labelled': [...], 'pseudo_positives': [...],
    'pseudo_labelled': [...], 'skipped': {reason: n}, 'read': n}}.
  train_split: the split the stored rates come from ('train', or for subject folds
    None: ask `rates(split)` for e.g. 'fold1+fold2').
  occurrence_rates: from train_split, or None.
  raw: the whole metadata.json.
  """
  au_ids: list
  aligned_size: int
  splits: dict
  counts: dict
  train_split: str | None
  occurrence_rates: list | None
  raw: dict

  def rates(self, split):
    """AU occurrence rates over the labelled frames of `split` ('a' or 'a+b')."""
    parts = split.split('+')
    for part in parts:
      if part not in self.counts:
        raise DataError(f'split {part!r} not in the data set (has {sorted(self.counts)})')
    positives = sum(np.asarray(self.counts[p]['positives'], np.float64) for p in parts)
    labelled = sum(np.asarray(self.counts[p]['labelled'], np.float64) for p in parts)
    return occurrence_rates(positives, labelled)


def build(au_ids, aligned_size, counts, extra):
  """The metadata.json content written by prepare."""
  train_split = 'train' if 'train' in counts else None
  rates = None
  if train_split and au_ids:
    rates_array = occurrence_rates(counts['train']['positives'], counts['train']['labelled'])
    rates = [None if np.isnan(r) else float(r) for r in rates_array]
  folds = sorted(s for s in counts if re.fullmatch(r'fold\d+', s))
  per_fold = {}
  if folds and au_ids:
    for k in range(len(folds)):
      train, test = fold_split(k, len(folds))
      parts = train.split('+')
      r = occurrence_rates(sum(np.asarray(counts[p]['positives'], float) for p in parts),
                           sum(np.asarray(counts[p]['labelled'], float) for p in parts))
      per_fold[test] = {'train_split': train,
                        'occurrence_rates': [None if np.isnan(x) else float(x) for x in r]}
  return {
      'au_ids': [int(a) for a in au_ids],
      'aligned_size': int(aligned_size),
      'splits': {s: int(c['examples']) for s, c in counts.items()},
      'counts': counts,
      'train_split': train_split,
      'occurrence_rates': rates,
      'folds': per_fold or None,
      **extra,
  }


def load_metadata(data_dir, name=None):
  """Reads the metadata of a prepared data set.

  `load_metadata(DATA_DIR, 'synthau_lab')`, or `load_metadata(VERSION_DIR)` with the
  path of the version folder itself.
  """
  path = dataset_path(None, data_dir) if name is None else dataset_path(data_dir, name)
  file = epath.Path(path) / 'metadata.json'
  if not file.is_file():
    raise DataError(f'{path}: no metadata.json; prepare the data set with au-jax prepare')
  raw = json.loads(file.read_text(encoding='utf-8'))
  return DatasetMetadata(
      au_ids=raw['au_ids'], aligned_size=raw['aligned_size'], splits=raw['splits'],
      counts=raw['counts'], train_split=raw.get('train_split'),
      occurrence_rates=raw.get('occurrence_rates'), raw=raw)
