"""`au-jax crossval`: train every subject-independent fold of a config and average them.

The logic lives in `au_jax/crossval.py`; this module parses the arguments.
"""

import argparse
import shlex

from au_jax import config_lib

HELP = """Trains the k subject-independent folds of a config, fold k into WORKDIR/fold{k}
(trained on the other folds, tested on fold k; the target splits are the same for every
fold), then writes WORKDIR/crossval.md, .csv and .json: per-AU F1 and accuracy of each
fold's best checkpoint on the source test fold and the target test split, and their
mean ± std over folds (the layout of the paper's Tables 2-3).

The source data set needs subject folds fold0..fold{k-1}: `au-jax prepare` makes them
for BP4D and DISFA (the JAA-Net/ADLD subject lists) and, with --subject-folds, for a
manifest that has a split column. k is the number of folds it has.

Rerunning the command skips finished folds and resumes the unfinished one from its
checkpoints. --fold K trains only fold K (repeatable), e.g. one fold per machine into a
shared WORKDIR; the tables are written by the run that finds every fold finished.
Config overrides follow ml_collections: --config.stage2.epochs=3.

examples:
  au-jax crossval --config configs/bp4d_emotionet.py --workdir runs/table2    # Table 2
  au-jax crossval --config configs/disfa_emotionet.py --workdir runs/table3   # Table 3
"""


def add_parser(subparsers):
  p = subparsers.add_parser('crossval', help='train all subject folds of a config and '
                            'average them (Tables 2-3)', description=HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
  config_lib.add_config_args(p)
  p.add_argument('--fold', type=int, action='append', metavar='K',
                 help='train only fold K (repeatable); default: every fold')
  p.set_defaults(func=run, accepts_extra_args=True)


def run(args):
  from au_jax import crossval, train  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.set_visible_devices([], 'GPU')  # tf.data only; the accelerators are JAX's
  config = config_lib.from_command_line(args.config, args.extra_args)
  command = shlex.join(['au-jax', 'crossval', '--config', args.config, '--workdir',
                        args.workdir, *args.extra_args])
  try:
    summary = crossval.run(config, args.workdir, folds=args.fold, command=command,
                           config_file=args.config, overrides=[
                               a.removeprefix('--config.') for a in args.extra_args])
  except train.TrainingError as e:
    print(f'au-jax crossval: error: {e}')
    return 1
  if summary is not None:
    print('\n' + crossval.markdown(summary))
    print('wrote ' + ', '.join(crossval.FILES) + f' in {args.workdir}')
  return 0
