"""Diagnostics of `au-jax evaluate --diagnostics` and the oracle row (docs/method.md §10)."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

import _trained
from au_jax import diagnostics
from au_jax import losses
from au_jax import oracle


@pytest.fixture(scope='module')
def run():
  return _trained.trained()


def test_best_threshold_and_f1_at_it():
  probs = np.array([[0.1], [0.2], [0.3], [0.35], [0.9]])
  labels = np.array([[0], [0], [1], [1], [1]])
  mask = np.ones_like(labels)
  t = diagnostics.best_thresholds(probs, labels, mask)
  assert t[0] == pytest.approx(0.3)  # everything from 0.3 up is positive: F1 = 1
  assert diagnostics.f1_at(probs, labels, mask, t)[0] == pytest.approx(1.0)
  # At 0.5 only one of the three positives is found: F1 = 2·1 / (2·1 + 0 + 2) = 0.5.
  assert diagnostics.f1_at(probs, labels, mask, [0.5])[0] == pytest.approx(0.5)


def test_roc_auc_by_hand_and_masked_frames():
  probs = np.array([[0.1, 0.5], [0.4, 0.5], [0.35, 0.5], [0.8, 0.5]])
  labels = np.array([[0, 1], [0, 1], [1, 1], [1, 9]])
  mask = np.array([[1, 1], [1, 1], [1, 1], [1, 0]])
  auc = diagnostics.roc_auc(probs, labels, mask)
  # positives 0.35, 0.8 against negatives 0.1, 0.4: 3 of 4 pairs ordered right.
  assert auc[0] == pytest.approx(0.75)
  assert np.isnan(auc[1])  # only positives are labelled


def test_landmark_cell_accuracy_counts_cells_within_one():
  rng = np.random.default_rng(0)
  points = rng.uniform(8, 56, (3, 49, 2)).astype(np.float32)
  target = np.asarray(losses.heatmap_target_indices(jnp.asarray(points), 64, 16))
  assert diagnostics.landmark_cell_accuracy(target, points, 64) == 1.0
  rows, cols = np.divmod(target, 16)
  one_off = np.clip(rows + 1, 0, 15) * 16 + cols
  assert diagnostics.landmark_cell_accuracy(one_off, points, 64) == 1.0
  far = ((rows + 8) % 16) * 16 + cols
  assert diagnostics.landmark_cell_accuracy(far, points, 64) == 0.0


def test_linear_probe_reads_a_linear_signal_and_not_noise():
  rng = np.random.default_rng(0)

  def split(n):
    x = rng.normal(size=(n, 20))
    y = np.stack([x[:, 0] > 0.5, x[:, 1] + x[:, 2] > 0], 1).astype(int)
    return {'signal': x, 'noise': rng.normal(size=(n, 20)), 'au': y,
            'au_mask': np.ones_like(y)}

  train, test = split(400), split(200)
  good = diagnostics.linear_probe(train, {'test': test}, 'signal')['test']
  bad = diagnostics.linear_probe(train, {'test': test}, 'noise')['test']
  assert np.all(good > 0.85)
  assert np.all(bad < 0.7)


def test_evaluate_diagnostics_agree_with_the_tables(run, monkeypatch, capsys, tmp_path):
  code = _trained.cli(monkeypatch, 'evaluate', '--config', _trained.TINY, '--workdir',
                      run.workdir, '--output-dir', tmp_path, '--diagnostics',
                      *run.overrides)
  assert code == 0
  printed = capsys.readouterr().out
  assert 'inference paths' in printed and 'linear AU probes' in printed
  tables = json.load(open(next(tmp_path.glob('step_*[0-9].json')), encoding='utf-8'))
  report = json.load(open(next(tmp_path.glob('step_*_diagnostics.json')),
                          encoding='utf-8'))
  assert report['threshold_split'] == 'target_validation'
  for name, r in tables['results'].items():
    paths = report['splits'][name]['paths']
    assert set(paths) == set(diagnostics.PATHS)
    # F1 at 0.5 through the split's own path is the number the tables print.
    assert paths[r['path']]['f1_mean'] == pytest.approx(r['f1_mean'])
    for entry in paths.values():
      assert all(0 <= a <= 1 for a in entry['auc'] if a is not None and a == a)
      assert len(entry['thresholds']) == len(r['au_ids'])
    assert 0 <= report['splits'][name]['landmark_cell_accuracy'] <= 1
  for feature in diagnostics.PROBES:
    assert set(report['probes'][feature]) == set(tables['results']) - {'target_validation'}


def test_ideal_landmark_map_counts_every_landmark():
  rng = np.random.default_rng(1)
  points = jnp.asarray(rng.uniform(0, 63, (2, 49, 2)), jnp.float32)
  maps = oracle.ideal_landmark_map(points, 64)
  assert maps.shape == (2, 16, 16, 1)
  np.testing.assert_allclose(np.asarray(maps).sum(axis=(1, 2, 3)), 49)
  idx = np.asarray(losses.heatmap_target_indices(points, 64, 16))
  flat = np.asarray(maps).reshape(2, -1)
  for b in range(2):
    assert set(np.flatnonzero(flat[b])) == set(idx[b])


def test_oracle_trains_and_scores_every_split(run):
  from au_jax.data import PreparedData  # pylint: disable=g-import-not-at-top
  lines = []
  results = oracle.train_oracle(run.config, PreparedData(run.config), log=lines.append)
  assert len(lines) == run.config.stage2.epochs
  assert set(results) == set(run.results)
  for r in results.values():
    assert r['path'] == 'oracle' and 0 <= r['f1_mean'] <= 1
