"""How many kernels one compiled stage-2 step launches (docs/training.md, "Kernels per step").

    python benchmarks/hlo_count.py [--sizes tiny paper] [--rows A G] \
        [--set model.batched_calls=False] [--label before] [--out benchmarks/hlo_count.json]

A step whose kernels are small is bound by their launches, not by its FLOPs: on a GPU
each top-level instruction of the compiled program is (about) one kernel launch, at
5–10 µs each. This compiles the stage-2 step, as `au_jax.train` jits it, for one CPU
device on abstract inputs (nothing runs) and counts, in the compiled HLO text
(`jit(step).lower(...).compile().as_text()`): the instructions of the entry
computation, how many of them are fusions, and the convolutions anywhere in the module
(inside fusions included). Sizes: 'tiny' = configs/tiny.py (the paper's graph at 32-pixel
crops), 'paper' = configs/default.py (176-pixel crops); each at its config's stage-2
batch. Rows are Table 7's (au_jax/ablations.py). Results are merged into --out under
--label (e.g. 'before' and 'after' a change), so one file keeps both.
"""

import argparse
import collections
import datetime
import json
import os
import re

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from au_jax import config_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from au_jax import train  # pylint: disable=g-import-not-at-top,wrong-import-position
from benchmarks import run as bench  # pylint: disable=g-import-not-at-top,wrong-import-position

SIZES = {'tiny': 'tiny.py', 'paper': 'default.py'}
_INSTRUCTION = re.compile(r'\s*(?:ROOT )?%?[\w.\-]+ = .*? ([\w-]+)\(')


def count(text):
  """{'instructions', 'fusions', 'convolutions'} of a compiled HLO module's text."""
  entry, ops, all_ops = False, collections.Counter(), collections.Counter()
  for line in text.splitlines():
    if line.startswith('ENTRY '):
      entry = True
      continue
    if entry and line.startswith('}'):
      entry = False
    m = _INSTRUCTION.match(line)
    if not m:
      continue
    all_ops[m.group(1)] += 1
    if entry:
      ops[m.group(1)] += 1
  # Free bookkeeping, no kernel: parameters, tuples and their elements, constants.
  free = sum(ops[k] for k in ('parameter', 'tuple', 'get-tuple-element', 'constant'))
  return {'instructions': sum(ops.values()), 'kernels': sum(ops.values()) - free,
          'fusions': ops['fusion'], 'convolutions': all_ops['convolution']}


def config_for(size, row, overrides=()):
  config = config_lib.load_config(os.path.join(REPO, 'configs', SIZES[size]))
  config.ablation = row
  for item in overrides:
    key, value = item.split('=', 1)
    node = config
    *path, last = key.split('.')
    for p in path:
      node = node[p]
    node[last] = type(node[last])(value == 'True' if isinstance(node[last], bool)
                                  else value)
  return config_lib.prepare_config(config)


def compiled_text(config):
  """The compiled stage-2 step's HLO text, on abstract inputs for one CPU device."""
  model = config_lib.create_model(config)
  mesh = jax.sharding.Mesh(np.array(jax.devices('cpu')[:1]), ('data',))
  variables = jax.eval_shape(lambda: train.init_variables(model, config, jax.random.key(0)))
  state = jax.eval_shape(lambda v: train.create_state(v, config, 2, 100), variables)
  batch = jax.eval_shape(lambda: bench.fake_batch(config, config.stage2.batch_size))
  step = train.make_stage2_step(model, config, 100, np.ones(config_lib.num_aus(config)))
  return train.jit_step(step, mesh).lower(state, batch).compile().as_text()


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--sizes', nargs='+', default=list(SIZES), choices=list(SIZES))
  p.add_argument('--rows', nargs='+', default=['A', 'G'])
  p.add_argument('--set', nargs='*', default=[], help='config overrides key=value')
  p.add_argument('--label', default='current')
  p.add_argument('--out', default=os.path.join(REPO, 'benchmarks', 'hlo_count.json'))
  args = p.parse_args(argv)
  results = {}
  if os.path.exists(args.out):
    with open(args.out) as f:
      results = json.load(f)
  entry = results.get(args.label, {'steps': {}})  # other sizes and rows are kept
  entry.update({'jax': jax.__version__, 'backend': 'cpu', 'overrides': args.set,
                'date': datetime.date.today().isoformat()})
  for size in args.sizes:
    for row in args.rows:
      config = config_for(size, row, args.set)
      counts = count(compiled_text(config))
      counts['batch'] = config.stage2.batch_size
      entry['steps'][f'{size}/{row}'] = counts
      print(f'{args.label} {size}/{row}: {counts}', flush=True)
  results[args.label] = entry
  with open(args.out, 'w') as f:
    json.dump(results, f, indent=1, sort_keys=True)
    f.write('\n')


if __name__ == '__main__':
  main()
