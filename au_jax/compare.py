"""Runs side by side in the layout of the paper's Table 7 (`au-jax compare`).

A row is a configuration: runs that differ only in the seed (or, for a cross-validation
workdir, the fold) share a row, shown as mean ± standard deviation (population) over
them. Rows are named by the run's ablation and the `--config.x=y` overrides it was
trained with (WORKDIR/provenance.json); for runs from before provenance was recorded,
by the config fields in which they differ from the other runs compared.

The table is a list of `Column`s, so benchmarks/table7.py builds its own columns on the
same rows. Beside F1 at 0.5 the table shows ROC-AUC, average precision and F1 at
thresholds chosen on the validation split, where the runs' evaluation recorded them.

`--baseline NAME` adds each row's difference to row NAME with two 95 % intervals: per
seed, a paired bootstrap over the test images (both models scored on the same
resampled images; needs the per-image probabilities `au-jax evaluate` keeps in
RUN/evaluate/step_<N>_predictions.npz), and over seeds, Student's t interval of the
per-seed differences (runs are paired by seed, or fold).
"""

import csv
import dataclasses
import io
import json
import math
import os
from typing import Callable

import numpy as np

from au_jax import errors
from au_jax import paths
from au_jax import provenance

# Fields that say which fold a run is, not what it trains.
FOLD_FIELDS = ('data.source_train_split', 'data.source_eval_splits')
_NOT_IN_NAMES = ('seed', 'ablation', *provenance.PLACES, *FOLD_FIELDS)


InputError = errors.InputError  # e.g. a RUN that cannot be compared


@dataclasses.dataclass
class Run:
  """One trained model's scores.

  results: {split: {'au_ids', 'f1', 'f1_mean', ...}} (WORKDIR/results.json);
  diagnostics: {split: {path: {'f1_mean', 'f1_tuned_mean', 'auc_mean', ...}}} or None;
  config: the flat config {'loss.sr': 100.0, ...}; fold: 'fold0'... for a fold run.
  """
  name: str
  results: dict
  seed: int | None = None
  fold: str | None = None
  workdir: str | None = None
  label: str | None = None   # how the differences table calls it
  diagnostics: dict | None = None
  config: dict | None = None
  provenance: dict | None = None
  seconds: float | None = None
  predictions: str | None = None  # the .npz of per-image probabilities, if kept


@dataclasses.dataclass
class Row:
  name: str
  runs: list

  @property
  def unit(self):
    """'seed' or 'fold': what varies between the runs of the row."""
    folds = {r.fold for r in self.runs}
    return 'fold' if len(folds) > 1 else 'seed'


@dataclasses.dataclass(frozen=True)
class Column:
  """A column: `value(run)` in the units shown (None where it does not apply).

  show: 'mean_std' (mean ± std over the row's runs), 'each' (every run's value),
  'mean', or 'count' (the number of runs in the row).
  """
  title: str
  value: Callable = None
  show: str = 'mean_std'
  digits: int = 1
  bare_single: bool = False  # one run: '52.7', not '52.7 ± 0.0'


# -- what a run scored ---------------------------------------------------------------------

def target_split(run):
  """The wild (target) test split: 'target_test', else the last target split."""
  if 'target_test' in run.results:
    return 'target_test'
  names = [n for n, r in run.results.items()
           if r.get('domain', n.split('_')[0]) == 'target']
  return names[-1] if names else None


def source_split(run):
  """The source test split: 'source_test' or the run's test fold ('source_fold0')."""
  if 'source_test' in run.results:
    return 'source_test'
  names = [n for n, r in run.results.items()
           if r.get('domain', n.split('_')[0]) == 'source']
  return names[0] if names else None


def own_path(run, split):
  """The inference path the run's own scores of `split` used."""
  r = run.results.get(split, {})
  return r.get('path') or ('source' if split.startswith('source') else 'target')


def f1(run, split, au=None):
  """F1 (%) of `split`: the average, or of AU `au`; None where the run has none."""
  r = run.results.get(split) if split else None
  if r is None:
    return None
  if au is None:
    return _pct(r['f1_mean'])
  ids = list(r.get('au_ids', []))
  return _pct(r['f1'][ids.index(au)]) if au in ids else None


def diagnostic(run, split, path, key):
  """A value (%) of the run's diagnostics, e.g. (target_test, 'target', 'auc_mean')."""
  entry = ((run.diagnostics or {}).get(split) or {}).get(path) or {}
  return _pct(entry.get(key))


