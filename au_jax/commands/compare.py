"""`au-jax compare`: training workdirs side by side, in the layout of Table 7.

The logic lives in `au_jax/compare.py`; this module parses the arguments.
"""

import argparse

HELP = """Compares training workdirs (RUN: `au-jax train --workdir`, or an `au-jax
crossval` workdir, whose folds form one row). For each run: wild (target) test F1 per AU
and its average, and the source test split's average F1; runs that differ only in the
seed share a row, as mean ± std. Rows are named by the run's ablation and its
--config.x=y overrides. Then the differences between the runs: config fields, git
commit (and whether the tree was dirty), library versions, devices.

--diagnostics adds F1 at per-AU thresholds chosen on the validation split and ROC-AUC,
from `au-jax evaluate --diagnostics` (run on the runs that lack it, then kept in
RUN/evaluate/).

Writes PREFIX.md, PREFIX.csv and PREFIX.png (per-AU F1 bars, one colour per row).

example:
  au-jax compare runs/table7/* --diagnostics --output runs/table7/compare
"""


def add_parser(subparsers):
  p = subparsers.add_parser('compare', help='compare training runs (Table 7 layout)',
                            description=HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('runs', nargs='+', metavar='RUN', help='training workdirs')
  p.add_argument('--diagnostics', action='store_true',
                 help='add F1 at validation thresholds and ROC-AUC')
  p.add_argument('--data-dir', metavar='DIR',
                 help='with --diagnostics: the prepared data, when it moved since training')
  p.add_argument('--output', default='compare', metavar='PREFIX',
                 help='where the tables and the chart go (default: %(default)s → '
                      'compare.md, compare.csv, compare.png)')
  p.set_defaults(func=run)


def run(args):
  from au_jax import compare  # pylint: disable=g-import-not-at-top
  runs = compare.load_runs(args.runs)
  if args.diagnostics:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.config.set_visible_devices([], 'GPU')
    compare.add_diagnostics(runs, args.data_dir)
  paths = compare.write(runs, args.output, args.diagnostics)
  print(compare.report(runs, args.diagnostics))
  print('wrote ' + ', '.join(paths))
  return 0
