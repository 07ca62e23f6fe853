"""Each path's own E_au statistics (config.train.target_path_statistics='wild',
source_path_statistics='lab'; au_jax/target_statistics.py, docs/method.md §10)."""

import copy
import os

import jax
import numpy as np
import pytest

import _trained
from au_jax import config_lib
from au_jax import inference
from au_jax import target_statistics


def _same(a, b):
  return all(jax.tree.leaves(jax.tree.map(
      lambda x, y: bool(np.array_equal(np.asarray(x), np.asarray(y))), a, b)))


@pytest.fixture(scope='module')
def run():
  return _trained.trained()


@pytest.fixture(scope='module')
def wild_run(run):
  """The shared tiny run's data and config, trained with target_path_statistics='wild'."""
  from au_jax import train  # pylint: disable=g-import-not-at-top
  config = config_lib.load_config(_trained.TINY)
  config.data.data_dir, config.data.source, config.data.target = run.data_dir, 'lab', 'wild'
  config.stage1.epochs = 0
  config.stage2.epochs = 1
  config.stage2.constant_epochs, config.stage2.decay_epochs = 1, 0
  config.train.eval_batch_size = 4
  config.train.target_path_statistics = 'wild'
  config.train.source_path_statistics = 'lab'
  config.train.target_statistics_batches = 5
  workdir = os.path.join(run.root, 'work_wild')
  results = train.train_and_evaluate(copy.deepcopy(config), workdir)
  return workdir, results


def test_estimate_changes_only_the_target_slot_and_converges(run):
  predictor = inference.load(run.workdir)
  model, variables = predictor.model, predictor.variables
  assert target_statistics.KEY not in variables['batch_stats']
  size = run.config.data.crop_size
  batch = {'image': np.random.default_rng(0).uniform(-1, 1, (8, size, size, 3))
           .astype(np.float32)}
  wild = target_statistics.estimate(model, variables, iter([batch] * 150), 150)
  fewer = target_statistics.estimate(model, wild, iter([batch] * 100), 100)
  assert _same(wild['params'], variables['params'])
  assert _same({k: v for k, v in wild['batch_stats'].items() if k != target_statistics.KEY},
               variables['batch_stats'])
  own = wild['batch_stats'][target_statistics.KEY]
  assert not _same(own, variables['batch_stats']['au_detector'])
  # Converged: the starting statistics keep a weight of 0.9^100 ≈ 3e-5 after 100 batches.
  for x, y in zip(jax.tree.leaves(fewer['batch_stats'][target_statistics.KEY]),
                  jax.tree.leaves(own)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-3, atol=1e-5)
  with pytest.raises(ValueError, match='2 batches asked, 1 read'):
    target_statistics.estimate(model, variables, iter([batch]), 2)


def test_only_the_target_path_reads_the_slot(run):
  predictor = inference.load(run.workdir)
  model, variables = predictor.model, predictor.variables
  size = run.config.data.crop_size
  images = np.random.default_rng(1).uniform(-1, 1, (4, size, size, 3)).astype(np.float32)
  wild = target_statistics.estimate(model, variables, iter([{'image': images}] * 20), 20)
  crop = predictor.crop_size
  for path, changes in (('source', False), ('target', True)):
    before = inference.predict(model, variables, images, path, crop).au_probs
    after = inference.predict(model, wild, images, path, crop).au_probs
    assert np.allclose(before, after) != changes, path
  # The swap is exactly "E_au with the slot's statistics".
  swapped = {**variables, 'batch_stats': {**variables['batch_stats'],
                                          'au_detector': wild['batch_stats'][
                                              target_statistics.KEY]}}
  np.testing.assert_allclose(
      inference.predict(model, wild, images, 'target', crop).au_probs,
      inference.predict(model, swapped, images, 'target', crop).au_probs, rtol=1e-6)


@pytest.mark.slow  # a second tiny training run: about 1.5 minutes cold
def test_training_keeps_the_slot_in_checkpoints_and_evaluates_with_it(wild_run):
  workdir, results = wild_run
  predictor = inference.load(workdir)
  stats = predictor.variables['batch_stats']
  for key in (target_statistics.KEY, target_statistics.SOURCE_KEY):
    assert key in stats
    assert not _same(stats[key], stats['au_detector'])
  from au_jax import evaluate  # pylint: disable=g-import-not-at-top
  again, _, _ = evaluate.evaluate_checkpoint(predictor.config, workdir)
  for name, r in results.items():
    assert again[name]['f1_mean'] == pytest.approx(r['f1_mean'], abs=1e-6), name
  # Without the slot the target path gives other probabilities: the scores above used it.
  mixed = {**predictor.variables, 'batch_stats': {
      k: v for k, v in stats.items() if k not in target_statistics.KEYS.values()}}
  size = predictor.crop_size
  images = np.random.default_rng(2).uniform(-1, 1, (4, size, size, 3)).astype(np.float32)
  for path in ('target', 'source'):
    assert not np.allclose(predictor(images, path=path).au_probs,
                           inference.predict(predictor.model, mixed, images, path,
                                             size).au_probs), path