# What each threshold-free score is called in results.json and in the diagnostics.
SCORES = {'auc': ('auc_mean', 'ROC-AUC'), 'ap': ('ap_mean', 'AP'),
          'f1_tuned': ('f1_tuned_mean', 'F1 at val. thresholds'), 'f1': ('f1_mean', 'F1')}


def score(run, split, metric):
  """A mean score (%) of `split` ('auc', 'ap', 'f1_tuned' or 'f1'): from the run's
  evaluation, else from its diagnostics (the run's own path); None if neither has it."""
  key = SCORES[metric][0]
  r = run.results.get(split) if split else None
  if r is not None and r.get(key) is not None:
    return _pct(r[key])
  return diagnostic(run, split, own_path(run, split), key) if split else None


def _pct(value):
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return None
  return 100 * float(value)


# -- rows and tables -----------------------------------------------------------------------

def group(runs):
  """Rows in order of first appearance; runs with the same name share one."""
  rows = {}
  for run in runs:
    rows.setdefault(run.name, Row(run.name, [])).runs.append(run)
  return list(rows.values())


def cell(row, column):
  if column.show == 'count':
    return str(len(row.runs))
  values = [v for v in (column.value(r) for r in row.runs)
            if v is not None and not math.isnan(v)]
  if not values:
    return '–'
  d = column.digits
  if column.show == 'each':
    return ', '.join(f'{v:.{d}f}' for v in values)
  if column.show == 'mean' or (column.bare_single and len(values) == 1):
    return f'{np.mean(values):.{d}f}'
  return f'{np.mean(values):.{d}f} ± {np.std(values):.{d}f}'


def markdown(rows, columns, first='row'):
  lines = ['| ' + ' | '.join([first] + [c.title for c in columns]) + ' |',
           '|' + '---|' * (len(columns) + 1)]
  for row in rows:
    lines.append('| ' + ' | '.join([row.name] + [cell(row, c) for c in columns]) + ' |')
  return '\n'.join(lines)


def csv_rows(rows, columns):
  """Numbers, not text: a mean and a std column for each mean ± std column."""
  header = ['row']
  for c in columns:
    header += [c.title, c.title + ' std'] if c.show == 'mean_std' else [c.title]
  out = [header]
  for row in rows:
    line = [row.name]
    for c in columns:
      if c.show == 'count':
        line.append(len(row.runs))
        continue
      values = [v for v in (c.value(r) for r in row.runs)
                if v is not None and not math.isnan(v)]
      if c.show == 'each':
        line.append(';'.join(f'{v:.4f}' for v in values))
      elif c.show == 'mean':
        line.append(f'{np.mean(values):.4f}' if values else '')
      else:
        line += ([f'{np.mean(values):.4f}', f'{np.std(values):.4f}'] if values
                 else ['', ''])
    out.append(line)
  return out


def au_ids(runs):
  """The AUs of the runs' wild test splits, in order of first appearance."""
  out = []
  for run in runs:
    for a in run.results.get(target_split(run) or '', {}).get('au_ids', []):
      if a not in out:
        out.append(a)
  return out


def table7_columns(runs, diagnostics=False):
  """`au-jax compare`'s columns: wild test F1 per AU and average, source test F1; then
  wild test F1 at thresholds chosen on validation, ROC-AUC and AP where the runs have
  them (from their evaluation or, with diagnostics, the run's own path)."""
  rows = group(runs)
  units = {r.unit for r in rows}
  columns = [Column(f'{units.pop()}s' if len(units) == 1 else 'runs', show='count')]
  columns += [Column(f'AU{a}', lambda r, a=a: f1(r, target_split(r), a), bare_single=True)
              for a in au_ids(runs)]
  columns.append(Column('wild test Avg.', lambda r: f1(r, target_split(r)), bare_single=True))
  columns.append(Column('source test F1', lambda r: f1(r, source_split(r)),
                        bare_single=True))
  for metric in ('f1_tuned', 'auc', 'ap'):
    value = lambda r, m=metric: score(r, target_split(r), m)
    if diagnostics or any(value(r) is not None for r in runs):
      columns.append(Column(SCORES[metric][1], value, bare_single=True))
  return columns


# -- workdirs ------------------------------------------------------------------------------

def _read_json(path):
  return json.loads(paths.resolve(path).read_text(encoding='utf-8'))


def _isfile(path):
  return paths.resolve(path).is_file()


def _fold_of(config):
  evals = config.get('data.source_eval_splits') or ()
  return evals[0] if len(evals) == 1 and str(evals[0]).startswith('fold') else None


