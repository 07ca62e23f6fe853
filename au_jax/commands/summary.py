"""`au-jax summary`: the modules of a config with their output shapes and parameter counts;
for a training workdir also what the run was, its scores, and (--plot) its curves."""

import argparse
import json


def add_parser(subparsers):
  p = subparsers.add_parser(
      'summary', help='print every module of a config with its parameter count; '
                      'a workdir\'s run and curves',
      description='Builds the model of a config (without data) and prints each module '
                  "of docs/method.md §1, its optimiser group and its parameter count. "
                  'Given a training WORKDIR, uses its config and also prints what the run '
                  'was (WORKDIR/provenance.json) and its final scores; --plot redraws '
                  'WORKDIR/curves.png from WORKDIR/metrics.jsonl.',
      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  p.add_argument('workdir', nargs='?', metavar='WORKDIR',
                 help='a training workdir (instead of --config)')
  p.add_argument('--config', default='configs/default.py',
                 help='an ml_collections config file with get_config()')
  p.add_argument('--plot', action='store_true',
                 help='(re)draw WORKDIR/curves.png: loss terms and evaluation F1 over '
                      'steps, both stages')
  p.set_defaults(func=run)


def run(args):
  import jax  # pylint: disable=g-import-not-at-top
  from au_jax import config_lib, optim  # pylint: disable=g-import-not-at-top

  if args.plot and not args.workdir:
    raise config_lib.ConfigError('--plot draws the curves of a training run: give its '
                                 'WORKDIR')
  if args.workdir:
    config = config_lib.prepare_config(config_lib.load_saved_config(args.workdir))
    source = args.workdir
    _print_run(args.workdir)
  else:
    config = config_lib.prepare_config(config_lib.load_config(args.config))
    source = f'config {args.config}'
  model = config_lib.create_model(config)
  size = config.data.crop_size
  images = jax.ShapeDtypeStruct((1, size, size, 3), 'float32')
  variables = jax.eval_shape(
      lambda x: model.init(jax.random.key(0), x, x, train=False), images)
  params = variables['params']
  print(f'{source}: crop {size}, heat maps {size // 4}×{size // 4}, '
        f'{len(config.data.au_ids)} AUs, ablation {config.ablation or "none"}')
  print(f'{"module":28s} {"group":16s} {"parameters":>12s}')
  total = 0
  for name in params:
    count = sum(x.size for x in jax.tree.leaves(params[name]))
    total += count
    print(f'{name:28s} {optim.group_of(name):16s} {count:12,d}')
  print(f'{"total":45s} {total:12,d}')
  if args.plot:
    from au_jax import curves  # pylint: disable=g-import-not-at-top
    print(f'wrote {curves.plot(args.workdir)}')
  return 0


def _print_run(workdir):
  """What the run was and, when it has finished, its final average F1 per split."""
  from au_jax import provenance  # pylint: disable=g-import-not-at-top
  prov = provenance.load(workdir)
  if prov:
    print(f'command: {prov.get("command")}')
    print('; '.join(f'{k} {v}' for k, v in provenance.summary(prov).items()))
  else:
    print(f'{workdir}: no provenance.json (trained before runs recorded it)')
  from au_jax import paths  # pylint: disable=g-import-not-at-top
  results = paths.resolve(workdir) / 'results.json'  # a local folder or a URL
  if results.is_file():
    saved = json.loads(results.read_text(encoding='utf-8'))
    print(f'final (checkpoint step {saved["step"]}): ' + ', '.join(
        f'{name} F1 {100 * r["f1_mean"]:.1f}' for name, r in saved['results'].items()))
  else:
    print('no results.json yet: training has not finished')
  print()
