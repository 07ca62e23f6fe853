"""`au-jax compare`: training workdirs side by side, in the layout of Table 7.

The logic lives in the package `au_jax/compare/`; this module parses the arguments.
"""

import argparse

HELP = """Compares training workdirs (RUN: `au-jax train --workdir`, or an `au-jax
crossval` workdir, whose folds form one row). For each run: wild (target) test F1 per AU
and its average, and the source test split's average F1; runs that differ only in the
seed share a row, as mean ± std. Rows are named by the run's ablation and its
--config.x=y overrides. Then the differences between the runs: config fields, git
commit (and whether the tree was dirty), library versions, devices.

Where the runs' evaluation recorded them, the table adds the wild test split's F1 at
per-AU thresholds chosen on the validation split, ROC-AUC and average precision;
--diagnostics takes them from `au-jax evaluate --diagnostics` for runs that lack them
(run on those runs, then kept in RUN/evaluate/).

--baseline NAME adds each row's difference to row NAME (--metric, default ROC-AUC), with
95 % intervals: over the test images within a seed (a paired bootstrap on the per-image
probabilities of RUN/evaluate/step_<N>_predictions.npz, which `au-jax evaluate` writes),
and over seeds (Student's t on the per-seed differences; runs paired by seed).

Writes PREFIX.md, PREFIX.csv and PREFIX.png (per-AU F1 bars, one colour per row).

example:
  au-jax compare runs/table7/* --diagnostics --output runs/table7/compare
  au-jax compare runs/table7/* --baseline source_only --metric auc
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
  p.add_argument('--baseline', metavar='NAME',
                 help="a row's name: every other row's difference to it, with 95 %% "
                      'intervals over test images and over seeds')
  p.add_argument('--metric', default='auc', choices=('auc', 'ap', 'f1_tuned', 'f1'),
                 help='what --baseline compares: ROC-AUC (default), average precision, '
                      'F1 at validation thresholds or F1 at 0.5')
  p.add_argument('--bootstrap', type=int, default=1000, metavar='N',
                 help='resamplings of the test images per seed (default: %(default)s)')
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
  text = compare.report(runs, args.diagnostics, baseline=args.baseline,
                        metric=args.metric, samples=args.bootstrap)
  paths = compare.write(runs, args.output, args.diagnostics, text=text)
  print(text)
  print('wrote ' + ', '.join(paths))
  return 0