def load_run(workdir, label=None):
  """The Run of a finished training workdir (named later, by `name_runs`)."""
  from au_jax import config_lib  # pylint: disable=g-import-not-at-top
  path = paths.join(workdir, 'results.json')  # workdirs may be URLs (gs://...)
  if not _isfile(path):
    why = ('training has not finished' if paths.resolve(workdir).is_dir()
           else 'no such folder')
    raise InputError(f'{workdir}: no results.json ({why})')
  saved = _read_json(path)
  config = (config_lib.flatten(config_lib.load_saved_config(workdir).to_dict())
            if _isfile(paths.join(workdir, config_lib.SAVED_CONFIG)) else {})
  step = saved.get('step')
  diag_file = paths.join(workdir, 'evaluate', f'step_{step}_diagnostics.json')
  diagnostics = (_diagnostics_of(_read_json(diag_file))
                 if _isfile(diag_file) else None)
  kept = paths.join(workdir, 'evaluate', f'step_{step}_predictions.npz')
  return Run(name='', results=saved['results'], seed=config.get('seed'),
             fold=_fold_of(config), workdir=workdir, label=label or workdir,
             diagnostics=diagnostics, config=config,
             provenance=provenance.load(workdir),
             predictions=kept if _isfile(kept) else None)


def _diagnostics_of(report):
  return {split: r['paths'] for split, r in report['splits'].items()}


def load_runs(workdirs):
  """Runs of training workdirs; a cross-validation workdir (`au-jax crossval`) gives
  its folds, which share its row."""
  runs = []
  for path in workdirs:
    path = paths.check(path, 'workdir').rstrip('/') if paths.is_url(path) else \
        os.path.normpath(path)
    folds = fold_dirs(path)
    if folds and not _isfile(paths.join(path, 'results.json')):
      for fold in folds:
        runs.append(load_run(fold, label=fold))
    else:
      runs.append(load_run(path))
  name_runs(runs)
  return runs


def fold_dirs(path):
  """WORKDIR/fold0, fold1, ... of a cross-validation workdir, in order."""
  folder = paths.resolve(path)
  if not folder.is_dir():
    return []
  names = [p.name for p in folder.iterdir()
           if p.name.startswith('fold') and p.name[4:].isdigit() and p.is_dir()]
  return [paths.join(path, n) for n in sorted(names, key=lambda n: int(n[4:]))]


def _signature(run):
  return tuple(sorted((k, repr(v)) for k, v in (run.config or {}).items()
                      if k not in _NOT_IN_NAMES))


def _varying(runs, keep=lambda field: True):
  """Config fields whose values differ among `runs` (except seeds, folds, places)."""
  fields = sorted({k for r in runs for k in (r.config or {})})
  return [f for f in fields if f not in _NOT_IN_NAMES and keep(f) and
          len({repr((r.config or {}).get(f)) for r in runs}) > 1]


def _value(value):
  return ','.join(map(str, value)) if isinstance(value, tuple) else str(value)


def _baseline(runs, field):
  """The most common value of `field` among `runs` (the first run's on a tie)."""
  values = [repr((r.config or {}).get(field)) for r in runs]
  return max(dict.fromkeys(values), key=values.count)


def name_runs(runs):
  """Names each run: its ablation ('full' for the whole method) and overrides.

  Without recorded overrides, the config fields that differ among the runs stand in for
  them: a run names a field where its value is not the most common one, and fields that
  change only with the ablation are left to the ablation's name.
  """
  said = {id(r) for r in runs
          if r.provenance and r.provenance.get('overrides') is not None}
  # 'configs/table7.py:A' is the file table7.py (its row is the ablation's name).
  file_of = lambda r: os.path.basename((r.provenance.get('config_file') or '?').split(':')[0])
  files = {file_of(r) for r in runs if id(r) in said}
  unsaid = [r for r in runs if id(r) not in said]

  def with_ablation_only(field):
    by_row = {}
    for r in unsaid:
      config = r.config or {}
      by_row.setdefault(config.get('ablation'), set()).add(repr(config.get(field)))
    return all(len(v) == 1 for v in by_row.values())

  varying = _varying(unsaid, lambda f: not with_ablation_only(f))
  baseline = {f: _baseline(unsaid, f) for f in varying}
  for r in runs:
    config = r.config or {}
    head = config.get('ablation') or 'full'
    if id(r) in said:
      parts = [o for o in r.provenance['overrides']
               if o.split('=', 1)[0] not in _NOT_IN_NAMES]
      if len(files) > 1:
        head = f'{os.path.splitext(file_of(r))[0]} {head}'
    else:
      parts = [f'{f}={_value(config.get(f))}' for f in varying
               if repr(config.get(f)) != baseline[f]]
    r.name = head + (f' [{", ".join(parts)}]' if parts else '')
  # Same name, different configs (e.g. a config file edited between runs): name the
  # fields that tell them apart.
  for row in group(runs):
    if len({_signature(r) for r in row.runs}) > 1:
      fields = _varying(row.runs)
      for r in row.runs:
        extra = ', '.join(f'{f}={_value(r.config.get(f))}' for f in fields)
        r.name = f'{row.name} {{{extra}}}'
  return runs


