"""Fewer kernels, the same step (docs/training.md, "Kernels per step"): the stage-2 step
that runs each module's several calls as one call (docs/method.md §2, "Batched calls")
and keeps each optimiser group's Adam moments as one flat vector gives the same losses,
gradients and updated state (params, batch statistics, both Adam states) as the step
that runs the calls one by one with per-parameter moments."""

import functools
import os

import flax.linen as nn
import jax
from jax.flatten_util import ravel_pytree
import jax.numpy as jnp
import numpy as np
import pytest

from au_jax import config_lib
from au_jax import objective
from au_jax import train
from au_jax.models import layers
from benchmarks import run as bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = dict(rtol=1e-5, atol=1e-6)
# Gradients and Adam moments: float32 sums over a batch taken in another order differ at
# ~1e-6 of the leaf's scale, and a conv bias followed by a normalisation has an exact
# gradient of 0, which rounding makes ~1e-6 either way.
def grad_tol(_, reference):
  return dict(rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(reference).max())))


STEPS = 2


def _config(row, fewer_kernels):
  config = config_lib.load_config(os.path.join(ROOT, 'configs', 'tiny.py'))
  config.ablation = row
  config.model.batched_calls = fewer_kernels
  config.stage2.flat_optimizer_state = fewer_kernels
  return config_lib.prepare_config(config)


def _flat_like(flat, per_parameter):
  """`per_parameter` (an optimiser state with moments per parameter) in the layout of
  `flat` (optax.flatten's): each subtree where `flat` has a vector, ravelled."""
  return jax.tree.map(lambda f, tree: jnp.ravel(ravel_pytree(tree)[0]).reshape(f.shape),
                      flat, per_parameter)


def _close(a, b, what, tol=None):
  """Leaf by leaf, b against the reference a; `tol(path, reference leaf)` gives a
  leaf's tolerances (default TOL)."""
  assert jax.tree.structure(a) == jax.tree.structure(b), what
  for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b)):
    name, x = jax.tree_util.keystr(path), np.asarray(x)
    np.testing.assert_allclose(np.asarray(y), x, **(tol(name, x) if tol else TOL),
                               err_msg=f'{what} {name}')


def test_grouped_batch_norm_is_sequential_batch_norms():
  """k groups = k calls of flax's BatchNorm in order: outputs and running averages."""
  x = jax.random.normal(jax.random.key(0), (6, 5, 5, 4)) * 3 + 1
  ref = nn.BatchNorm(use_running_average=False, momentum=0.9, epsilon=1e-5)
  variables = ref.init(jax.random.key(1), x[:2])
  stats, outs = variables['batch_stats'], []
  for k in range(3):
    y, mutated = ref.apply({'params': variables['params'], 'batch_stats': stats},
                           x[2 * k:2 * k + 2], mutable=['batch_stats'])
    stats = mutated['batch_stats']
    outs.append(y)
  grouped = layers.BatchNorm(use_running_average=False)
  assert (jax.tree.map(jnp.shape, grouped.init(jax.random.key(1), x[:2])) ==
          jax.tree.map(jnp.shape, variables))  # the same variables: checkpoints load
  y, mutated = grouped.apply(variables, x, 3, mutable=['batch_stats'])
  np.testing.assert_allclose(y, jnp.concatenate(outs), **TOL)
  _close(stats, mutated['batch_stats'], 'running averages')
  assert not np.allclose(y, ref.apply(variables, x, mutable=['batch_stats'])[0])  # k matters


