"""The tables and the chart of `au-jax compare`: Markdown, CSV and per-AU bars.

The table is a list of `Column`s, so benchmarks/table7.py builds its own columns on the
same rows. Beside F1 at 0.5 the table shows ROC-AUC, average precision and F1 at
thresholds chosen on the validation split, where the runs' evaluation recorded them.
"""

import csv
import dataclasses
import io
import math
import os
from typing import Callable

import numpy as np

from au_jax import paths
from au_jax import provenance
from au_jax.compare import intervals
from au_jax.compare import runs as runs_lib


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
    for a in run.results.get(runs_lib.target_split(run) or '', {}).get('au_ids', []):
      if a not in out:
        out.append(a)
  return out


def table7_columns(runs, diagnostics=False):
  """`au-jax compare`'s columns: wild test F1 per AU and average, source test F1; then
  wild test F1 at thresholds chosen on validation, ROC-AUC and AP where the runs have
  them (from their evaluation or, with diagnostics, the run's own path)."""
  f1, target, source = runs_lib.f1, runs_lib.target_split, runs_lib.source_split
  rows = runs_lib.group(runs)
  units = {r.unit for r in rows}
  columns = [Column(f'{units.pop()}s' if len(units) == 1 else 'runs', show='count')]
  columns += [Column(f'AU{a}', lambda r, a=a: f1(r, target(r), a), bare_single=True)
              for a in au_ids(runs)]
  columns.append(Column('wild test Avg.', lambda r: f1(r, target(r)), bare_single=True))
  columns.append(Column('source test F1', lambda r: f1(r, source(r)), bare_single=True))
  for metric in ('f1_tuned', 'auc', 'ap'):
    value = lambda r, m=metric: runs_lib.score(r, target(r), m)
    if diagnostics or any(value(r) is not None for r in runs):
      columns.append(Column(runs_lib.SCORES[metric][1], value, bare_single=True))
  return columns


def differences(runs):
  """(fields that differ: [(field, [value per run])], what all runs share: {key: value}).

  Config fields and the recorded provenance (commit, library versions, devices, seed).
  """
  rows, same = [], {}
  fields = sorted({k for r in runs for k in (r.config or {})})
  for f in fields:
    values = [runs_lib.config_text(r.config[f]) if r.config and f in r.config else '–'
              for r in runs]
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
      values = [v for v in (runs_lib.f1(r, runs_lib.target_split(r), a) for r in row.runs)
                if v is not None]
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
  rows = runs_lib.group(runs)
  columns = table7_columns(runs, diagnostics)
  splits = sorted({f'{runs_lib.target_split(r)}' for r in runs})
  lines = ['# au-jax compare', '',
           f'Wild test F1 at 0.5 (%, split {", ".join(splits)}) per AU and average, and '
           "the source test split's average F1, each through the run's own path; mean ± "
           'std (population) over the runs of a row (seeds, or the folds of a '
           'cross-validation workdir). Then, where recorded, the wild test split\'s F1 at '
           'per-AU thresholds chosen on the validation split, ROC-AUC and average '
           'precision (AP), averages over AUs.', '',
           markdown(rows, columns)]
  if baseline:
    diffs = intervals.differences_to(rows, baseline, metric, samples)
    lines += ['', f'## Differences to {baseline}', '',
              intervals.differences_markdown_to(diffs, baseline, samples)]
  lines += ['', '## How the runs differ', '', differences_markdown(runs)]
  return '\n'.join(lines) + '\n'


def write(runs, prefix, diagnostics=False, baseline=None, metric='auc', samples=1000,
          text=None):
  """PREFIX.md (`text`, or the report), PREFIX.csv and PREFIX.png; returns their paths."""
  folder = os.path.dirname(prefix)  # a local folder or a URL (gs://...)
  if folder:
    paths.resolve(folder).mkdir(parents=True, exist_ok=True)
  rows = runs_lib.group(runs)
  paths.resolve(prefix + '.md').write_text(
      text or report(runs, diagnostics, baseline, metric, samples), encoding='utf-8')
  table = io.StringIO(newline='')
  csv.writer(table).writerows(csv_rows(rows, table7_columns(runs, diagnostics)))
  paths.resolve(prefix + '.csv').write_text(table.getvalue(), encoding='utf-8')
  bar_chart(rows, prefix + '.png')
  return [prefix + ext for ext in ('.md', '.csv', '.png')]
