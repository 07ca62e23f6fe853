"""Each row's difference to a baseline row, with two 95 % intervals (`--baseline`).

Per seed, a paired bootstrap over the test images: both models scored on the same
resampled images; it needs the per-image probabilities `au-jax evaluate` keeps in
RUN/evaluate/step_<N>_predictions.npz. Over seeds, Student's t interval of the per-seed
differences (runs are paired by seed, or fold).
"""

import dataclasses
import math

import numpy as np

from au_jax import errors
from au_jax import paths
from au_jax.compare import loading
from au_jax.compare import runs as runs_lib


def _per_image(run, split):
  """(probs, labels, masks) of `split` from the run's predictions file, or None."""
  if not run.predictions or not loading.isfile(run.predictions):
    return None
  with paths.resolve(run.predictions).open('rb') as file, np.load(file) as f:
    keys = [f'{split}/{k}' for k in ('probs', 'labels', 'masks')]
    return tuple(f[k] for k in keys) if all(k in f.files for k in keys) else None


def _recorded(run, split, metric, per_image):
  """The run's mean score (%) of `split`: as recorded, else from its per-image file."""
  value = runs_lib.score(run, split, metric)
  if value is None and per_image is not None and metric != 'f1_tuned':
    from au_jax import metrics  # pylint: disable=g-import-not-at-top
    probs, labels, masks = per_image
    value = runs_lib.pct(float(metrics.weighted_scores(
        probs, labels, masks, np.ones((1, len(labels))), metric)[0]))
  return value


def _pair_key(run):
  return (run.fold, run.seed)


@dataclasses.dataclass
class Difference:
  """A row's difference to the baseline row (percentage points)."""
  row: str
  metric: str
  split: str
  per_seed: list  # [(seed or fold, difference, (low, high) of the bootstrap or None)]
  mean: float
  interval: tuple  # Student's t over the per-seed differences; NaN below two

  @property
  def seeds(self):
    return len(self.per_seed)

  def shown_interval(self):
    """((low, high), 'seeds' or 'images'): the t interval over seeds, or, with one seed
    that kept its per-image probabilities, its bootstrap interval over the test images."""
    if self.seeds == 1 and self.per_seed[0][2]:
      return tuple(self.per_seed[0][2]), 'images'
    return tuple(self.interval), 'seeds'


def difference(row, base, metric='auc', samples=1000, seed=0):
  """The Difference of `row` to `base` (Rows), over the seeds (or folds) both have: per
  seed a paired bootstrap over the wild test images when both runs kept their per-image
  probabilities of the same images, else the recorded scores' difference alone."""
  from au_jax import metrics  # pylint: disable=g-import-not-at-top
  by_key = {_pair_key(r): r for r in base.runs}
  label = (lambda r: r.fold) if row.unit == 'fold' else (lambda r: r.seed)
  per_seed, split = [], None
  for run in row.runs:
    other = by_key.get(_pair_key(run))
    split = runs_lib.target_split(run)
    if other is None or runs_lib.target_split(other) != split:
      continue
    mine, theirs = _per_image(run, split), _per_image(other, split)
    same = (mine is not None and theirs is not None
            and np.array_equal(mine[1], theirs[1]) and np.array_equal(mine[2], theirs[2]))
    if same:
      thresholds = [(r.results.get(split) or {}).get('thresholds') for r in (run, other)]
      if metric == 'f1_tuned' and None in thresholds:
        same = False
    if same:
      diff, dist = metrics.paired_bootstrap(mine[0], theirs[0], mine[1], mine[2], metric,
                                            samples, seed, *thresholds)
      low, high = metrics.percentile_interval(dist)
      per_seed.append((label(run), 100 * diff, (100 * low, 100 * high)))
    else:
      a, b = (_recorded(r, split, metric, p) for r, p in ((run, mine), (other, theirs)))
      if a is not None and b is not None:
        per_seed.append((label(run), a - b, None))
  values = [d for _, d, _ in per_seed]
  mean, low, high = metrics.t_interval(values) if values else (float('nan'),) * 3
  return Difference(row.name, metric, split, per_seed, mean, (low, high))


def find_row(rows, name):
  for row in rows:
    if row.name == name:
      return row
  raise errors.InputError(f'--baseline {name!r} is not a row; the rows are '
                          + ', '.join(repr(r.name) for r in rows))


def differences_to(rows, baseline, metric='auc', samples=1000):
  """The Difference of every other row to row `baseline`."""
  base = find_row(rows, baseline)
  if metric not in runs_lib.SCORES:
    raise errors.InputError(f'--metric {metric!r}: choose from {", ".join(runs_lib.SCORES)}')
  return [difference(row, base, metric, samples) for row in rows if row is not base]


def _interval(low, high):
  if low is None or math.isnan(low):
    return '–'
  return f'[{low:+.1f}, {high:+.1f}]'


def differences_markdown_to(diffs, baseline, samples=1000):
  """The differences table: mean over seeds with its t interval, then per seed."""
  if not diffs:
    return f'No other row to compare with {baseline}.'
  metric = runs_lib.SCORES[diffs[0].metric][1]
  lines = [f'{metric} of the wild test split, minus row {baseline}\'s (percentage '
           f'points). Over seeds: mean of the per-seed differences and its 95 % t '
           f'interval (runs paired by seed). Per seed: the difference and its 95 % '
           f'paired bootstrap interval over the test images ({samples} resamplings; '
           "'no images' where a run kept no per-image probabilities).", '',
           f'| row | seeds | Δ {metric} | 95 % CI over seeds | per seed: Δ [95 % CI over images] |',
           '|---|---|---|---|---|']
  for d in diffs:
    each = '; '.join(f'{k}: {v:+.1f} ' + (_interval(*ci) if ci else '(no images)')
                     for k, v, ci in d.per_seed) or '–'
    mean = '–' if math.isnan(d.mean) else f'{d.mean:+.1f}'
    lines.append(f'| {d.row} | {d.seeds} | {mean} | {_interval(*d.interval)} | {each} |')
  return '\n'.join(lines)