@pytest.fixture(scope='module', params=['A', 'G'])
def steps(request):
  """[(reference, new)] of STEPS stage-2 steps, and the stage-2 gradients of both.

  Each step of both starts from the same state, the reference's (its Adam moments put
  in the flat layout for the new step), so that what one step does is compared, also
  from non-zero moments: rounding differences are not carried into the next step.
  """
  row = request.param
  configs = _config(row, False), _config(row, True)
  models = [config_lib.create_model(c) for c in configs]
  init = [jax.jit(functools.partial(train.init_variables, m, c)) for m, c in
          zip(models, configs)]
  variables = init[0](jax.random.key(0))
  assert (jax.tree.map(jnp.shape, init[1](jax.random.key(0))) ==
          jax.tree.map(jnp.shape, variables))  # the same parameters: checkpoints load
  weights = np.linspace(0.5, 2, config_lib.num_aus(configs[0]))
  step = [jax.jit(train.make_stage2_step(m, c, 8, weights)) for m, c in
          zip(models, configs)]
  state = train.create_state(variables, configs[0], 2, 8)
  flat = train.create_state(variables, configs[1], 2, 8)  # the new layout
  out = {'steps': [], 'config': configs[0],
         'grads': [_generator_gradients(m, c, variables, bench.fake_batch(c, 2), weights)
                   for m, c in zip(models, configs)]}
  for seed in range(STEPS):
    batch = jax.tree.map(jnp.asarray, bench.fake_batch(configs[0], 2, seed))
    same = state.replace(opt_g=_flat_like(flat.opt_g, state.opt_g),
                         opt_d=_flat_like(flat.opt_d, state.opt_d))
    new_state, new_logs = step[1](same, batch)
    state, logs = step[0](state, batch)
    out['steps'].append(({'state': state, 'logs': logs},
                         {'state': new_state, 'logs': new_logs}))
  return out


def _generator_gradients(model, config, variables, batch, weights):
  """d(Eq. 13's total)/d(all params) on one batch, through features and discriminate."""
  def total(params):
    v = {'params': params, 'batch_stats': variables['batch_stats']}
    outputs, _ = model.apply(v, batch['source']['image'], batch['target']['image'], True,
                             method='features', mutable=['batch_stats'])
    idx_s, idx_t = objective.heatmap_indices(outputs, batch, config.loss,
                                             config.data.crop_size)
    disc = model.apply(v, outputs, method='discriminate')
    g, _ = objective.generator_objective(outputs, disc, batch, idx_s, idx_t,
                                         jnp.asarray(weights, jnp.float32), config.loss)
    d, _ = objective.discriminator_objective(disc, idx_s, idx_t)
    return g + d
  return jax.jit(jax.grad(total))(variables['params'])


@pytest.mark.slow
def test_same_losses(steps):
  for reference, new in steps['steps']:
    _close(reference['logs'], new['logs'], 'logs')
    assert np.isfinite(new['logs']['loss'])


@pytest.mark.slow
def test_same_gradients(steps):
  reference, new = steps['grads']
  _close(reference, new, 'gradient', grad_tol)
  assert any(np.abs(g).max() > 0 for g in jax.tree.leaves(new))


@pytest.mark.slow
@pytest.mark.parametrize('part', ['batch_stats', 'opt_g', 'opt_d', 'step'])
def test_same_updated_state(steps, part):
  for reference, new in steps['steps']:
    new_part, old = getattr(new['state'], part), getattr(reference['state'], part)
    if part.startswith('opt'):
      assert len(jax.tree.leaves(new_part)) < len(jax.tree.leaves(old)) / 4  # flat
      old = _flat_like(new_part, old)
    _close(old, new_part, part, grad_tol if part.startswith('opt') else None)


@pytest.mark.slow
def test_same_updated_params(steps):
  """Tight, except where the exact gradient is 0 but rounding makes it ~1e-6 (0 < |g| ≤
  1e-5: conv biases before a normalisation): Adam turns rounding into a step of up to
  about the learning rate either way, so those may differ by 2·lr, still far from a real
  update of another parameter. Parameters no loss reaches (|g| = 0) stay tight."""
  groups = steps['config'].stage2.groups
  bound = 2 * max(g.learning_rate for g in groups.values())
  grads = {jax.tree_util.keystr(p): np.abs(np.asarray(g)).max()
           for p, g in jax.tree_util.tree_leaves_with_path(steps['grads'][0])}
  dead = [name for name, g in grads.items() if 0 < g <= 1e-5]
  assert len(dead) < sum(g > 0 for g in grads.values()) / 2, dead
  for reference, new in steps['steps']:
    _close(reference['state'].params, new['state'].params, 'params',
           lambda name, _: dict(rtol=0, atol=bound) if name in dead else TOL)
