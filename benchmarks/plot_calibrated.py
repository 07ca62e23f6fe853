"""Each row's ROC-AUC difference to source-only against the calibrated detector's R.

    python benchmarks/plot_calibrated.py [--out docs/calibrated_detector.png]

Reads the differences that benchmarks/queue_calibrated.sh keeps
(benchmarks/table7_calibrated_r{R}_differences.json for R = 0.25, 0.50, 0.75 and
exact, plotted at R = 1) and dlib's own (benchmarks/table7_protocol_differences.json),
drawn at the R that `au-jax landmark-error` measured for dlib on the lab domain
(benchmarks/landmark_error_synthau_lab.json). Each point is the mean over seeds with its
95 % t interval, or, where a level has one seed so far, that seed's paired bootstrap
interval over the test images. The crossover R*, where a row starts to beat source-only,
is read from the curves, linear between levels: the estimate where the mean crosses 0
for the last time, its interval where the interval's upper and lower ends do. It is
printed and kept in benchmarks/calibrated_crossover.json (docs/results.md).
"""

import argparse
import json
import math
import os

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

from au_jax import compare  # pylint: disable=wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
LEVELS = (('0.25', 0.25), ('0.50', 0.5), ('0.75', 0.75), ('exact', 1.0))
# The same settings under their names in table7_protocol.json, which ran before
# configs/default.py took one E_f and the direct path (its 'default' is the earlier one).
DLIB_ROWS = {'default': 'default+direct', 'default+reconstruction': 'default'}


def _load(path):
  if not os.path.isfile(path):
    return None
  with open(path, encoding='utf-8') as f:
    return json.load(f)


def points(folder=HERE, baseline='source_only', metric='auc'):
  """{row: [(R, mean, low, high, seeds)]} over the levels that have differences; with one
  seed, (low, high) is that seed's bootstrap interval over the test images."""
  out = {}
  for name, r in LEVELS:
    kept = _load(os.path.join(folder, f'table7_calibrated_r{name}_differences.json'))
    for d in (kept or {}).get(f'{baseline}/{metric}', {}).get('rows', []):
      (low, high), _ = compare.Difference(**d).shown_interval()
      out.setdefault(d['row'], []).append((r, d['mean'], low, high, len(d['per_seed'])))
  return out


def crossing(rs, values):
  """Where the piecewise-linear curve through (rs, values) rises above 0 for good:
  -inf if it is above 0 at every R (the crossover lies below the grid), +inf if it is
  not above 0 at the largest R, NaN if a value is unknown."""
  if any(math.isnan(v) for v in values):
    return math.nan
  if values[-1] <= 0:
    return math.inf
  i = len(values) - 1
  while i > 0 and values[i - 1] > 0:
    i -= 1
  if i == 0:
    return -math.inf
  r0, r1, v0, v1 = rs[i - 1], rs[i], values[i - 1], values[i]
  return r0 + (0 - v0) * (r1 - r0) / (v1 - v0)


def r_star(series):
  """(estimate, low, high) of the crossover R* of one row's series: the mean curve's
  crossing, between the upper end's crossing and the lower end's."""
  rs, mean, low, high, _ = zip(*series)
  return crossing(rs, mean), crossing(rs, high), crossing(rs, low)


def crossover(series):
  """The first R at which the interval is above 0 and stays above at every larger R."""
  above = [low > 0 for _, _, low, _, _ in series]
  for i, (r, *_) in enumerate(series):
    if all(above[i:]):
      return r
  return None


def describe(value, rs):
  """'0.41', '< 0.25' (below the grid), '> 1' (not reached), '?' (unknown)."""
  if math.isnan(value):
    return '?'
  if value == -math.inf:
    return f'< {min(rs):g}'
  if value == math.inf:
    return f'> {max(rs):g}'
  return f'{value:.2f}'


def summary(folder=HERE):
  """{row: {'levels': [...], 'r_star': '0.41 [0.30, 0.62]', ...}} for the JSON and docs."""
  out = {}
  for row, values in sorted(points(folder).items()):
    rs = [v[0] for v in values]
    estimate, low, high = (describe(x, rs) for x in r_star(values))
    out[row] = {'levels': [dict(zip(('r', 'mean', 'low', 'high', 'seeds'), v))
                           for v in values],
                'r_star': estimate, 'r_star_interval': [low, high],
                'first_level_above_zero': crossover(values)}
  return out


def dlib_point(row, folder=HERE):
  """(R, mean, low, high) of the calibrated row's setting under dlib itself: its
  difference in table7_protocol_differences.json at the R that `au-jax landmark-error`
  measured for dlib on the lab domain; None where either is missing."""
  dlib = _load(os.path.join(folder, 'table7_protocol_differences.json')) or {}
  dlib_r = (_load(os.path.join(folder, 'landmark_error_synthau_lab.json')) or {}).get(
      'retention_all')
  mine = next((d for d in dlib.get('source_only/auc', {}).get('rows', [])
               if d['row'] == DLIB_ROWS.get(row, row)), None)
  if mine is None or dlib_r is None:
    return None
  return (dlib_r, mine['mean'], *mine['interval'])


def plot(out, folder=HERE):
  series = points(folder)
  if not series:
    raise SystemExit('no benchmarks/table7_calibrated_r*_differences.json yet: run '
                     'benchmarks/queue_calibrated.sh first')
  fig, ax = plt.subplots(figsize=(6.4, 4.2))
  ax.axhline(0, color='grey', lw=0.8)
  for i, (row, values) in enumerate(sorted(series.items())):
    r, mean, low, high, _ = zip(*values)
    line = ax.errorbar([x + 0.008 * i for x in r], mean,
                       yerr=[[m - l for m, l in zip(mean, low)],
                             [h - m for m, h in zip(mean, high)]],
                       marker='o', capsize=3, label=row)
    dlib = dlib_point(row, folder)
    if dlib:
      x, m, lo, hi = dlib
      ax.errorbar([x + 0.008 * i], [m], yerr=[[m - lo], [hi - m]],
                  marker='x', capsize=3, color=line[0].get_color(), ls='none')
  ax.set_xlabel("R, the share of the true AU motion the detector keeps (1: exact)\n"
                "bars: 95 % over seeds, or over test images where one seed\n"
                "x: dlib itself, at its R measured on the lab domain")
  ax.set_ylabel('wild test ROC-AUC minus source-only (points)')
  for row, entry in summary(folder).items():
    print(f"{row}: R* = {entry['r_star']} [{', '.join(entry['r_star_interval'])}]")
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(out, dpi=120)
  print(f'wrote {out}')


def main():
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--out', default=os.path.join(os.path.dirname(HERE), 'docs',
                                               'calibrated_detector.png'))
  p.add_argument('--json', default=os.path.join(HERE, 'calibrated_crossover.json'))
  args = p.parse_args()
  plot(args.out)
  with open(args.json, 'w', encoding='utf-8') as f:
    json.dump(summary(), f, indent=1)
    f.write('\n')
  print(f'wrote {args.json}')


if __name__ == '__main__':
  main()
