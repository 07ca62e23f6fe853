"""The stage-2 forward graph at tiny size: runs under jit, and each loss term's gradient
reaches exactly the parameters docs/method.md §2–3 say it should."""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from au_jax import config_lib
from au_jax import losses
from au_jax import objective

# Its module fixtures (gradients of every loss term) are computed once: one worker
# runs the whole file (pytest -n 2 runs with --dist loadgroup, pytest.ini).
pytestmark = pytest.mark.xdist_group('forward_graph')

ALL_MODULES = ('landmark_branch_s', 'landmark_branch_t', 'shared_blocks',
               'feature_encoder_s', 'feature_encoder_t', 'landmark_encoder',
               'background_generator', 'feature_generator', 'landmark_discriminator',
               'domain_discriminator_s', 'domain_discriminator_t', 'au_detector',
               'projector_feature', 'projector_landmark', 'projector_background')
DISCRIMINATORS = ('landmark_discriminator', 'domain_discriminator_s',
                  'domain_discriminator_t')

# term -> modules it must reach (non-zero gradient); every other module must get exactly 0.
ROUTES = {
    'lr': {'landmark_encoder', 'feature_encoder_s', 'feature_encoder_t',
           'background_generator', 'feature_generator'},
    'lr_generated': {'background_generator', 'feature_generator'},
    'adlb': {'background_generator'},
    'adst': {'background_generator', 'feature_generator'},
    'au': {'au_detector', 'feature_encoder_s', 'background_generator', 'feature_generator'},
    'sr': {'projector_feature', 'projector_landmark', 'projector_background',
           'background_generator', 'feature_generator'},
    'self_reconstruction': {'background_generator', 'feature_generator'},
    'fl': {'landmark_branch_s', 'landmark_branch_t', 'shared_blocks'},
    'discriminator': set(DISCRIMINATORS),
}


def make_batch(rng, n_au, size=32):
  def points():
    p = rng.uniform(6, size - 6, (2, 49, 2)).astype(np.float32)
    p[:, 19:25, 0] = rng.uniform(7, 11, (2, 6))
    p[:, 25:31, 0] = rng.uniform(20, 24, (2, 6))
    return jnp.asarray(p)
  return {
      'source': {'landmarks': points(),
                 'au': jnp.asarray(rng.integers(0, 2, (2, n_au))),
                 'au_mask': jnp.ones((2, n_au))},
      'target': {'landmarks': points()},
  }


# Row A (ADLD): one shared E_f (feature_encoder_s), no branches, no projectors, and the
# two-pair cross-cycle term in place of L_sr.
ROUTES_A = {
    'lr': {'landmark_encoder', 'feature_encoder_s', 'background_generator',
           'feature_generator'},
    'lr_generated': {'background_generator', 'feature_generator'},
    'adlb': {'background_generator'},
    'adst': {'background_generator', 'feature_generator'},
    'au': {'au_detector', 'feature_encoder_s', 'background_generator', 'feature_generator'},
    'cross_cycle': {'background_generator', 'feature_generator'},
    'self_reconstruction': {'background_generator', 'feature_generator'},
    'discriminator': set(DISCRIMINATORS),
}


def tiny_row(row, share_feature_encoder=False):
  config = config_lib.load_config(
      os.path.join(os.path.dirname(__file__), '..', 'configs', 'tiny.py'))
  config.ablation = row
  config.model.share_feature_encoder = share_feature_encoder  # row A shares it anyway
  return config_lib.prepare_config(config)


def _term_gradients(config, model, variables, xs, xt, names):
  loss_cfg, crop = config.loss, config.data.crop_size
  batch = make_batch(np.random.default_rng(0), len(config.data.au_ids))
  weights = jnp.ones(len(config.data.au_ids))

  def terms_fn(params):
    v = {**variables, 'params': params}
    outputs, _ = model.apply(v, xs, xt, True, method='features', mutable=['batch_stats'])
    idx_s, idx_t = objective.heatmap_indices(outputs, batch, loss_cfg, crop)
    disc = model.apply(v, outputs, method='discriminate')
    _, terms = objective.generator_objective(outputs, disc, batch, idx_s, idx_t, weights,
                                             loss_cfg)
    terms['lr_generated'] = (
        losses.landmark_classification_loss(outputs['logits_sl_prime'], idx_s) +
        losses.landmark_classification_loss(outputs['logits_tl_prime'], idx_t))
    sg_out = jax.tree.map(jax.lax.stop_gradient, outputs)
    d_total, _ = objective.discriminator_objective(
        model.apply(v, sg_out, method='discriminate'), idx_s, idx_t)
    terms['discriminator'] = d_total
    return terms, outputs

  def summary(g):
    leaves = lambda m: jax.tree.leaves(g[m])
    return {m: (sum(jnp.sum(jnp.abs(x)) for x in leaves(m)),
                all(bool(jnp.all(jnp.isfinite(x))) for x in leaves(m))) for m in g}

  def all_grads(params):
    # One jitted vjp of the forward graph (the stage-2 graph under jax.jit), pulled
    # back once per term: the backward pass compiles once.
    (terms, outputs), pullback = jax.vjp(jax.jit(terms_fn), params)
    grads = {}
    for name in names:
      cotangent = ({n: jnp.ones_like(v) if n == name else jnp.zeros_like(v)
                    for n, v in terms.items()},
                   jax.tree.map(jnp.zeros_like, outputs))
      grads[name] = summary(pullback(cotangent)[0])
    return terms, grads, outputs

  return jax.device_get(all_grads(variables['params']))


