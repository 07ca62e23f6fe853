"""`au-jax demo`: the whole method end to end on SynthAU, on any machine.

Generates SynthAU if absent, prepares its lab (source) and wild (target) domains, trains
both stages with configs/synthetic.py, evaluates the best checkpoint on the wild test
split and prints the per-AU table. Every step is skipped when its output exists, so a
rerun resumes where the last one stopped.
"""

import argparse
import importlib.util
import os
import shlex

HELP = __doc__.split('\n\n', 1)[1]


def default_config():
  """configs/synthetic.py of this installation (works from any directory)."""
  spec = importlib.util.find_spec('configs')
  return os.path.join(list(spec.submodule_search_locations)[0], 'synthetic.py')


def add_parser(subparsers):
  p = subparsers.add_parser(
      'demo', help='SynthAU end to end: generate, prepare, train, evaluate',
      description=HELP, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  p.add_argument('--data', default='data', help='folder for SynthAU and prepared data')
  p.add_argument('--workdir', default='runs/synthau', help='training workdir')
  p.add_argument('--config', default=None,
                 help='config file (default: configs/synthetic.py); --config.x=y overrides')
  p.add_argument('--seed', type=int, default=0, help='SynthAU generation seed')
  p.set_defaults(func=run, accepts_extra_args=True)


def run(args):
  from au_jax import config_lib, provenance, train  # pylint: disable=g-import-not-at-top
  from data_pipelines import prepare, synthau  # pylint: disable=g-import-not-at-top

  args.config = args.config or default_config()
  raw = os.path.join(args.data, 'synthau')
  prepared = os.path.join(args.data, 'prepared')
  config = config_lib.from_command_line(args.config, args.extra_args)
  config.data.data_dir = prepared
  if not all(os.path.isfile(os.path.join(raw, d, 'manifest.csv')) for d in ('lab', 'wild')):
    print(f'1/3 generating SynthAU (small preset) into {raw}')
    synthau.generate(raw, preset='small', seed=args.seed, progress=True)
  else:
    print(f'1/3 SynthAU found in {raw}')
  print(f'2/3 preparing aligned {config.data.aligned_size}-pixel faces into {prepared}')
  for domain, name in (('lab', config.data.source), ('wild', config.data.target)):
    prepare.prepare('manifest', [os.path.join(raw, domain, 'manifest.csv')], prepared, name,
                    aligned_size=config.data.aligned_size, seed=args.seed)
  print(f'3/3 training in {args.workdir} (TensorBoard: tensorboard --logdir {args.workdir})')
  provenance.set_origin(command=shlex.join(['au-jax', 'demo', *args.extra_args]),
                        config_file=args.config,
                        overrides=[f'data.data_dir={prepared}', *args.extra_args])
  return train.train_and_report(config, args.workdir, 'demo')