def add_diagnostics(runs, data_dir=None, log=print):
  """Fills in the diagnostics of runs without them: `au-jax evaluate --diagnostics` of
  the run's checkpoint, saved where that command saves it, so the next compare reads it."""
  from au_jax import config_lib, evaluate  # pylint: disable=g-import-not-at-top
  for run in runs:
    if run.diagnostics is not None or not run.workdir:
      continue
    log(f'diagnostics of {run.workdir} (au-jax evaluate --diagnostics)...')
    config = config_lib.load_saved_config(run.workdir)
    if data_dir:
      config.data.data_dir = data_dir
    step = None
    results_file = paths.join(run.workdir, 'results.json')
    if _isfile(results_file):
      step = _read_json(results_file).get('step')
    _, step, report = evaluate.evaluate_checkpoint(config, run.workdir, step=step,
                                                   diagnostics=True)
    out = paths.resolve(run.workdir) / 'evaluate'
    out.mkdir(parents=True, exist_ok=True)
    (out / f'step_{step}_diagnostics.json').write_text(json.dumps(report, indent=1),
                                                       encoding='utf-8')
    run.diagnostics = _diagnostics_of(report)


# -- how the runs differ -------------------------------------------------------------------

def differences(runs):
  """(fields that differ: [(field, [value per run])], what all runs share: {key: value}).

  Config fields and the recorded provenance (commit, library versions, devices, seed).
  """
  rows, same = [], {}
  fields = sorted({k for r in runs for k in (r.config or {})})
  for f in fields:
    values = [_value(r.config[f]) if r.config and f in r.config else '–' for r in runs]
    if len(set(values)) > 1:
      rows.append((f, values))
  summaries = [provenance.summary(r.provenance) for r in runs]
  recorded = ['recorded' if s else 'not recorded (trained before au-jax recorded it)'
              for s in summaries]
  if len(set(recorded)) > 1:
    rows.append(('provenance', recorded))
  elif not any(summaries):
    same['provenance'] = recorded[0]
  keys = []
  for s in summaries:
    keys += [k for k in s if k not in keys and k != 'seed']
  for key in keys:  # compared among the runs that recorded it
    values = [s.get(key, '–') if s else '–' for s in summaries]
    known = {v for s, v in zip(summaries, values) if s}
    if len(known) > 1:
      rows.append((key, values))
    else:
      same[key] = known.pop()
  return rows, same


def differences_markdown(runs):
  rows, same = differences(runs)
  lines = []
  if rows:
    lines.append('| | ' + ' | '.join(r.label or r.name for r in runs) + ' |')
    lines.append('|' + '---|' * (len(runs) + 1))
    lines += [f'| {field} | ' + ' | '.join(values) + ' |' for field, values in rows]
  else:
    lines.append('The runs have the same config and provenance.')
  if same:
    some = ('provenance' not in same and
            any(not r.provenance for r in runs))
    lines.append(f'\nIn every run{" that recorded it" if some else ""}: '
                 + '; '.join(f'{k} {v}' for k, v in same.items()))
  return '\n'.join(lines)


# -- differences to a baseline row -----------------------------------------------------------

def _per_image(run, split):
  """(probs, labels, masks) of `split` from the run's predictions file, or None."""
  if not run.predictions or not _isfile(run.predictions):
    return None
  with paths.resolve(run.predictions).open('rb') as file, np.load(file) as f:
    keys = [f'{split}/{k}' for k in ('probs', 'labels', 'masks')]
    return tuple(f[k] for k in keys) if all(k in f.files for k in keys) else None


def _recorded(run, split, metric, per_image):
  """The run's mean score (%) of `split`: as recorded, else from its per-image file."""
  value = score(run, split, metric)
  if value is None and per_image is not None and metric != 'f1_tuned':
    from au_jax import metrics  # pylint: disable=g-import-not-at-top
    probs, labels, masks = per_image
    value = _pct(float(metrics.weighted_scores(probs, labels, masks,
                                               np.ones((1, len(labels))), metric)[0]))
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
    split = target_split(run)
    if other is None or target_split(other) != split:
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
  raise InputError(f'--baseline {name!r} is not a row; the rows are '
                   + ', '.join(repr(r.name) for r in rows))


