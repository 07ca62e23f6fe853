"""Table 7's row A is ADLD as its public code trains it (docs/method.md §9): its config,
its optimiser groups and, term by term, its total loss. The gradient routes of row A
(ADLD's stop-gradients) are checked in test_forward_graph.py."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from au_jax import config_lib
from au_jax import objective
from au_jax import optim
from tests.test_forward_graph import make_batch

# Its module fixtures (gradients of every loss term) are computed once: one worker
# runs the whole file (pytest -n 2 runs with --dist loadgroup, pytest.ini).
pytestmark = pytest.mark.xdist_group('adld_baseline')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def row_a(name='tiny.py'):
  config = config_lib.load_config(os.path.join(REPO, 'configs', name))
  config.ablation = 'A'
  return config_lib.prepare_config(config)


def test_row_a_config_is_adld():
  c = row_a('default.py')
  assert c.model.share_feature_encoder
  loss = c.loss
  assert (loss.lr, loss.adlb, loss.adst, loss.au) == (0.6, 400.0, 1.2, 1.0)
  assert (loss.cross_cycle, loss.self_reconstruction) == (40.0, 3.0)
  assert loss.au_loss == 'bce' and loss.target_heatmaps == 'annotation'
  assert not (loss.projectors or loss.intermediate_alignment or
              loss.source_landmark_branch or loss.target_landmark_branch)


def test_adld_baseline_config_is_row_a():
  c = config_lib.prepare_config(config_lib.load_config(
      os.path.join(REPO, 'configs', 'adld_baseline.py')))
  assert c.ablation == 'A' and c.model.share_feature_encoder
  assert c.model.target_path == 'reconstruction'  # ADLD's test path
  # ADLD's three optimisers: generation (G_b, G) and discrimination at 5e-5 with betas
  # (0.5, 0.9), task (E_f, E_l, E_au) at 1e-4 with (0.95, 0.999).
  g = c.stage2.groups
  assert (g.generators.learning_rate, g.generators.b1, g.generators.b2) == (5e-5, 0.5, 0.9)
  assert (g.discriminators.learning_rate, g.discriminators.b1, g.discriminators.b2) == \
      (5e-5, 0.5, 0.9)
  assert (g.task.learning_rate, g.task.b1, g.task.b2) == (1e-4, 0.95, 0.999)
  model = config_lib.create_model(c)
  x = jax.ShapeDtypeStruct((1, 176, 176, 3), jnp.float32)
  params = jax.eval_shape(model.init, jax.random.key(0), x, x)['params']
  groups = {m: optim.group_of(m) for m in params}
  assert 'feature_encoder_t' not in groups
  assert {m for m, g in groups.items() if g == 'generators'} == {
      'background_generator', 'feature_generator'}
  assert {m for m, g in groups.items() if g == 'discriminators'} == {
      'landmark_discriminator', 'domain_discriminator_s', 'domain_discriminator_t'}
  assert {'feature_encoder_s', 'landmark_encoder', 'au_detector'} <= {
      m for m, g in groups.items() if g == 'task'}


def _bce(logits, labels, weights):
  # torch.nn.BCEWithLogitsLoss(weight=w): the mean over batch and AUs of w_i · BCE.
  per = -(labels * jax.nn.log_sigmoid(logits) + (1 - labels) * jax.nn.log_sigmoid(-logits))
  return jnp.mean(per * weights)


def _ce(logits, idx):
  b, h, w, n = logits.shape
  logp = jax.nn.log_softmax(logits.reshape(b, h * w, n), axis=1)
  return -jnp.mean(jnp.take_along_axis(logp, idx[:, None, :], axis=1))


def _l1(a, b):
  return jnp.mean(jnp.abs(a - b))


def _mse(x, value):
  return jnp.mean((x - value) ** 2)


@pytest.fixture(scope='module')
def row_a_outputs():
  config = row_a()
  model = config_lib.create_model(config)
  xs = jax.random.normal(jax.random.key(1), (2, 32, 32, 3))
  xt = jax.random.normal(jax.random.key(2), (2, 32, 32, 3))
  variables = jax.jit(model.init)(jax.random.key(0), xs, xt)
  outputs, _ = model.apply(variables, xs, xt, True, method='features',
                           mutable=['batch_stats'])
  disc = model.apply(variables, outputs, method='discriminate')
  batch = make_batch(np.random.default_rng(3), len(config.data.au_ids))
  idx_s, idx_t = objective.heatmap_indices(outputs, batch, config.loss,
                                           config.data.crop_size)
  return config, outputs, disc, batch, idx_s, idx_t


def test_row_a_generator_objective_is_adld_total_loss(row_a_outputs):
  config, o, disc, batch, idx_s, idx_t = row_a_outputs
  weights = jnp.array([0.5, 1.0, 1.5])
  total, terms = objective.generator_objective(o, disc, batch, idx_s, idx_t, weights,
                                               config.loss)
  assert set(terms) == {'lr', 'adlb', 'adst', 'au', 'fl', 'cross_cycle',
                        'self_reconstruction'}
  y = batch['source']['au'].astype(jnp.float32)
  d = disc['dl_sb'].shape[1]
  # ADLD train.py, weak mode, written out from its loss definitions.
  adld = (400 * 0.5 * (_mse(disc['dl_sb'], 1 / d ** 2) + _mse(disc['dl_tb'], 1 / d ** 2))
          + 1.2 * 0.5 * (_mse(disc['dd_s_fake'], 1) + _mse(disc['dd_t_fake'], 1))
          + 40 * 0.5 * (_l1(o['F_s_prime'], o['F_s']) + _l1(o['F_t_prime'], o['F_t']))
          + 3 * 0.5 * (_l1(o['F_s_self'], o['F_s']) + _l1(o['F_t_self'], o['F_t']))
          + 1 * 0.5 * (_bce(o['au_s'], y, weights) + _bce(o['au_sltb'], y, weights))
          + 0.6 * 0.5 * (_ce(o['logits_sl'], idx_s) + _ce(o['logits_tl'], idx_t)
                         + _ce(o['logits_tl_prime'], idx_t)
                         + _ce(o['logits_sl_prime'], idx_s)))
  np.testing.assert_allclose(total, adld, rtol=1e-5)
  # The reconstructions really are ADLD's: cycle without projectors, self from (F_l, F_b).
  assert 'P_s' in o and np.array_equal(o['P_s'], o['F_s_prime'])


def test_row_a_discriminator_objective_is_adld(row_a_outputs):
  _, _, disc, _, idx_s, idx_t = row_a_outputs

  def land_disc(maps, idx):
    b, h, w, n = maps.shape
    one_hot = jax.nn.one_hot(idx, h * w, axis=1)
    return _mse(maps.reshape(b, h * w, n), one_hot)

  total, _ = objective.discriminator_objective(disc, idx_s, idx_t)
  adld = (0.5 * (land_disc(disc['dl_sb'], idx_s) + land_disc(disc['dl_tb'], idx_t))
          + 0.5 * (0.5 * (_mse(disc['dd_s_real'], 1) + _mse(disc['dd_s_fake'], 0))
                   + 0.5 * (_mse(disc['dd_t_real'], 1) + _mse(disc['dd_t_fake'], 0))))
  np.testing.assert_allclose(total, adld, rtol=1e-6)
