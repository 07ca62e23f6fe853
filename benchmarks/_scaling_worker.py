"""One process of benchmarks/run.py's multi-device check: a few stage-2 steps of a config
on K devices from a fixed initialisation and fixed batches, then timed steps.

  XLA_FLAGS=--xla_force_host_platform_device_count=8 JAX_PLATFORMS=cpu \\
      python benchmarks/_scaling_worker.py --config configs/synthetic.py --batch 16 \\
      --params out.npz --result out.json

Writes the parameters before and after `--steps` steps (PARAMS.init.npz, PARAMS: the
parent compares device counts) and a JSON with compile and step times and peak memory.
The global batch is the same for any K, so one device and K devices must agree up to
float reassociation in the all-reduce (and what Adam makes of it).
"""

import argparse
import functools
import json
import os


def peak_memory_mib():
  """This process's peak resident memory. /proc's VmHWM, where there is one: getrusage's
  ru_maxrss would also count the parent's memory at the fork that started us."""
  try:
    with open('/proc/self/status', encoding='utf-8') as f:
      for line in f:
        if line.startswith('VmHWM:'):
          return int(line.split()[1]) / 1024
  except OSError:
    pass
  import resource  # pylint: disable=g-import-not-at-top
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--config', required=True)
  parser.add_argument('--batch', type=int, required=True, help='global batch size')
  parser.add_argument('--devices', type=int, default=0, help='first K devices; 0 = all')
  parser.add_argument('--steps', type=int, default=3, help='steps before saving params')
  parser.add_argument('--iters', type=int, default=3, help='timed steps after those')
  parser.add_argument('--params', required=True, help='.npz of the parameters')
  parser.add_argument('--result', required=True, help='.json of the timings')
  args = parser.parse_args()

  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from au_jax import config_lib, sharding, train  # pylint: disable=g-import-not-at-top
  from data_pipelines import fakes  # pylint: disable=g-import-not-at-top
  from benchmarks import timing  # pylint: disable=g-import-not-at-top

  jax.config.update('jax_enable_compilation_cache', False)  # measure real compiles
  devices = jax.devices()[:args.devices or None]
  mesh = jax.make_mesh((len(devices),), ('data',), devices=devices,
                       axis_types=(jax.sharding.AxisType.Auto,))
  config = config_lib.prepare_config(config_lib.load_config(args.config))
  model = config_lib.create_model(config)
  n_au = config_lib.num_aus(config)
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  variables = jax.jit(functools.partial(train.init_variables, model, config),
                      out_shardings=replicated)(jax.random.key(0))
  state = train.create_state(variables, config, 2, 100)
  # Committed to the replicated sharding the step returns: no second compilation.
  state = jax.device_put(state, replicated)
  step = train.jit_step(train.make_stage2_step(model, config, 100, np.ones(n_au)), mesh)

  def batch(seed):
    rng = np.random.default_rng(seed)
    size = config.data.crop_size
    return sharding.to_global({'source': fakes.fake_arrays(rng, args.batch, size, n_au),
                            'target': fakes.fake_arrays(rng, args.batch, size, n_au)},
                           mesh)

  batches = [batch(seed) for seed in range(max(args.steps, 1))]
  _, compiled, lower_s, compile_s = timing.compile_step(step, state, batches[0])

  def save(path, params):
    leaves = jax.tree_util.tree_leaves_with_path(jax.device_get(params))
    np.savez(path, **{jax.tree_util.keystr(p): np.asarray(v) for p, v in leaves})

  save(args.params.replace('.npz', '.init.npz'), state.params)
  for b in batches[:args.steps]:  # also the warm-up
    state, _ = compiled(state, b)
  save(args.params, state.params)

  _, _, times, step_s = timing.time_steps(compiled, state, batches[:1], args.iters,
                                          warmup=0)
  result = {'devices': len(devices), 'platform': devices[0].platform,
            'device_kind': devices[0].device_kind, 'global_batch': args.batch,
            'per_device_batch': args.batch // len(devices), 'lower_s': lower_s,
            'compile_s': compile_s, 'step_s': step_s, 'step_times_s': times,
            'peak_memory_mib': peak_memory_mib()}
  with open(args.result, 'w', encoding='utf-8') as f:
    json.dump(result, f, indent=1)
  print(json.dumps(result), flush=True)


if __name__ == '__main__':
  main()
