"""Training (docs/method.md §2–4): the stage steps, a NaN stop, half precision."""

import functools
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fixtures
from fixtures import tiny, tiny_data
from au_jax import checkpointing
from au_jax import config_lib
from au_jax import data as data_lib
from au_jax import evaluate
from au_jax import objective
from au_jax import optim
from au_jax import sharding
from au_jax import train

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# -- the steps -------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def stage2_setup():
  # A 10× task learning rate so that a few dozen steps show a clear trend; every module
  # of the paper (two feature extractors).
  config = config_lib.prepare_config(tiny(**{'stage2.groups.task.learning_rate': 1e-3,
                                             'model.share_feature_encoder': False}))
  model = config_lib.create_model(config)
  mesh = sharding.make_mesh()
  variables = jax.jit(functools.partial(train.init_variables, model, config))(
      jax.random.key(0))
  return config, model, mesh, variables


def _state(setup, stage=2):
  config, _, mesh, variables = setup
  state = train.create_state(jax.tree.map(jnp.copy, variables), config, stage, 8)
  return jax.device_put(state, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))


@pytest.mark.xdist_group('stage2_setup')  # one worker builds the fixture
def test_losses_go_down(stage2_setup):
  config, model, mesh, _ = stage2_setup
  data = tiny_data(n=8)
  step = train.jit_step(train.make_stage2_step(model, config, 8, data.au_weights), mesh)
  state = _state(stage2_setup)
  src, tgt = data.source_batches(8), data.target_batches(8)
  history = []
  for _ in range(40):
    batch = sharding.to_global({'source': next(src), 'target': next(tgt)}, mesh)
    state, logs = step(state, batch)
    history.append(jax.device_get(logs))
  for term in ('au', 'lr', 'sr'):  # L_fl needs stage 1's epochs (pixel regression)
    first = np.mean([h[term] for h in history[:5]])
    last = np.mean([h[term] for h in history[-5:]])
    assert last < 0.9 * first, (term, first, last)


@pytest.mark.xdist_group('stage2_setup')  # one worker builds the fixture
def test_discriminator_update_changes_only_discriminators(stage2_setup):
  config, model, _, variables = stage2_setup
  data = tiny_data(n=8)
  src, tgt = next(data.source_batches(8)), next(data.target_batches(8))
  outputs, _ = model.apply(variables, src['image'], tgt['image'], True, method='features',
                           mutable=['batch_stats'])
  batch = {'source': src, 'target': tgt}
  idx_s, idx_t = objective.heatmap_indices(outputs, batch, config.loss,
                                           config.data.crop_size)
  tx_d, _ = optim.stage2_optimizers(config.stage2, 8)
  d_params, g_params = optim.split_params(variables['params'], ('discriminators',))
  assert set(d_params) == {m for m in variables['params']
                           if optim.group_of(m) == 'discriminators'}
  new, opt_d, logs = jax.jit(functools.partial(train.update_discriminators, model, tx_d))(
      d_params, tx_d.init(d_params), outputs, idx_s, idx_t)
  assert set(new) == set(d_params) and set(logs) >= {'loss_d', 'd_landmark', 'd_domain'}
  for module in d_params:  # every discriminator moved
    assert any(not np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(new[module]), jax.tree.leaves(d_params[module]))), module
  # ... and its gradient ignores the generators: the outputs enter as sg(features).
  grads = jax.grad(lambda f: jax.tree.leaves(train.update_discriminators(
      model, tx_d, d_params, tx_d.init(d_params), f, idx_s, idx_t)[0])[0].sum())(outputs)
  assert all(float(jnp.abs(g).sum()) == 0 for g in jax.tree.leaves(grads))


@pytest.mark.xdist_group('stage2_setup')  # one worker builds the fixture
def test_source_only_trains_only_encoder_and_au_detector(stage2_setup):
  config, model, mesh, variables = stage2_setup
  config = config_lib.prepare_config(tiny(ablation='source_only'))
  data = tiny_data(n=8)
  state = jax.device_put(train.create_state(jax.tree.map(jnp.copy, variables), config,
                                            'source_only', 8),
                         jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
  before = jax.device_get(state.params)
  step = train.jit_step(train.make_source_only_step(model, config, 8, data.au_weights),
                        mesh)
  batch = sharding.to_global({'source': next(data.source_batches(8)),
                           'target': next(data.target_batches(8))}, mesh)
  after = jax.device_get(step(state, batch)[0].params)
  for module in before:
    changed = any(not np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(before[module]), jax.tree.leaves(after[module])))
    assert changed == (module in ('feature_encoder_s', 'au_detector')), module


