"""`au-jax train`: parse flags, set up devices, call `au_jax.train.train_and_evaluate`.

Kept short on purpose: the logic lives in `au_jax/train.py`, where tests and notebooks
import it.
"""

import argparse

HELP = """Trains both stages (or the source-only baseline) and evaluates the best checkpoint.

Config overrides follow ml_collections: --config.stage2.epochs=3 --config.ablation=G.
Restarting with the same --workdir resumes from its latest checkpoint.

Multi-host (e.g. a TPU pod slice): run the same command on every host with --distributed
(jax.distributed.initialize() finds the coordinator itself on TPU/SLURM), or give
--coordinator HOST:PORT --num-processes N --process-id I explicitly.
"""


def add_parser(subparsers):
  p = subparsers.add_parser('train', help='train the model of a config',
                            description=HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
  add_config_args(p)
  p.add_argument('--distributed', action='store_true',
                 help='call jax.distributed.initialize() (multi-host runs)')
  p.add_argument('--coordinator', help='HOST:PORT of process 0 (multi-host runs)')
  p.add_argument('--num-processes', type=int, help='number of processes')
  p.add_argument('--process-id', type=int, help='this process')
  p.set_defaults(func=run, accepts_extra_args=True)


def add_config_args(p):
  p.add_argument('--config', required=True,
                 help='an ml_collections config file with get_config(), e.g. '
                      'configs/synthetic.py')
  p.add_argument('--workdir', required=True,
                 help='where checkpoints, metrics and results go')


def load_config(args):
  """The config of --config with the --config.x=y overrides in args.extra_args."""
  import os  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  from au_jax import config_lib  # pylint: disable=g-import-not-at-top

  if not os.path.isfile(args.config):
    raise config_lib.ConfigError(f'config file not found: {args.config}')
  bad = [a for a in args.extra_args if not a.startswith('--config.')]
  if bad:
    raise config_lib.ConfigError(f'unrecognized arguments: {" ".join(bad)}')
  root = os.path.dirname(os.path.dirname(os.path.abspath(args.config)))
  if root not in sys.path:
    sys.path.insert(0, root)
  argv = ['au-jax', f'--config={args.config}', *args.extra_args]
  values = flags.FlagValues()
  # sys_argv: read the overrides from these args, not from sys.argv (cli.main(argv)).
  config_flags.DEFINE_config_file('config', None, flag_values=values, lock_config=True,
                                  sys_argv=argv)
  try:
    values(argv)
  except (KeyError, AttributeError) as e:
    key = str(e.args[0]).strip("'\"") if e.args else ''
    culprit = next((a for a in args.extra_args if key and key in a), '')
    raise config_lib.ConfigError(
        f'unknown config field {key!r}' + (f' in {culprit}' if culprit else '')) from None
  except (flags.Error, TypeError, ValueError) as e:
    raise config_lib.ConfigError(str(e).splitlines()[0]) from None
  return config_lib.prepare_config(values.config)


def run(args):
  import jax  # pylint: disable=g-import-not-at-top

  if args.coordinator or args.distributed:
    jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
  return train_and_report(load_config(args), args.workdir, 'train')


def train_and_report(config, workdir, command):
  """Runs training; a TrainingError (e.g. a NaN loss) becomes one line and exit 1."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.set_visible_devices([], 'GPU')  # tf.data only; the accelerators are JAX's
  from au_jax import train  # pylint: disable=g-import-not-at-top
  try:
    train.train_and_evaluate(config, workdir)
  except train.TrainingError as e:
    print(f'au-jax {command}: error: {e}')
    return 1
  return 0
