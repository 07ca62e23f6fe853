"""Where a stage-2 step spends its time, module by module (docs/method.md §1–2).

    python benchmarks/profile_step.py [--config configs/default.py] [--batch 8] \
        [--ablation ''] [--out benchmarks/profile_cpu2.md] [--trace]

Each module of the forward graph is jitted alone on inputs of the shapes the step gives
it, and timed forward, and forward + backward (the vjp with respect to its parameters
and its input, as the step needs), median of repeated calls after compilation. The
table weights each by the number of times one stage-2 step calls it (e.g. G_st six
times: two mixes, two rebuilds, two self-reconstructions) and compares the sum with the
whole step, timed the same way. FLOPs come from XLA's cost analysis, and the achieved
rate is compared with a jitted 4096² float32 matmul on the same devices.

`--trace` profiles the whole compiled step instead (`jax.profiler`): every XLA
operation the trace records is matched with its instruction in the compiled program,
whose metadata names the Flax module it came from and whether it belongs to the
backward pass (`transpose(jvp(...))`). The table sums operation time (summed over the
threads that ran them, so it adds up to the threads' busy time, not the wall time) by
module and by kind: convolution forward, convolution backward for the input and for the
kernel, elementwise and reduction fusions (normalisation, PReLU, bias, losses), layout
copies (transposes XLA inserts around the convolution library's calls), other.
"""

import argparse
import collections
import functools
import glob
import gzip
import json
import os
import re
import shutil
import statistics
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from au_jax import config_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from au_jax import sharding  # pylint: disable=g-import-not-at-top,wrong-import-position
from au_jax import train  # pylint: disable=g-import-not-at-top,wrong-import-position
from benchmarks import timing  # pylint: disable=g-import-not-at-top,wrong-import-position
from benchmarks import run as bench  # pylint: disable=g-import-not-at-top,wrong-import-position


def median_time(fn, *args, reps=5):
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(reps):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def matmul_rate(n=4096, reps=5):
  """FLOP/s of a jitted n×n float32 matmul: what these devices reach on dense work."""
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  f = jax.jit(lambda x: x @ x)
  return 2 * n ** 3 / median_time(f, a, reps=reps)


def flops(fn, *args):
  return timing.cost(jax.jit(fn).lower(*args))[0] or 0.0


def module_table(config, batch, reps):
  """[(name, calls per step, forward s, forward+backward s, GFLOP fwd+bwd)]."""
  model = config_lib.create_model(config)
  size = config.data.crop_size
  x = jnp.zeros((batch, size, size, 3), jnp.float32)
  variables = jax.jit(model.init)(jax.random.key(0), x, x)
  out, _ = jax.jit(functools.partial(model.apply, method='features',
                                     mutable=['batch_stats']),
                   static_argnums=3)(variables, x, x, True)
  params, stats = variables['params'], variables['batch_stats']
  loss = config.loss
  shared = config.model.share_feature_encoder
  mixes = 2 + 2 + (2 if 'F_s_self' in out else 0)  # mix, rebuild, self-reconstruction
  branches = 0 if not (loss.source_landmark_branch or loss.target_landmark_branch) else 1
  au_calls = 4 if 'au_t' not in out else 4
  rows = [
      ('E_f (feature_encoder)', 'feature_encoder_s', x, 2, True),
      ('E_l (landmark_encoder)', 'landmark_encoder', out['F_s'], 2, True),
      ("E_l' on mixed features", 'landmark_encoder', out['F_sltb'], 2, True),
      ('G_b (background_generator)', 'background_generator', out['F_s'], 4, True),
      ('G_st (feature_generator)', 'feature_generator', (out['F_sl'], out['F_sb']),
       mixes, True),
      ('E_au, labelled (F_s, F_sltb)', 'au_detector', out['F_s'], 2, True),
      ('E_au, statistics only (F_t, F_tlsb)', 'au_detector', out['F_s'], 2, False),
      ('D_l (landmark_discriminator)', 'landmark_discriminator', out['F_sb'], 2 + 2, True),
      ('D_d (domain_discriminator, both)', 'domain_discriminator_s', out['F_s'], 4 + 2,
       True),
      ('landmark branches (both)', 'landmark_branch_s', x, 2 * branches, True),
  ]
  if loss.projectors:
    rows.append(('projectors (P)', 'projector_feature', out['F_s'], 2, True))
  table = []
  for label, name, inputs, calls, backward in rows:
    if not calls:
      continue
    module = getattr(model.bind(variables), name).clone(parent=None)
    p = {'params': params[name], **({'batch_stats': stats[name]} if name in stats else {})}
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    train = name in ('feature_encoder_s', 'au_detector', 'landmark_branch_s')
    if name == 'landmark_branch_s':
      module = getattr(model.bind(variables), name)  # holds the shared blocks
      def apply(p, *a, m=model, v=variables):  # the whole model's parameters
        o = m.apply({'params': {**v['params'], 'landmark_branch_s': p['params']},
                     'batch_stats': v['batch_stats']}, *a, True,
                    method=lambda mm, z, t: mm.landmark_branch_s(z, t),
                    mutable=['batch_stats'])
        return o[0]
    elif train:
      def apply(p, *a, m=module):
        return m.apply(p, *a, True, mutable=['batch_stats'])[0]
    else:
      def apply(p, *a, m=module):
        return m.apply(p, *a)

    def objective(p, *a, f=apply):
      return sum(jnp.sum(jnp.asarray(t, jnp.float32)) for t in jax.tree.leaves(f(p, *a)))

    fwd = jax.jit(apply)
    both = jax.jit(jax.grad(objective, argnums=tuple(range(len(args) + 1))))
    t_fwd = median_time(fwd, p, *args, reps=reps)
    t_both = median_time(both, p, *args, reps=reps) if backward else t_fwd
    gflop = (flops(both, p, *args) if backward else flops(fwd, p, *args)) / 1e9
    table.append((label, calls, t_fwd, t_both, gflop))
  return table