@pytest.mark.xdist_group('stage2_setup')  # one worker builds the fixture
def test_uint8_images_are_normalised_inside_the_step(stage2_setup):
  # The tf.data pipeline sends uint8 crops; the step must see the [-1, 1] floats that
  # (x/255 - 0.5)/0.5 gives: the same loss and batch statistics. (Parameters are not
  # compared: Adam's first step moves the biases before a BatchNorm, whose gradients
  # are float noise, by ±lr whatever the rounding.)
  config, model, mesh, variables = stage2_setup
  config = config_lib.prepare_config(tiny(ablation='source_only'))
  data = tiny_data(n=8)
  step = train.jit_step(train.make_source_only_step(model, config, 8, data.au_weights),
                        mesh)
  rng = np.random.default_rng(0)
  raw = {role: dict(b, image=rng.integers(0, 256, b['image'].shape).astype(np.uint8))
         for role, b in (('source', next(data.source_batches(8))),
                         ('target', next(data.target_batches(8))))}
  floats = {role: dict(b, image=np.asarray(data_lib.normalise_images(jnp.asarray(b['image']))))
            for role, b in raw.items()}
  np.testing.assert_allclose(floats['source']['image'],
                             (raw['source']['image'] / 255.0 - 0.5) / 0.5, atol=1e-6)
  unscaled = {role: dict(b, image=b['image'].astype(np.float32)) for role, b in raw.items()}
  out = []
  for batch in (raw, floats, unscaled):
    state = jax.device_put(train.create_state(jax.tree.map(jnp.copy, variables), config,
                                              'source_only', 8),
                           jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
    out.append(jax.device_get(step(state, sharding.to_global(batch, mesh))))
  (s1, l1), (s2, l2), (_, l3) = out
  assert float(l1['loss']) == pytest.approx(float(l2['loss']), rel=1e-5)
  assert float(l3['loss']) != pytest.approx(float(l2['loss']), rel=1e-3)
  for a, b in zip(jax.tree.leaves(s1.batch_stats), jax.tree.leaves(s2.batch_stats)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_prefetch_to_mesh_keeps_order_and_places_batches():
  mesh = sharding.make_mesh()
  n = jax.device_count()
  host = [{'image': np.full((2 * n, 4, 4, 3), i, np.uint8), 'valid': np.full(2 * n, i)}
          for i in range(5)]
  pulled = []

  def source():
    for b in host:
      pulled.append(1)
      yield b
  stream = sharding.prefetch_to_mesh(source(), mesh, size=2)
  first = next(stream)
  assert len(pulled) == 3  # the first batch and two more on their way
  got = [first] + list(stream)
  assert len(got) == 5
  for i, b in enumerate(got):
    assert b['image'].sharding == sharding.batch_sharded(mesh)
    assert b['image'].dtype == jnp.uint8
    np.testing.assert_array_equal(b['image'], host[i]['image'])


@pytest.mark.xdist_group('stage2_setup')
@pytest.mark.parametrize('ablation, reported', [('', {'source_validation', 'target_validation'}),
                                                 ('C', {'target_validation'}),
                                                 ('A', set()), ('source_only', set())])
def test_landmark_error_only_for_trained_branches(stage2_setup, ablation, reported):
  config, model, mesh, variables = stage2_setup
  config = config_lib.prepare_config(tiny(ablation=ablation))
  data = tiny_data()
  data.eval_sets['source_validation'] = ('source', data.source)
  results = evaluate.evaluate(model, variables, data, config, mesh)
  assert {n for n, r in results.items() if r['mean_error'] is not None} == reported
  for r in results.values():
    assert (r['failure_rate'] is None) == (r['mean_error'] is None)
    table = evaluate.format_tables({'x': r}, 0)
    assert ('no trained branch' in table) == (r['mean_error'] is None)


class NaNAfter(fixtures.ArrayData):
  """Source images turn to NaN from global step `bad_from` on."""
  bad_from = 4

  def source_batches(self, global_batch_size, start_step=0):
    for i, batch in enumerate(super().source_batches(global_batch_size, start_step)):
      if start_step + i >= self.bad_from:
        batch = dict(batch, image=np.full_like(batch['image'], np.nan))
      yield batch


def test_nan_loss_stops_with_a_clear_message(tmp_path):
  config = tiny(**{'stage1.epochs': 0, 'stage2.epochs': 2,
                   'train.checkpoint_every_steps': 2})
  base = tiny_data()
  data = NaNAfter(base.source, base.target, base.au_weights, base.eval_sets)
  with pytest.raises(train.TrainingError, match=r'NaN/inf at step 5.*last good '
                     r'checkpoint is step 4'):
    train.train_and_evaluate(config, str(tmp_path), data)
  assert checkpointing.manager(str(tmp_path), 'stage2', config).latest_step() == 4


@pytest.mark.slow
def test_half_precision_follows_the_float32_loss_curve(tmp_path):
  # 50 stage-2 steps from the same initialisation and batches, in float32 and in
  # bfloat16 (float32 parameters and losses). Tolerance: bfloat16 keeps 8 bits of
  # mantissa (~0.4 % per rounding), so each of the first steps agrees within 2 %, and
  # the mean over the last 10 steps, after 50 Adam updates, within 10 %.
  curves = {}
  for half in (False, True):
    config = tiny(**{'stage1.epochs': 0, 'stage2.epochs': 7, 'train.max_steps': 50,
                     'half_precision': half})
    workdir = str(tmp_path / str(half))
    train.train_and_evaluate(config, workdir, tiny_data(n=16))
    rows = [json.loads(line) for line in open(os.path.join(workdir, 'metrics.jsonl'))]
    curves[half] = np.array([r['loss'] for r in rows if r.get('kind') == 'train'])
  full, half = curves[False], curves[True]
  assert len(full) == len(half) == 50
  np.testing.assert_allclose(half[:5], full[:5], rtol=0.02)
  np.testing.assert_allclose(half[-10:].mean(), full[-10:].mean(), rtol=0.10)
  assert full[-10:].mean() < 0.95 * full[:5].mean()  # both trained, not just agreed
