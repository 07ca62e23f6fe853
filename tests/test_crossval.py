"""`au-jax crossval`: every subject fold of a config, resumable, averaged over folds."""

import csv
import json
import os

import numpy as np
import pytest

import _trained
from au_jax import config_lib
from au_jax import crossval
from data_pipelines import fakes
from au_jax import metadata as meta
from data_pipelines import prepare
from au_jax.errors import DataError


def tiny_overrides(data_dir, source, *extra):
  return [f'--config.data.data_dir={data_dir}', f'--config.data.source={source}',
          '--config.data.target=wild', '--config.stage1.epochs=0',
          '--config.stage2.epochs=1', '--config.stage2.constant_epochs=1',
          '--config.stage2.decay_epochs=0', '--config.train.eval_batch_size=4', *extra]


def prepare_wild(root, data_dir):
  wild = fakes.write_manifest(os.path.join(root, 'wild'), n=12, seed=1, domain='wild',
                              splits=['train'] * 4 + ['validation'] * 4 + ['test'] * 4)
  prepare.prepare('manifest', [wild], data_dir, 'wild', aligned_size=36, progress=False)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
  """Fake BP4D (three subjects, one in each JAA-Net fold) and a wild target."""
  root = str(tmp_path_factory.mktemp('crossval'))
  data_dir = os.path.join(root, 'data')
  bp4d = fakes.write_bp4d(os.path.join(root, 'bp4d'), frames=4, tasks=('T1', 'T2'))
  prepare.prepare('bp4d', [bp4d], data_dir, 'bp4d', aligned_size=36, progress=False)
  prepare_wild(root, data_dir)
  return data_dir


def test_crossval_on_fake_bp4d_trains_every_fold_then_skips_them(data, tmp_path, capsys,
                                                                 monkeypatch):
  # The source-only baseline keeps this quick; the full method is the slow test below.
  workdir = str(tmp_path / 'cv')
  argv = ['crossval', '--config', _trained.TINY, '--workdir', workdir,
          *tiny_overrides(data, 'bp4d', '--config.ablation=source_only')]
  assert _trained.cli(monkeypatch, *argv) == 0
  out = capsys.readouterr().out
  summary = json.load(open(os.path.join(workdir, 'crossval.json')))
  assert summary['folds'] == 3 and list(summary['splits']) == ['source', 'target_test']
  folds = [json.load(open(os.path.join(workdir, f'fold{k}', 'results.json')))
           for k in range(3)]
  for k, fold in enumerate(folds):
    assert set(fold['results']) == {f'source_fold{k}', 'target_validation', 'target_test'}
    config = json.load(open(os.path.join(workdir, f'fold{k}', 'config.json')))
    assert config['data']['source_eval_splits'] == [f'fold{k}']
    assert sorted(config['data']['source_train_split'].split('+')) == [
        f'fold{j}' for j in range(3) if j != k]
    prov = json.load(open(os.path.join(workdir, f'fold{k}', 'provenance.json')))
    assert f'data.source_eval_splits=(\'fold{k}\',)' in prov['overrides']
    assert os.path.isfile(os.path.join(workdir, f'fold{k}', 'curves.png'))
  source = np.array([f['results'][f'source_fold{k}']['f1'] for k, f in enumerate(folds)])
  np.testing.assert_allclose(summary['splits']['source']['mean']['f1'], source.mean(0))
  np.testing.assert_allclose(summary['splits']['source']['std']['f1'], source.std(0))
  wild = [f['results']['target_test']['f1_mean'] for f in folds]
  np.testing.assert_allclose(summary['splits']['target_test']['mean']['f1_mean'],
                             np.mean(wild))
  assert f'{100 * np.mean(wild):.1f} ± {100 * np.std(wild):.1f}' in out
  table = list(csv.reader(open(os.path.join(workdir, 'crossval.csv'))))
  assert table[0] == ['split', 'data_set', 'metric', 'fold', 'AU1', 'AU2', 'AU4', 'average']
  mean_row = next(r for r in table if r[:4] == ['target_test', 'wild', 'f1', 'mean'])
  assert float(mean_row[-1]) == pytest.approx(100 * np.mean(wild), abs=1e-3)
  assert '| **mean ± std** |' in open(os.path.join(workdir, 'crossval.md')).read()

  # Rerun: every fold is finished and skipped, nothing retrains.
  stamps = [os.path.getmtime(os.path.join(workdir, f'fold{k}', 'results.json'))
            for k in range(3)]
  assert _trained.cli(monkeypatch, *argv) == 0
  assert capsys.readouterr().out.count('skipped') == 3
  assert stamps == [os.path.getmtime(os.path.join(workdir, f'fold{k}', 'results.json'))
                    for k in range(3)]


