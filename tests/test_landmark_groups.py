"""`loss.target_landmark_groups`: a detector's unreliable groups stop supervising the
wild landmark path (the target parts of Eqs. 3 and 4), and nothing else changes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from au_jax import config_lib
from au_jax import losses
from au_jax import objective
from au_jax.geometry import landmarks as lm
from test_forward_graph import make_batch, tiny_row

KEEP = ('nose', 'eyes', 'mouth')
BROWS = lm.GROUPS_49['brows']


def test_group_weights_cover_the_49_points_once():
  weights = lm.group_weights(tuple(lm.GROUPS_49))
  assert weights.shape == (49,) and np.all(weights == 1)
  assert lm.group_weights(KEEP)[BROWS].sum() == 0 and lm.group_weights(KEEP).sum() == 39
  with pytest.raises(ValueError, match='unknown landmark groups'):
    lm.group_weights(('jaw',))


@pytest.mark.parametrize('loss', ['classification', 'discriminator'])
def test_weighted_landmark_losses_are_the_mean_over_the_kept_points(loss):
  rng = np.random.default_rng(0)
  maps = jnp.asarray(rng.normal(0, 1, (2, 4, 4, 49)), jnp.float32)
  idx = jnp.asarray(rng.integers(0, 16, (2, 49)))
  fn = {'classification': losses.landmark_classification_loss,
        'discriminator': losses.landmark_discriminator_loss}[loss]
  weights = lm.group_weights(KEEP)
  kept = np.flatnonzero(weights)
  np.testing.assert_allclose(fn(maps, idx, weights), fn(maps[..., kept], idx[:, kept]),
                             rtol=1e-5)
  grad = jax.grad(fn)(maps, idx, weights)
  assert np.all(np.asarray(grad)[..., BROWS] == 0) and np.any(np.asarray(grad) != 0)
  np.testing.assert_allclose(fn(maps, idx, np.ones(49)), fn(maps, idx), rtol=1e-6)


def test_left_out_groups_stop_only_the_target_heatmap_terms(tiny_model):
  model, variables, xs, xt = tiny_model
  config = tiny_row('')
  config.loss.target_landmark_groups = KEEP
  config_lib.validate(config)
  loss_cfg, crop = config.loss, config.data.crop_size
  batch = make_batch(np.random.default_rng(0), len(config.data.au_ids))
  outputs, _ = model.apply(variables, xs, xt, True, method='features',
                           mutable=['batch_stats'])
  idx_s, idx_t = objective.heatmap_indices(outputs, batch, loss_cfg, crop)
  disc = model.apply(variables, outputs, method='discriminate')
  weights = jnp.ones(len(config.data.au_ids))

  def lr(outs):
    return objective.generator_objective(outs, disc, batch, idx_s, idx_t, weights,
                                         loss_cfg)[1]['lr']
  grads = jax.grad(lr)(outputs)
  for name in ('logits_tl', 'logits_tl_prime'):
    g = np.asarray(grads[name])
    assert np.all(g[..., BROWS] == 0) and np.any(g[..., 19:31] != 0), name
  for name in ('logits_sl', 'logits_sl_prime'):  # the source keeps every point
    assert np.any(np.asarray(grads[name])[..., BROWS] != 0), name

  def d_landmark(maps):
    return objective.discriminator_objective(
        {**disc, 'dl_tb': maps}, idx_s, idx_t,
        objective.target_landmark_weights(loss_cfg))[1]['d_landmark']
  g = np.asarray(jax.grad(d_landmark)(disc['dl_tb']))
  assert np.all(g[..., BROWS] == 0) and np.any(g[..., 19:31] != 0)
  config.loss.target_landmark_groups = tuple(lm.GROUPS_49)
  assert objective.target_landmark_weights(config.loss) is None  # all: Eq. 3 as written


@pytest.mark.parametrize('value', [(), ('jaw',), ('brows', 'ears')])
def test_bad_groups_are_a_config_error(value):
  config = tiny_row('')
  config.loss.target_landmark_groups = value
  with pytest.raises(config_lib.ConfigError, match='target_landmark_groups'):
    config_lib.validate(config)
