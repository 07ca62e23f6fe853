"""Runs a few tiny stage-2 steps on however many devices/processes it is given and saves
the parameters: the multi-device tests compare runs of this script.

  cd tests && XLA_FLAGS=--xla_force_host_platform_device_count=8 \
      python -m workers.multidevice_worker OUT.npz
  ... --coordinator localhost:PORT --num-processes 2 --process-id I   (multi-process)

Run as a module from tests/, so that `fixtures` imports as it does under pytest.
"""

import argparse
import os


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('out')
  parser.add_argument('--steps', type=int, default=3)
  parser.add_argument('--batch', type=int, default=8)
  parser.add_argument('--coordinator')
  parser.add_argument('--num-processes', type=int, default=1)
  parser.add_argument('--process-id', type=int, default=0)
  parser.add_argument('--restore', help='a workdir: restore its latest stage-2 '
                      'checkpoint onto this device count instead of training')
  args = parser.parse_args()

  import jax  # pylint: disable=g-import-not-at-top
  if args.coordinator:
    jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
  import functools  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from au_jax import config_lib, sharding, train  # pylint: disable=g-import-not-at-top
  import fixtures  # pylint: disable=g-import-not-at-top
  from data_pipelines import fakes  # pylint: disable=g-import-not-at-top

  config = config_lib.prepare_config(
      config_lib.load_config(os.path.join(fixtures.ROOT, 'configs', 'tiny.py')))
  rng = np.random.default_rng(0)
  n_au = len(config.data.au_ids)
  data = fixtures.ArrayData(
      fakes.fake_arrays(rng, 32, 32, n_au), fakes.fake_arrays(rng, 32, 32, n_au),
      np.ones(n_au, np.float32), process_index=jax.process_index(),
      process_count=jax.process_count())
  mesh = sharding.make_mesh()
  model = config_lib.create_model(config)
  variables = jax.jit(functools.partial(train.init_variables, model, config))(
      jax.random.key(0))
  state = train.create_state(variables, config, 2, 4)
  state = jax.device_put(state, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
  if args.restore:
    from au_jax import checkpointing  # pylint: disable=g-import-not-at-top
    manager = checkpointing.manager(args.restore, 'stage2', config)
    state, restored = checkpointing.restore_latest(manager, state, mesh)
    assert restored, f'no checkpoint in {args.restore}'
  step = train.jit_step(train.make_stage2_step(model, config, 4, data.au_weights), mesh)
  source, target = data.source_batches(args.batch), data.target_batches(args.batch)
  for _ in range(0 if args.restore else args.steps):
    batch = sharding.to_global({'source': next(source), 'target': next(target)}, mesh)
    state, _ = step(state, batch)
  leaves = jax.tree_util.tree_leaves_with_path(jax.device_get(state.params))
  if jax.process_index() == 0:
    np.savez(args.out, **{jax.tree_util.keystr(p): np.asarray(v) for p, v in leaves})
  print(f'devices {jax.device_count()} processes {jax.process_count()} done', flush=True)


if __name__ == '__main__':
  main()
