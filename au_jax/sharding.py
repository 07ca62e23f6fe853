"""Devices for global-view data parallelism: one 1-D mesh, axis 'data'.

Steps are written as for one device and `jax.jit`-ed over the mesh with the batch
sharded on 'data' and the state replicated; XLA inserts the gradient all-reduce (and
BatchNorm's cross-device means). One CPU, 8 simulated devices, a GPU box and a
multi-host TPU pod run the same code. (`jax.pmap` is in maintenance mode since JAX 0.8;
au_jax does not use it.)
"""

import jax
import numpy as np

P = jax.sharding.PartitionSpec


def make_mesh():
  """A 1-D mesh over every device of every process, axis 'data'."""
  return jax.make_mesh((jax.device_count(),), ('data',),
                       axis_types=(jax.sharding.AxisType.Auto,))


def replicated(mesh):
  return jax.sharding.NamedSharding(mesh, P())


def batch_sharded(mesh):
  return jax.sharding.NamedSharding(mesh, P('data'))


def to_global(batch, mesh):
  """This host's numpy batch → global arrays sharded on 'data' (multi-host safe)."""
  sharding = batch_sharded(mesh)
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), batch)
