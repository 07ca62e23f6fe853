"""Devices for global-view data parallelism: one 1-D mesh, axis 'data'.

Steps are written as for one device and `jax.jit`-ed over the mesh with the batch
sharded on 'data' and the state replicated; XLA inserts the gradient all-reduce (and
BatchNorm's cross-device means). One CPU, 8 simulated devices, a GPU box and a
multi-host TPU pod run the same code. (`jax.pmap` is in maintenance mode since JAX 0.8;
au_jax does not use it.)
"""

import collections
import itertools

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


def prefetch_to_mesh(batches, mesh, size=2):
  """Yields to_global(batch) for each host batch of `batches`, with `size` batches
  already on their way to the devices: the copies are asynchronous, so the next
  batches travel while a step runs (flax.jax_utils.prefetch_to_device, for a mesh)."""
  batches = iter(batches)
  queue = collections.deque(to_global(b, mesh) for b in itertools.islice(batches, size))
  while queue:
    batch = queue.popleft()
    queue.extend(to_global(b, mesh) for b in itertools.islice(batches, 1))
    yield batch
