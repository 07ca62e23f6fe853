"""`au-jax summary`: the modules of a config with their output shapes and parameter counts."""

import argparse


def add_parser(subparsers):
  p = subparsers.add_parser(
      'summary', help='print every module of a config with its parameter count',
      description='Builds the model of a config (without data) and prints each module '
                  "of docs/method.md §1, its optimiser group and its parameter count.",
      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  p.add_argument('--config', default='configs/default.py',
                 help='an ml_collections config file with get_config()')
  p.set_defaults(func=run)


def run(args):
  import jax  # pylint: disable=g-import-not-at-top
  from au_jax import config_lib, optim  # pylint: disable=g-import-not-at-top

  config = config_lib.prepare_config(config_lib.load_config(args.config))
  model = config_lib.create_model(config)
  size = config.data.crop_size
  images = jax.ShapeDtypeStruct((1, size, size, 3), 'float32')
  variables = jax.eval_shape(
      lambda x: model.init(jax.random.key(0), x, x, train=False), images)
  params = variables['params']
  print(f'config {args.config}: crop {size}, heat maps {size // 4}×{size // 4}, '
        f'{len(config.data.au_ids)} AUs, ablation {config.ablation or "none"}')
  print(f'{"module":28s} {"group":16s} {"parameters":>12s}')
  total = 0
  for name in params:
    count = sum(x.size for x in jax.tree.leaves(params[name]))
    total += count
    print(f'{name:28s} {optim.group_of(name):16s} {count:12,d}')
  print(f'{"total":45s} {total:12,d}')
  return 0
