"""The optimiser groups and schedules (docs/method.md §4, au_jax/optim.py)."""

import os

import jax
import jax.numpy as jnp
import numpy as np

from au_jax import config_lib
from au_jax import optim

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# -- schedules -----------------------------------------------------------------------------

def test_stage2_schedule_matches_spec_at_epoch_boundaries(paper_config):
  spe = 100
  schedules = optim.stage2_schedules(paper_config.stage2, spe)
  base = {'discriminators': 5e-5, 'generators': 5e-5, 'task': 1e-4, 'landmark': 5e-4}
  for group, lr in base.items():
    s = schedules[group]
    for epoch in range(0, 5):  # constant for 4 epochs
      np.testing.assert_allclose(s(epoch * spe), lr, rtol=1e-6)
    for epoch in range(4, 13):  # then linear to 0 over 8
      np.testing.assert_allclose(s(epoch * spe), lr * (12 - epoch) / 8, rtol=1e-5,
                                 atol=1e-12)
  assert float(schedules['task'](12 * spe + 50)) == 0.0


def test_stage1_schedule_halves_every_ten_epochs(paper_config):
  s = optim.stage1_schedule(paper_config.stage1, 10)
  for epoch, lr in ((0, 1e-3), (9, 1e-3), (10, 5e-4), (19, 5e-4), (20, 2.5e-4)):
    np.testing.assert_allclose(s(epoch * 10), lr, rtol=1e-6)


def test_optimiser_groups_cover_every_module(paper_config):
  model = config_lib.create_model(paper_config)
  x = jax.ShapeDtypeStruct((1, 176, 176, 3), jnp.float32)
  params = jax.eval_shape(lambda a: model.init(jax.random.key(0), a, a), x)['params']
  labels = optim.partition_labels(params)
  assert {m: jax.tree.leaves(labels[m])[0] for m in params} == {
      m: optim.group_of(m) for m in params}
  assert set(optim.group_of(m) for m in params) == {
      'discriminators', 'generators', 'task', 'landmark'}


def test_stage2_betas_per_group(paper_config):
  tx_d, tx_g = optim.stage2_optimizers(paper_config.stage2, 10)
  g = paper_config.stage2.groups
  assert (g.discriminators.b1, g.discriminators.b2) == (0.5, 0.9)
  assert (g.task.b1, g.task.b2) == (0.95, 0.999)
  # A gradient of 1 moves each group by its learning rate on Adam's first step.
  params = {'background_generator': jnp.zeros(2), 'au_detector': jnp.zeros(2),
            'landmark_branch_s': jnp.zeros(2)}
  updates, _ = tx_g.update(jax.tree.map(jnp.ones_like, params), tx_g.init(params), params)
  np.testing.assert_allclose(updates['background_generator'], -5e-5, rtol=1e-4)
  np.testing.assert_allclose(updates['au_detector'], -1e-4, rtol=1e-4)
  np.testing.assert_allclose(updates['landmark_branch_s'], -5e-4, rtol=1e-4)
