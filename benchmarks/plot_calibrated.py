"""Each row's ROC-AUC difference to source-only against the calibrated detector's R.

    python benchmarks/plot_calibrated.py [--out docs/calibrated_detector.png]

Reads the differences that benchmarks/queue_calibrated.sh keeps
(benchmarks/table7_calibrated_r{R}_differences.json for R = 0.25, 0.50, 0.75 and
exact, plotted at R = 1) and dlib's own (benchmarks/table7_protocol_differences.json),
drawn at the R that `au-jax landmark-error` measured for dlib on the lab domain
(benchmarks/landmark_error_synthau_lab.json). Each point is the mean over seeds with its
95 % t interval; the crossover R*, where a row's interval rises above 0, is printed.
"""

import argparse
import json
import os

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
LEVELS = (('0.25', 0.25), ('0.50', 0.5), ('0.75', 0.75), ('exact', 1.0))


def _load(path):
  if not os.path.isfile(path):
    return None
  with open(path, encoding='utf-8') as f:
    return json.load(f)


def points(folder=HERE, baseline='source_only', metric='auc'):
  """{row: [(R, mean, low, high, seeds)]} over the levels that have differences."""
  out = {}
  for name, r in LEVELS:
    kept = _load(os.path.join(folder, f'table7_calibrated_r{name}_differences.json'))
    for d in (kept or {}).get(f'{baseline}/{metric}', {}).get('rows', []):
      out.setdefault(d['row'], []).append((r, d['mean'], *d['interval'],
                                           len(d['per_seed'])))
  return out


def crossover(series):
  """The first R at which the interval is above 0 and stays above at every larger R."""
  above = [low > 0 for _, _, low, _, _ in series]
  for i, (r, *_) in enumerate(series):
    if all(above[i:]):
      return r
  return None


def plot(out, folder=HERE):
  series = points(folder)
  if not series:
    raise SystemExit('no benchmarks/table7_calibrated_r*_differences.json yet: run '
                     'benchmarks/queue_calibrated.sh first')
  dlib = _load(os.path.join(folder, 'table7_protocol_differences.json')) or {}
  dlib_r = (_load(os.path.join(folder, 'landmark_error_synthau_lab.json')) or {}).get(
      'retention_all')
  fig, ax = plt.subplots(figsize=(6.4, 4.2))
  ax.axhline(0, color='grey', lw=0.8)
  for i, (row, values) in enumerate(sorted(series.items())):
    r, mean, low, high, _ = zip(*values)
    line = ax.errorbar([x + 0.008 * i for x in r], mean,
                       yerr=[[m - l for m, l in zip(mean, low)],
                             [h - m for m, h in zip(mean, high)]],
                       marker='o', capsize=3, label=row)
    mine = next((d for d in dlib.get('source_only/auc', {}).get('rows', [])
                 if d['row'] == row), None)
    if mine and dlib_r is not None:
      ax.errorbar([dlib_r + 0.008 * i], [mine['mean']],
                  yerr=[[mine['mean'] - mine['interval'][0]],
                        [mine['interval'][1] - mine['mean']]],
                  marker='x', capsize=3, color=line[0].get_color(), ls='none')
    print(f'{row}: R* = {crossover(values)}')
  ax.set_xlabel("R, the share of the true AU motion the detector keeps (1: exact)\n"
                "x: dlib itself, at its R measured on the lab domain")
  ax.set_ylabel('wild test ROC-AUC minus source-only (points)')
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(out, dpi=120)
  print(f'wrote {out}')


def main():
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--out', default=os.path.join(os.path.dirname(HERE), 'docs',
                                               'calibrated_detector.png'))
  plot(p.parse_args().out)


if __name__ == '__main__':
  main()