def differences_to(rows, baseline, metric='auc', samples=1000):
  """The Difference of every other row to row `baseline`."""
  base = find_row(rows, baseline)
  if metric not in SCORES:
    raise InputError(f'--metric {metric!r}: choose from {", ".join(SCORES)}')
  return [difference(row, base, metric, samples) for row in rows if row is not base]


def _interval(low, high):
  if low is None or math.isnan(low):
    return '–'
  return f'[{low:+.1f}, {high:+.1f}]'


def differences_markdown_to(diffs, baseline, samples=1000):
  """The differences table: mean over seeds with its t interval, then per seed."""
  if not diffs:
    return f'No other row to compare with {baseline}.'
  metric = SCORES[diffs[0].metric][1]
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


# -- files ---------------------------------------------------------------------------------

def bar_chart(rows, path, title='wild test F1 per AU (%)'):
  """Per-AU wild test F1 bars, one colour per row (error bars: std over its runs)."""
  # The figure API without pyplot: switching pyplot's backend here would stop a notebook
  # that trains (colab/quickstart.ipynb) from showing its own plots afterwards.
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  runs = [r for row in rows for r in row.runs]
  aus = au_ids(runs)
  labels = [f'AU{a}' for a in aus] + ['Avg.']
  width = 0.8 / max(len(rows), 1)
  ncol = 1 if max(len(row.name) for row in rows) > 45 else 2
  legend_lines = math.ceil(len(rows) / ncol)
  fig = Figure(figsize=(min(16, max(6, 0.22 * len(labels) * (len(rows) + 1))),
                       3.6 + 0.2 * legend_lines))
  ax = fig.subplots()
  x = np.arange(len(labels))
  for i, row in enumerate(rows):
    means, stds = [], []
    for a in [*aus, None]:
      values = [v for v in (f1(r, target_split(r), a) for r in row.runs) if v is not None]
      means.append(np.mean(values) if values else np.nan)
      stds.append(np.std(values) if len(values) > 1 else 0.0)
    ax.bar(x + (i - (len(rows) - 1) / 2) * width, means, width,
           yerr=stds if any(stds) else None, capsize=2, label=row.name)
  ax.set_xticks(x, labels)
  ax.set_ylabel('F1 (%)')
  ax.set_ylim(0, 100)
  ax.set_title(title)
  ax.grid(axis='y', alpha=0.3)
  ax.legend(fontsize=7, ncol=ncol, loc='upper center', bbox_to_anchor=(0.5, -0.1),
            frameon=False)
  fig.tight_layout()
  with paths.resolve(path).open('wb') as f:
    fig.savefig(f, dpi=100, format='png')
  return path


def report(runs, diagnostics=False, baseline=None, metric='auc', samples=1000):
  """The whole Markdown report of `au-jax compare` (with `baseline`, the differences
  of every row to that row)."""
  rows = group(runs)
  columns = table7_columns(runs, diagnostics)
  splits = sorted({f'{target_split(r)}' for r in runs})
  lines = ['# au-jax compare', '',
           f'Wild test F1 at 0.5 (%, split {", ".join(splits)}) per AU and average, and '
           "the source test split's average F1, each through the run's own path; mean ± "
           'std (population) over the runs of a row (seeds, or the folds of a '
           'cross-validation workdir). Then, where recorded, the wild test split\'s F1 at '
           'per-AU thresholds chosen on the validation split, ROC-AUC and average '
           'precision (AP), averages over AUs.', '',
           markdown(rows, columns)]
  if baseline:
    lines += ['', f'## Differences to {baseline}', '',
              differences_markdown_to(differences_to(rows, baseline, metric, samples),
                                      baseline, samples)]
  lines += ['', '## How the runs differ', '', differences_markdown(runs)]
  return '\n'.join(lines) + '\n'


def write(runs, prefix, diagnostics=False, baseline=None, metric='auc', samples=1000,
          text=None):
  """PREFIX.md (`text`, or the report), PREFIX.csv and PREFIX.png; returns their paths."""
  folder = os.path.dirname(prefix)  # a local folder or a URL (gs://...)
  if folder:
    paths.resolve(folder).mkdir(parents=True, exist_ok=True)
  rows = group(runs)
  paths.resolve(prefix + '.md').write_text(
      text or report(runs, diagnostics, baseline, metric, samples), encoding='utf-8')
  table = io.StringIO(newline='')
  csv.writer(table).writerows(csv_rows(rows, table7_columns(runs, diagnostics)))
  paths.resolve(prefix + '.csv').write_text(table.getvalue(), encoding='utf-8')
  bar_chart(rows, prefix + '.png')
  return [prefix + ext for ext in ('.md', '.csv', '.png')]