class FakeTrainer:
  """Stands in for train_and_evaluate: writes a fold's config.json and results.json, with
  F1 = fold number / 10 + AU index / 100; raises at fold `fail_at`."""

  def __init__(self, fail_at=None):
    self.fail_at, self.calls = fail_at, []

  def __call__(self, config, workdir):
    fold = int(workdir[-1])
    self.calls.append((fold, config.data.source_train_split,
                       tuple(config.data.source_eval_splits)))
    if fold == self.fail_at:
      raise KeyboardInterrupt
    os.makedirs(workdir, exist_ok=True)
    config_lib.save_config(config_lib.prepare_config(config), workdir)
    def scores(domain, path, nan=False):
      f1 = [fold / 10 + a / 100 for a in range(3)]
      if nan:
        f1[2] = float('nan')  # no labelled frame of that AU in this fold
      return {'domain': domain, 'path': path, 'au_ids': [1, 2, 4], 'f1': f1,
              'accuracy': [0.5, 0.5, 0.5], 'f1_mean': float(np.nanmean(f1)),
              'accuracy_mean': 0.5, 'labelled': [4, 4, 0 if nan else 4]}
    results = {f'source_fold{fold}': scores('source', 'source', nan=fold == 2),
               'target_validation': scores('target', 'target'),
               'target_test': scores('target', 'target')}
    with open(os.path.join(workdir, 'results.json'), 'w') as f:
      json.dump({'step': 7, 'results': results}, f)


def test_crossval_resumes_an_interrupted_run(data, tmp_path):
  config = config_lib.from_command_line(_trained.TINY, tiny_overrides(data, 'bp4d'))
  workdir = str(tmp_path / 'cv')
  with pytest.raises(KeyboardInterrupt):
    crossval.run(config, workdir, train_fn=FakeTrainer(fail_at=1), log=lambda _: None)
  assert crossval.finished(os.path.join(workdir, 'fold0'))
  assert not os.path.exists(os.path.join(workdir, 'crossval.json'))
  trainer = FakeTrainer()
  summary = crossval.run(config, workdir, train_fn=trainer, log=lambda _: None)
  assert trainer.calls == [(1, 'fold0+fold2', ('fold1',)), (2, 'fold0+fold1', ('fold2',))]
  source = summary['splits']['source']
  np.testing.assert_allclose(source['mean']['f1'][:2], [0.1, 0.11])
  np.testing.assert_allclose(source['std']['f1'][:2], [np.std([0, .1, .2])] * 2)
  # AU4 has no label in fold 2: its mean is over the two folds that label it.
  assert source['mean']['f1'][2] == pytest.approx(np.mean([0.02, 0.12]))
  assert source['per_fold'][2]['f1'][2] is None
  assert source['mean']['f1_mean'] == pytest.approx(np.mean([0.01, 0.11, 0.205]))
  assert '| fold2 | 20.0 | 21.0 | – | 20.5 |' in crossval.markdown(summary)
  # The same folds again with another config: the finished folds do not match it.
  changed = config_lib.from_command_line(
      _trained.TINY, tiny_overrides(data, 'bp4d', '--config.stage2.epochs=2'))
  with pytest.raises(config_lib.ConfigError, match=r'stage2\.epochs: 1 → 2'):
    crossval.run(changed, workdir, train_fn=FakeTrainer(), log=lambda _: None)