@pytest.fixture(scope='module')
def term_gradients(tiny_model):
  model, variables, xs, xt = tiny_model
  return _term_gradients(tiny_row(''), model, variables, xs, xt, sorted(ROUTES))


@pytest.fixture(scope='module')
def row_a_gradients(tiny_model):
  _, _, xs, xt = tiny_model
  config = tiny_row('A')
  model = config_lib.create_model(config)
  variables = jax.jit(model.init)(jax.random.key(0), xs, xt)
  return _term_gradients(config, model, variables, xs, xt, sorted(ROUTES_A))


def _check_routes(grads, routes, term):
  reach = routes[term]
  for module in grads[term]:
    norm, finite = grads[term][module]
    assert finite, (term, module)
    if module in reach:
      assert norm > 0, f'{term} should train {module}'
    elif term in ('adlb', 'adst') and module in DISCRIMINATORS:
      # The generator-side adversarial terms depend on the discriminators' parameters
      # too, but the generator step never applies those gradients (au_jax.optim).
      continue
    else:
      assert norm == 0, f'{term} must not reach {module}'


def test_forward_outputs_are_finite(term_gradients):
  terms, _, outputs = term_gradients
  for name, value in terms.items():
    assert np.isfinite(value), name
  for name, value in outputs.items():
    assert np.all(np.isfinite(value)), name


@pytest.mark.parametrize('term', sorted(ROUTES))
def test_gradient_routes(term_gradients, term):
  _, grads, _ = term_gradients
  assert set(grads[term]) == set(ALL_MODULES)
  _check_routes(grads, ROUTES, term)


@pytest.mark.parametrize('term', sorted(ROUTES_A))
def test_row_a_gradient_routes_are_adld(row_a_gradients, term):
  # ADLD's stop-gradients: G_b sees sg(F); G_st sees sg(F_l); E_l' on generated features
  # is a frozen copy; the reconstruction targets are sg(F); one E_f for both domains.
  _, grads, _ = row_a_gradients
  assert 'feature_encoder_t' not in grads[term]
  _check_routes(grads, ROUTES_A, term)


def test_landmark_loss_on_generated_features_skips_landmark_encoder(term_gradients):
  _, grads, _ = term_gradients
  assert grads['lr_generated']['landmark_encoder'][0] == 0
  assert grads['lr']['landmark_encoder'][0] > 0


def test_inference_paths_run_under_jit(tiny_model):
  model, variables, xs, _ = tiny_model
  src = jax.jit(functools.partial(model.apply, method='predict_source'))(variables, xs)
  tgt = jax.jit(functools.partial(model.apply, method='predict_target'))(variables, xs)
  for au, points in (src, tgt):
    assert au.shape == (2, 3) and points.shape == (2, 49, 2)
    assert np.all(np.isfinite(au))
  assert not np.allclose(src[0], tgt[0])  # the two paths differ


def test_au_detector_statistics_see_target_features(tiny_model):
  # As in ADLD, E_au runs on F_s, F_t, F_tlsb and F_sltb (the unlabelled two for their
  # BatchNorm statistics only), so its running statistics, which inference uses, also
  # describe target-landmark features like the target path's.
  model, variables, xs, xt = tiny_model

  def stats(target_images):
    _, mutated = model.apply(variables, xs, target_images, True, method='features',
                             mutable=['batch_stats'])
    return mutated['batch_stats']['au_detector']

  a, b = stats(xt), stats(xt[::-1] * 0.5)
  differs = [not np.allclose(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))]
  assert all(differs)
  # ... and they are the four updates, in ADLD's order F_s, F_t, F_tlsb, F_sltb, of a
  # momentum-0.1 running mean that starts at 0.
  from au_jax.models import layers  # pylint: disable=g-import-not-at-top
  out, _ = model.apply(variables, xs, xt, True, method='features', mutable=['batch_stats'])
  conv = variables['params']['au_detector']['head0']['layer0']['Conv_0']
  width = conv['kernel'].shape[-1]
  means = [jnp.mean(layers.conv3x3(width).apply({'params': conv}, out[k]), axis=(0, 1, 2))
           for k in ('F_s', 'F_t', 'F_tlsb', 'F_sltb')]
  expected = 0.1 * sum(0.9 ** (3 - i) * m for i, m in enumerate(means))
  np.testing.assert_allclose(a['head0']['layer0']['BatchNorm_0']['mean'], expected,
                             rtol=1e-4, atol=1e-6)