def test_the_source_slot_is_estimated_on_the_source_path_and_read_by_it_only(run):
  predictor = inference.load(run.workdir)
  model, variables = predictor.model, predictor.variables
  size = run.config.data.crop_size
  images = np.random.default_rng(3).uniform(-1, 1, (4, size, size, 3)).astype(np.float32)
  lab = target_statistics.estimate(model, variables, iter([{'image': images}] * 20), 20,
                                   path='source')
  assert set(lab['batch_stats']) - set(variables['batch_stats']) == {
      target_statistics.SOURCE_KEY}
  # The slot equals E_au's statistics after train-mode passes over E_f^s(I) alone.
  features = model.apply(variables, images, 'source', method='au_input')
  stats = variables['batch_stats']['au_detector']
  for _ in range(20):
    _, new = model.apply({**variables, 'batch_stats': {**variables['batch_stats'],
                                                       'au_detector': stats}},
                         features, True, method=lambda m, f, t: m.au_detector(f, t),
                         mutable=['batch_stats'])
    stats = new['batch_stats']['au_detector']
  for x, y in zip(jax.tree.leaves(lab['batch_stats'][target_statistics.SOURCE_KEY]),
                  jax.tree.leaves(stats)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-4, atol=1e-6)
  crop = predictor.crop_size
  for path, changes in (('source', True), ('target', False)):
    before = inference.predict(model, variables, images, path, crop).au_probs
    after = inference.predict(model, lab, images, path, crop).au_probs
    assert np.allclose(before, after) != changes, path


@pytest.mark.parametrize('fields, message', [
    ({'target_path_statistics': 'both'}, "is not 'mixed' or 'wild'"),
    ({'source_path_statistics': 'wild'}, "is not 'mixed' or 'lab'"),
    ({'target_statistics_batches': 0}, 'must be positive'),
])
def test_bad_values_are_config_errors(tiny_config, fields, message):
  config = copy.deepcopy(tiny_config)
  config.train.update(fields)
  with pytest.raises(config_lib.ConfigError, match=message):
    config_lib.validate(config)


def test_source_only_has_no_target_path_so_wild_is_a_no_op(tiny_config):
  config = copy.deepcopy(tiny_config)
  config.train.target_path_statistics = 'wild'
  assert target_statistics.has_target_statistics(config_lib.prepare_config(config))
  config.train.source_path_statistics = 'lab'
  assert target_statistics.own_paths(config_lib.prepare_config(config)) == ('target', 'source')
  config.ablation = 'source_only'
  assert not target_statistics.has_target_statistics(config_lib.prepare_config(config))
  assert target_statistics.own_paths(config_lib.prepare_config(config)) == ()
  # The AdaBN baseline keeps a target slot, estimated on the source path's features.
  config.ablation = 'source_only+AdaBN'
  prepared = config_lib.prepare_config(config)
  assert config_lib.is_source_only(prepared)
  assert target_statistics.own_paths(prepared) == ('target',)
  assert target_statistics.reads(prepared, 'target') == 'source'
  assert target_statistics.reads(prepared, 'source') == 'source'


def test_adabn_estimates_the_target_slot_on_the_source_path_and_reads_wild_images_with_it(
    run):
  predictor = inference.load(run.workdir)
  model, variables = predictor.model, predictor.variables
  size = run.config.data.crop_size
  images = np.random.default_rng(4).uniform(-1, 1, (4, size, size, 3)).astype(np.float32)
  batches = lambda: iter([{'image': images}] * 20)
  adabn = target_statistics.estimate(model, variables, batches(), 20, path='target',
                                     features_of='source')
  source = target_statistics.estimate(model, variables, batches(), 20, path='source')
  for x, y in zip(jax.tree.leaves(adabn['batch_stats'][target_statistics.KEY]),
                  jax.tree.leaves(source['batch_stats'][target_statistics.SOURCE_KEY])):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6)
  config = copy.deepcopy(run.config)
  config.ablation = 'source_only+AdaBN'
  crop = predictor.crop_size
  plain = inference.predict(model, adabn, images, 'source', crop).au_probs
  for domain, changes in (('source', False), ('target', True)):
    own = target_statistics.for_domain(adabn, config, domain)
    probs = inference.predict(model, own, images, 'source', crop).au_probs
    assert np.allclose(probs, plain) != changes, domain
  config.ablation = 'source_only'  # plain source-only: never swapped
  assert target_statistics.for_domain(adabn, config, 'target') is adabn


@pytest.mark.slow  # a tiny source-only training run: about a minute cold
def test_adabn_training_keeps_the_wild_slot_and_scores_wild_splits_with_it(run):
  from au_jax import evaluate, train  # pylint: disable=g-import-not-at-top
  config = config_lib.load_config(_trained.TINY)
  config.data.data_dir, config.data.source, config.data.target = run.data_dir, 'lab', 'wild'
  config.stage2.epochs = 1
  config.stage2.constant_epochs, config.stage2.decay_epochs = 1, 0
  config.train.eval_batch_size = 4
  config.train.target_statistics_batches = 5
  config.ablation = 'source_only+AdaBN'
  workdir = os.path.join(run.root, 'work_adabn')
  results = train.train_and_evaluate(copy.deepcopy(config), workdir)
  predictor = inference.load(workdir)
  stats = predictor.variables['batch_stats']
  assert target_statistics.KEY in stats and target_statistics.SOURCE_KEY not in stats
  assert not _same(stats[target_statistics.KEY], stats['au_detector'])
  again, _, _ = evaluate.evaluate_checkpoint(predictor.config, workdir)
  for name, r in results.items():
    assert r['path'] == 'source'
    assert again[name]['auc_mean'] == pytest.approx(r['auc_mean'], abs=1e-6), name
  # Without the wild slot, wild splits score otherwise and lab splits the same.
  plain = {**predictor.variables, 'batch_stats': {
      k: v for k, v in stats.items() if k != target_statistics.KEY}}
  from au_jax import sharding  # pylint: disable=g-import-not-at-top
  from au_jax.data import PreparedData  # pylint: disable=g-import-not-at-top
  unadapted = evaluate.evaluate(predictor.model, plain, PreparedData(predictor.config),
                                predictor.config, sharding.make_mesh())
  for name, r in results.items():
    same = np.allclose(unadapted[name]['auc'], r['auc'], equal_nan=True)
    assert same == (r['domain'] == 'source'), name
