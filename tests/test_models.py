"""Shapes and parameter counts of every module of docs/method.md §1."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from au_jax import config_lib
from au_jax import models
from au_jax.models import layers

# ADLD's PyTorch parameter counts (docs/method.md §1, 6 AUs). PyTorch counts BN scale and bias as
# parameters and running statistics as buffers, as Flax's 'params'/'batch_stats' do.
ADLD_COUNTS = {
    'feature_encoder_s': 65_956, 'feature_encoder_t': 65_956,
    'landmark_encoder': 175_989, 'background_generator': 147_716,
    'feature_generator': 370_245, 'landmark_discriminator': 175_989,
    'domain_discriminator_s': 524_805, 'domain_discriminator_t': 524_805,
    'au_detector': 888_984,
}


def count(tree):
  return sum(x.size for x in jax.tree.leaves(tree))


def abstract_init(model, size, batch=2):
  x = jax.ShapeDtypeStruct((batch, size, size, 3), jnp.float32)
  return jax.eval_shape(lambda a: model.init(jax.random.key(0), a, a), x)


def test_parameter_counts_match_adld_at_paper_size(paper_config):
  model = config_lib.create_model(paper_config)
  params = abstract_init(model, 176)['params']
  for name, expected in ADLD_COUNTS.items():
    assert count(params[name]) == expected, name


def test_landmark_branch_structure_at_paper_size():
  # conv 3x3 blocks 32..160 + CBAM + 4000 -> 512 -> 98; blocks 3-4 shared.
  model = models.MultiTaskAUNet(num_aus=6)
  params = abstract_init(model, 176)['params']
  fc1 = params['landmark_branch_s']['fc1']['kernel']
  assert fc1.shape == (160 * 5 * 5, 512)
  assert params['landmark_branch_s']['fc2']['kernel'].shape == (512, 98)
  assert 'shared_blocks' in params
  # The shared blocks live once, not inside either branch.
  for d in ('s', 't'):
    assert set(params[f'landmark_branch_{d}']) == {'front', 'back', 'cbam', 'fc1', 'fc2'}
  assert params['shared_blocks']['block0']['ConvBNPReLU_0']['Conv_0']['kernel'].shape == (
      3, 3, 64, 96)


@pytest.mark.parametrize('size,channels,side', [(176, (32, 64, 96, 128, 160), 44),
                                                (32, (4, 8, 8, 8, 8), 8),
                                                (64, (4, 8, 8, 8, 8), 16)])
def test_forward_shapes(size, channels, side):
  n_au = 5
  model = models.MultiTaskAUNet(num_aus=n_au, landmark_channels=channels, hidden=8,
                                generator_channels=(8, 8, 8, 8), domain_channels=(8,) * 4,
                                au_hidden=8, projector_hidden=8, landmark_dense=16,
                                cbam_reduction=4)
  variables = abstract_init(model, size)
  x = jax.ShapeDtypeStruct((2, size, size, 3), jnp.float32)
  f, d = jax.eval_shape(lambda v, a: model.apply(v, a, a), variables, x)
  c = channels[1]
  expected = {
      'F_s': (2, side, side, c), 'F_t': (2, side, side, c),
      'F_sl': (2, side, side, 1), 'F_tl_prime': (2, side, side, 1),
      'F_sb': (2, side, side, 8), 'F_tb_prime': (2, side, side, 8),
      'F_sltb': (2, side, side, c), 'F_tlsb': (2, side, side, c),
      'F_s_prime': (2, side, side, c), 'F_t_prime': (2, side, side, c),
      'logits_sl': (2, side, side, 49), 'logits_tl_prime': (2, side, side, 49),
      'P_s': (2, side, side, c), 'P_sl': (2, side, side, 1), 'P_tb': (2, side, side, 8),
      'au_s': (2, n_au), 'au_sltb': (2, n_au), 'FL_s': (2, 49, 2), 'FL_t': (2, 49, 2),
  }
  for key, shape in expected.items():
    assert f[key].shape == shape, key
  assert d['dl_sb'].shape == (2, side, side, 49)
  for key in ('dd_s_real', 'dd_s_fake', 'dd_t_real', 'dd_t_fake'):
    assert d[key].shape == (2, 1), key


def test_each_module_alone_at_paper_size():
  key = jax.random.key(0)
  f = jax.ShapeDtypeStruct((2, 44, 44, 64), jnp.float32)
  img = jax.ShapeDtypeStruct((2, 176, 176, 3), jnp.float32)
  shape = lambda m, *a, **kw: jax.eval_shape(
      lambda *x: m.apply(m.init(key, *x, **kw), *x, **kw), *a)
  assert shape(models.FeatureEncoder(), img, train=False).shape == (2, 44, 44, 64)
  logits, fl = shape(models.LandmarkEncoder(), f)
  assert logits.shape == (2, 44, 44, 49) and fl.shape == (2, 44, 44, 1)
  assert shape(models.BackgroundGenerator(), f).shape == (2, 44, 44, 64)
  assert shape(models.LandmarkDiscriminator(), f).shape == (2, 44, 44, 49)
  fl1 = jax.ShapeDtypeStruct((2, 44, 44, 1), jnp.float32)
  assert shape(models.FeatureGenerator(), fl1, f).shape == (2, 44, 44, 64)
  assert shape(models.DomainDiscriminator(), f).shape == (2, 1)
  assert shape(models.AUDetector(num_aus=6), f, train=False).shape == (2, 6)
  assert shape(models.Projector(64), f).shape == (2, 44, 44, 64)
  assert shape(models.Projector(1), fl1).shape == (2, 44, 44, 1)


def test_prelu_slope_and_norm_conventions(paper_config, tiny_model):
  variables = abstract_init(config_lib.create_model(paper_config), 176)
  _, real, _, _ = tiny_model
  slopes = [v for p, v in jax.tree_util.tree_leaves_with_path(real['params'])
            if 'negative_slope' in jax.tree_util.keystr(p)]
  # One slope per layer (stacked per AU head inside E_au), all 0.25.
  assert slopes and all(np.allclose(s, 0.25) for s in slopes)
  assert all(s.size == 1 for s in slopes if s.ndim == 0)
  # Instance norm has no parameters: E_l's layers hold only conv and PReLU.
  for name, layer in real['params']['landmark_encoder'].items():
    assert set(layer) <= {'Conv_0', 'PReLU_0', 'kernel', 'bias'}, name
  # BN keeps running statistics where docs/method.md §1 says BN: branches, E_f, E_au; not E_l, G_b.
  stats = variables['batch_stats']
  assert {'landmark_branch_s', 'landmark_branch_t', 'shared_blocks', 'feature_encoder_s',
          'feature_encoder_t', 'au_detector'} == set(stats)


def test_au_heads_have_separate_parameters():
  model = models.AUDetector(num_aus=3, hidden=4)
  v = model.init(jax.random.key(0), jnp.zeros((2, 8, 8, 4)), train=False)
  heads = v['params']
  assert sorted(heads) == ['head0', 'head1', 'head2']
  assert not np.allclose(heads['head0']['logit']['kernel'], heads['head1']['logit']['kernel'])


def test_shared_blocks_receive_gradient_from_both_branches(tiny_model):
  model, v, x, _ = tiny_model

  def branch_sum(params, which):
    (ls, lt), _ = model.apply({**v, 'params': params}, x, x, True,
                              method='landmarks', mutable=['batch_stats'])
    return jnp.sum(ls if which == 's' else lt)

  for which in ('s', 't'):
    g = jax.jit(jax.grad(branch_sum), static_argnums=1)(v['params'], which)
    norm = lambda t: float(sum(jnp.sum(jnp.abs(a)) for a in jax.tree.leaves(t)))
    assert norm(g['shared_blocks']) > 0
    other = 't' if which == 's' else 's'
    assert norm(g[f'landmark_branch_{other}']) == 0


def test_feature_encoders_initialised_from_branches(tiny_model):
  model, v, x, _ = tiny_model
  v2 = models.init_feature_encoders_from_branches(v)
  for col in ('params', 'batch_stats'):
    for d in ('s', 't'):
      a = v2[col][f'feature_encoder_{d}']['front']
      b = v[col][f'landmark_branch_{d}']['front']
      assert jax.tree.all(jax.tree.map(lambda p, q: bool(jnp.all(p == q)), a, b))
  # The encoders now compute tanh of the branch's first two blocks.
  f = model.apply(v2, x, False, method=lambda m, a, t: m.feature_encoder_s(a, t))
  blocks = layers.ConvBlocks((4, 8)).apply(
      {'params': v['params']['landmark_branch_s']['front'],
       'batch_stats': v['batch_stats']['landmark_branch_s']['front']}, x, False)
  np.testing.assert_allclose(f, jnp.tanh(blocks), rtol=1e-5, atol=1e-6)


def test_bad_input_names_the_module():
  model = models.FeatureEncoder((4, 8))
  with pytest.raises(ValueError, match='FeatureEncoder: expected 3 input channels'):
    model.init(jax.random.key(0), jnp.zeros((1, 16, 16, 1)), train=False)
  with pytest.raises(ValueError, match='LandmarkEncoder: expected a rank-4 input'):
    models.LandmarkEncoder(8).init(jax.random.key(0), jnp.zeros((16, 16, 8)))


def test_domain_discriminator_last_kernel_is_adld_at_paper_size():
  v = jax.eval_shape(lambda: models.DomainDiscriminator().init(
      jax.random.key(0), jnp.zeros((1, 44, 44, 64))))
  assert v['params']['last']['kernel'].shape == (4, 4, 128, 128)
  assert v['params']['down0']['kernel'].shape == (4, 4, 64, 64)


def test_au_head_mean_of_conv_equals_conv_then_mean():
  """E_au's last conv + global average pool is computed from window sums
  (`MeanOfConv3x3`): same parameters, initial values, outputs and gradients as the
  conv followed by the mean."""
  from au_jax.models.au_detector import MeanOfConv3x3  # pylint: disable=g-import-not-at-top

  class ConvThenMean(nn.Module):
    @nn.compact
    def __call__(self, x):
      return jnp.mean(layers.conv3x3(5, name='last')(x), axis=(1, 2))

  class Pooled(nn.Module):
    @nn.compact
    def __call__(self, x):
      return MeanOfConv3x3(5, name='last')(x)

  x = jax.random.normal(jax.random.key(1), (2, 7, 6, 4))
  ref, new = ConvThenMean(), Pooled()
  v_ref, v_new = ref.init(jax.random.key(0), x), new.init(jax.random.key(0), x)
  jax.tree.map(np.testing.assert_array_equal, v_ref, v_new)
  v = jax.tree.map(lambda p: p + 0.1, v_ref)  # a non-zero bias too
  np.testing.assert_allclose(new.apply(v, x), ref.apply(v, x), atol=1e-6)

  def grads(m):
    return jax.grad(lambda v, x: jnp.sum(jnp.sin(m.apply(v, x))), argnums=(0, 1))(v, x)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
               grads(new), grads(ref))
