"""A model with random weights, and a workdir holding them: for measuring inference and
exercising checkpoint loading, prediction and export without training first
(benchmarks/inference.py, benchmarks/run.py, the notebooks' tests)."""

import os

import jax
import numpy as np
import orbax.checkpoint as ocp

from au_jax import config_lib
from au_jax import inference
from au_jax import target_statistics


def random_variables(model, crop_size, seed=0, config=None):
  """Variables of the inference paths with random values of plausible scale (with the
  target path's own E_au statistics when `config` has them)."""
  shapes = inference.inference_shapes(
      model, crop_size, target_statistics.own_paths(config) if config is not None else ())
  leaves, tree = jax.tree.flatten(shapes)
  keys = jax.random.split(jax.random.key(seed), len(leaves))
  paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(
      shapes)[0]]
  values = []
  for key, leaf, path in zip(keys, leaves, paths):
    if path.endswith("['var']") or path.endswith("['scale']"):
      values.append(jax.numpy.ones(leaf.shape, leaf.dtype))
    else:
      values.append(0.05 * jax.random.normal(key, leaf.shape, leaf.dtype))
  return jax.tree.unflatten(tree, values)


def write_workdir(workdir, config, variables):
  """A workdir with config.json and a stage-2 checkpoint holding `variables`."""
  os.makedirs(workdir, exist_ok=True)
  config_lib.save_config(config, workdir)
  manager = ocp.CheckpointManager(os.path.join(workdir, 'checkpoints', 'stage2'),
                                  item_names=('state', 'meta'))
  state = {'step': np.int32(0), **variables}
  manager.save(0, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                          meta=ocp.args.JsonSave({'stage': '2'})))
  manager.wait_until_finished()