MODULES = ('feature_encoder_s', 'feature_encoder_t', 'landmark_branch_s',
           'landmark_branch_t', 'shared_blocks', 'landmark_encoder', 'background_generator',
           'feature_generator', 'landmark_discriminator', 'domain_discriminator_s',
           'domain_discriminator_t', 'au_detector', 'projector_feature',
           'projector_landmark', 'projector_background')
KINDS = ('conv forward', 'conv backward (input)', 'conv backward (kernel)',
         'elementwise / reduction', 'layout copies', 'other')


def hlo_instructions(text):
  """{instruction name: (output shape, opcode, op_name metadata)} of an HLO module."""
  out = {}
  for line in text.splitlines():
    m = re.match(r'\s*(?:ROOT )?%?([\w.\-]+) = (\S+) ([\w-]+)\(', line)
    if m:
      op = re.search(r'op_name="([^"]*)"', line)
      out[m.group(1)] = (m.group(2), m.group(3), op.group(1) if op else '')
  return out


def classify(name, shape, opcode, op_name, batch):
  """(module, kind) of one operation of the compiled step."""
  module = next((m for m in MODULES if f'/{m}/' in op_name), 'losses, optimiser, other')
  dims = [int(d) for d in re.findall(r'\d+', shape.split('[', 1)[-1].split(']')[0])]
  if 'convolution' in name or opcode == 'convolution' or name.startswith(
      ('ynn_', 'xnn_', 'onednn_')):  # the convolution library's fusions
    if 'transpose(' not in op_name:
      kind = 'conv forward'
    elif len(dims) == 4 and dims[0] != batch and dims[1] == dims[2] and dims[1] <= 4:
      kind = 'conv backward (kernel)'
    else:
      kind = 'conv backward (input)'
  elif 'transpose' in name or name.startswith('copy'):
    kind = 'layout copies'
  elif 'fusion' in name or opcode in ('reduce', 'add', 'multiply', 'select'):
    kind = 'elementwise / reduction'
  else:
    kind = 'other'
  return module, kind