def test_one_fold_at_a_time_writes_the_tables_with_the_last(data, tmp_path):
  config = config_lib.from_command_line(_trained.TINY, tiny_overrides(data, 'bp4d'))
  workdir = str(tmp_path / 'cv')
  messages = []
  for fold in (2, 0):
    assert crossval.run(config, workdir, folds=[fold], train_fn=FakeTrainer(),
                        log=messages.append) is None
  assert 'folds 1 not finished' in messages[-1]
  assert crossval.run(config, workdir, folds=[1], train_fn=FakeTrainer(),
                      log=messages.append)['folds'] == 3
  with pytest.raises(config_lib.ConfigError, match='--fold 3'):
    crossval.run(config, workdir, folds=[3], train_fn=FakeTrainer())


def test_a_source_without_subject_folds_is_a_one_line_error(tmp_path, capsys,
                                                            monkeypatch):
  data_dir = str(tmp_path / 'data')
  lab = fakes.write_manifest(str(tmp_path / 'lab'), n=6, splits=['train', 'test'])
  prepare.prepare('manifest', [lab], data_dir, 'lab', aligned_size=36, progress=False)
  code = _trained.cli(monkeypatch, 'crossval', '--config', _trained.TINY, '--workdir',
                      str(tmp_path / 'cv'), *tiny_overrides(data_dir, 'lab'))
  err = capsys.readouterr().err
  assert code == 2 and err.count('\n') == 1
  assert 'no subject folds' in err and '--subject-folds' in err


def test_prepare_subject_folds_ignores_a_split_column(tmp_path, capsys):
  lab = fakes.write_manifest(str(tmp_path / 'lab'), n=12,
                             subjects=('s1', 's2', 's3', 's4', 's5', 's6'),
                             splits=['train', 'train', 'test'])
  data_dir = str(tmp_path / 'data')
  assert prepare.main(['--quiet', '--format', 'manifest', '--input', lab, '--output',
                       data_dir, '--name', 'lab', '--aligned-size', '36',
                       '--subject-folds']) == 0
  info = meta.load_metadata(data_dir, 'lab')
  assert sorted(info.splits) == ['fold0', 'fold1', 'fold2']
  assert sum(info.splits.values()) == 12
  subjects = info.raw['folds_subjects']
  assert sorted(s for fold in subjects.values() for s in fold) == [
      's1', 's2', 's3', 's4', 's5', 's6']  # each subject in exactly one fold
  assert info.raw['folds']['fold0']['train_split'] == 'fold1+fold2'
  with pytest.raises(DataError, match='subject'):
    prepare.prepare('emotionet', [fakes.write_emotionet(str(tmp_path / 'e'))], data_dir,
                    'e', subject_folds=True, progress=False)


@pytest.mark.slow  # the full method, three folds on each of two layouts: two to three minutes
def test_crossval_full_method_on_fake_bp4d_and_disfa(data, tmp_path, capsys, monkeypatch):
  disfa = str(tmp_path / 'disfa')
  fakes.write_disfa(disfa, subjects=('SN001', 'SN013', 'SN003'), frames=6)  # a fold each
  prepare.prepare('disfa', [disfa], data, 'disfa', aus=[4, 6, 12], aligned_size=36,
                  progress=False)
  for source, aus in (('bp4d', '(1,2,4)'), ('disfa', '(4,6,12)')):
    workdir = str(tmp_path / source)
    argv = ['crossval', '--config', _trained.TINY, '--workdir', workdir,
            *tiny_overrides(data, source, f'--config.data.au_ids={aus}')]
    # One fold first (as one machine of several would), then the others.
    assert _trained.cli(monkeypatch, *argv, '--fold', '1') == 0
    assert not os.path.exists(os.path.join(workdir, 'crossval.json'))
    assert _trained.cli(monkeypatch, *argv) == 0
    out = capsys.readouterr().out
    assert 'fold1 (2 of 3): finished' in out and out.count('skipped') == 1
    summary = json.load(open(os.path.join(workdir, 'crossval.json')))
    assert summary['au_ids'] == [int(a) for a in aus.strip('()').split(',')]
    assert summary['splits']['target_test']['path'] == 'target'
    for k in range(3):
      assert os.path.isfile(os.path.join(workdir, f'fold{k}', 'curves.png'))
