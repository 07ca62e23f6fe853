"""Which records go to which split, and which AUs the prepared data set keeps.

A reader's own splits (a manifest `split` column, EmotioNet's folders, ADLD prefixes)
are kept. Otherwise the records are divided into subject-independent folds `fold0`..:
BP4D and DISFA use the JAA-Net/ADLD subject lists, other data sets a seeded shuffle of
their subjects. Fold k is tested on `fold{k}` and trained on the others
(metadata.fold_split).
"""

import dataclasses

import numpy as np

from au_jax.errors import DataError


@dataclasses.dataclass
class Plan:
  splits: dict  # {split name: [Record, ...]} in a stable order.
  au_ids: list
  folds: dict | None = None  # {fold name: [subjects]} when subject folds were made.


def assign_folds(records, num_folds, fold_lists=None, seed=0):
  """{fold name: [subjects]}: the given lists when they cover every subject, else seeded."""
  subjects = sorted({r.subject for r in records})
  if '' in subjects:
    raise DataError('subject folds need a subject for every record (a `subject` column), '
                    'or give a `split` column')
  if len(subjects) < num_folds:
    raise DataError(f'{len(subjects)} subject(s) cannot make {num_folds} subject-'
                    f'independent folds; add subjects, lower --folds or give a split column')
  if fold_lists and len(fold_lists) == num_folds and set(subjects) <= set().union(
      *map(set, fold_lists)):
    parts = [[s for s in fold if s in subjects] for fold in fold_lists]
  else:
    order = np.random.default_rng(seed).permutation(len(subjects))
    parts = [sorted(subjects[i] for i in part)
             for part in np.array_split(order, num_folds)]
  for k, part in enumerate(parts):
    if not part:
      raise DataError(f'fold{k} has no subject: the data set holds only '
                      f'{", ".join(subjects)}; use --folds or a split column')
  return {f'fold{k}': part for k, part in enumerate(parts)}


def make_plan(source, aus=None, num_folds=3, seed=0, subject_folds=False):
  """Chooses AUs and splits for the records of a reader's Source; `subject_folds` makes
  subject folds even where the reader gives splits (e.g. a manifest's split column)."""
  if not source.records:
    raise DataError('the input holds no records')
  if aus:
    missing = [a for a in aus if a not in source.au_ids]
    if source.au_ids and missing:
      raise DataError(f'--aus asks for AU{missing[0]}, but the labels hold only '
                      f'{", ".join(f"AU{a}" for a in source.au_ids)}')
    au_ids = list(aus)
  else:
    # A target set with pseudo labels only keeps the AUs of its pseudo labels.
    au_ids = list(source.au_ids) or sorted({a for r in source.records for a in r.pseudo})
  with_split = [r.split is not None and not subject_folds for r in source.records]
  if all(with_split):
    splits = {}
    for r in source.records:
      splits.setdefault(r.split, []).append(r)
    return Plan(splits=dict(sorted(splits.items())), au_ids=au_ids)
  if any(with_split):
    raise DataError('some records have a split and others do not')
  folds = assign_folds(source.records, num_folds, source.fold_lists, seed)
  fold_of = {s: name for name, subjects in folds.items() for s in subjects}
  splits = {name: [] for name in folds}
  for r in source.records:
    splits[fold_of[r.subject]].append(r)
  return Plan(splits=splits, au_ids=au_ids, folds=folds)