def trace_table(config, batch, steps=2):
  """Profiles `steps` calls of the compiled stage-2 step; returns ({(module, kind):
  busy seconds per step}, wall seconds per step, FLOPs per step)."""
  model = config_lib.create_model(config)
  variables, _ = bench._init(model, config)  # pylint: disable=protected-access
  mesh = sharding.make_mesh()
  state = train.create_state(variables, config, 2, 100)
  fn = train.make_stage2_step(model, config, 100,
                                    np.ones(config_lib.num_aus(config)))
  step = train.jit_step(fn, mesh)
  state = jax.device_put(state, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
  data = sharding.to_global(bench.fake_batch(config, batch), mesh)
  lowered, compiled, _, _ = timing.compile_step(step, state, data)
  info = hlo_instructions(compiled.as_text())
  state, _, _, wall = timing.time_steps(compiled, state, [data], 2)
  folder = tempfile.mkdtemp(prefix='au_jax_trace_')
  try:
    jax.profiler.start_trace(folder, create_perfetto_trace=True)
    timing.time_steps(compiled, state, [data], steps, warmup=0)
    jax.profiler.stop_trace()
    path = glob.glob(os.path.join(folder, '**', 'perfetto_trace.json.gz'), recursive=True)[0]
    with gzip.open(path, 'rt') as f:
      events = json.load(f)['traceEvents']
  finally:
    shutil.rmtree(folder, ignore_errors=True)
  busy = collections.Counter()
  for e in events:
    if e.get('ph') == 'X' and e['name'] in info:
      busy[classify(e['name'], *info[e['name']], batch)] += e['dur'] / 1e6 / steps
  return busy, wall, timing.cost(lowered)[0]


def trace_report(config, args):
  busy, wall, step_flops = trace_table(config, args.batch)
  total = sum(busy.values())
  modules = sorted({m for m, _ in busy}, key=lambda m: -sum(
      v for (mm, _), v in busy.items() if mm == m))
  lines = [f'Stage-2 step traced: {os.path.basename(args.config)}, row '
           f'{args.ablation or "full method"}, batch {args.batch} per domain, '
           f'{jax.device_count()} × {jax.devices()[0].device_kind}: {wall:.2f} s a step, '
           f'{step_flops / 1e9:.0f} GFLOP, operations busy {total:.2f} s a step '
           f'(summed over threads). Share of the busy time:', '',
           '| module | ' + ' | '.join(KINDS) + ' | all |',
           '|---' * (len(KINDS) + 2) + '|']
  for m in modules + ['all']:
    cells = [sum(v for (mm, k), v in busy.items() if k == kind and m in (mm, 'all'))
             for kind in KINDS]
    lines.append(f'| {m} | ' + ' | '.join(f'{100 * c / total:.1f}%' for c in cells)
                 + f' | {100 * sum(cells) / total:.1f}% |')
  return '\n'.join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--config', default=os.path.join(REPO, 'configs', 'default.py'))
  parser.add_argument('--batch', type=int, default=8)
  parser.add_argument('--ablation', default='')
  parser.add_argument('--reps', type=int, default=3)
  parser.add_argument('--out', help='also write the Markdown table here')
  parser.add_argument('--trace', action='store_true',
                      help='profile the whole compiled step by module and op kind')
  args = parser.parse_args()
  config = config_lib.load_config(args.config)
  config.ablation = args.ablation
  config = config_lib.prepare_config(config)
  if args.trace:
    text = trace_report(config, args)
    print(text)
    if args.out:
      with open(args.out, 'w', encoding='utf-8') as f:
        f.write(text + '\n')
    return
  reference = matmul_rate()
  table = module_table(config, args.batch, args.reps)
  total = sum(calls * both for _, calls, _, both, _ in table)
  total_flops = sum(calls * g for _, calls, _, _, g in table)
  lines = [f'Stage-2 step by module: {os.path.basename(args.config)}, row '
           f'{args.ablation or "full method"}, batch {args.batch} per domain, '
           f'{jax.device_count()} × {jax.devices()[0].device_kind}; 4096² matmul '
           f'{reference / 1e9:.0f} GFLOP/s.', '',
           '| module | calls/step | fwd ms | fwd+bwd ms | GFLOP/call | GFLOP/s | '
           '% of matmul rate | share of step |', '|---|---|---|---|---|---|---|---|']
  for label, calls, fwd, both, gflop in sorted(table, key=lambda r: -r[1] * r[3]):
    rate = gflop * 1e9 / both
    lines.append(f'| {label} | {calls} | {1e3 * fwd:.1f} | {1e3 * both:.1f} | '
                 f'{gflop:.2f} | {rate / 1e9:.0f} | {100 * rate / reference:.0f}% | '
                 f'{100 * calls * both / total:.0f}% |')
  lines += ['', f'Sum over modules: {total:.2f} s and {total_flops:.0f} GFLOP a step, '
            f'{total_flops * 1e9 / total / 1e9:.0f} GFLOP/s '
            f'({100 * total_flops * 1e9 / total / reference:.0f}% of the matmul rate).']
  text = '\n'.join(lines)
  print(text)
  if args.out:
    with open(args.out, 'w', encoding='utf-8') as f:
      f.write(text + '\n')


if __name__ == '__main__':
  main()
