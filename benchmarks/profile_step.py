"""Where a stage-2 step spends its time, module by module (docs/method.md §1–2).

    python benchmarks/profile_step.py [--config configs/default.py] [--batch 8] \
        [--ablation ''] [--out benchmarks/profile_cpu2.md]

Each module of the forward graph is jitted alone on inputs of the shapes the step gives
it, and timed forward, and forward + backward (the vjp with respect to its parameters
and its input, as the step needs), median of repeated calls after compilation. The
table weights each by the number of times one stage-2 step calls it (e.g. G_st six
times: two mixes, two rebuilds, two self-reconstructions) and compares the sum with the
whole step, timed the same way. FLOPs come from XLA's cost analysis, and the achieved
rate is compared with a jitted 4096² float32 matmul on the same devices.
"""

import argparse
import functools
import os
import statistics
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from au_jax import config_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from benchmarks import timing  # pylint: disable=g-import-not-at-top,wrong-import-position


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


def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--config', default=os.path.join(REPO, 'configs', 'default.py'))
  parser.add_argument('--batch', type=int, default=8)
  parser.add_argument('--ablation', default='')
  parser.add_argument('--reps', type=int, default=3)
  parser.add_argument('--out', help='also write the Markdown table here')
  args = parser.parse_args()
  config = config_lib.load_config(args.config)
  config.ablation = args.ablation
  config = config_lib.prepare_config(config)
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
