"""`au-jax train`: parse flags, set up devices, call `au_jax.train.train_and_evaluate`.

Kept short on purpose: the logic lives in `au_jax/train.py`, where tests and notebooks
import it.
"""

import argparse
import shlex

from au_jax import config_lib

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
  config_lib.add_config_args(p)
  p.add_argument('--distributed', action='store_true',
                 help='call jax.distributed.initialize() (multi-host runs)')
  p.add_argument('--coordinator', help='HOST:PORT of process 0 (multi-host runs)')
  p.add_argument('--num-processes', type=int, help='number of processes')
  p.add_argument('--process-id', type=int, help='this process')
  p.set_defaults(func=run, accepts_extra_args=True)


def run(args):
  import jax  # pylint: disable=g-import-not-at-top
  from au_jax import provenance, train  # pylint: disable=g-import-not-at-top

  if args.coordinator or args.distributed:
    jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
  config = config_lib.from_command_line(args.config, args.extra_args)
  provenance.set_origin(
      command=shlex.join(['au-jax', 'train', '--config', args.config, '--workdir',
                          args.workdir, *args.extra_args]),
      config_file=args.config, overrides=args.extra_args)
  return train.train_and_report(config, args.workdir, 'train')
