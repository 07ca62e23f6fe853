"""`au-jax evaluate`: the paper tables of a checkpoint, checked against NumPy by hand."""

import csv
import json
import os

import numpy as np
import pytest

import _trained
from au_jax import inference
from au_jax.data import PreparedData


@pytest.fixture(scope='module')
def run():
  return _trained.trained()


def by_hand(predictor, config, name, domain):
  """F1, accuracy, labelled counts, NME and failure rate of one split, from the
  predictions, without au_jax.metrics."""
  probs, labels, mask, points, truth = [], [], [], [], []
  for batch in PreparedData(config).eval_batches(name, 4):
    valid = batch['valid'] > 0
    out = predictor(batch['image'], path=domain)
    probs.append(np.asarray(out.au_probs)[valid])
    points.append(np.asarray(out.landmarks)[valid])
    labels.append(batch['au'][valid])
    mask.append(batch['au_mask'][valid])
    truth.append(batch['landmarks'][valid])
  probs, labels, mask = map(np.concatenate, (probs, labels, mask))
  points = np.concatenate(points).astype(np.float64)
  truth = np.concatenate(truth).astype(np.float64)
  f1, accuracy, labelled = [], [], []
  for j in range(probs.shape[1]):
    keep = mask[:, j] > 0
    p, y = probs[keep, j] >= 0.5, labels[keep, j] == 1
    tp, fp, fn = np.sum(p & y), np.sum(p & ~y), np.sum(~p & y)
    f1.append(2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 0.0)
    accuracy.append(np.mean(p == y))
    labelled.append(int(keep.sum()))
  left, right = truth[:, 19:25].mean(1), truth[:, 25:31].mean(1)
  iod = np.linalg.norm(left - right, axis=-1)
  nme = np.linalg.norm(points - truth, axis=-1).mean(-1) / iod
  return {'f1': f1, 'accuracy': accuracy, 'labelled': labelled,
          'f1_mean': np.mean(f1), 'accuracy_mean': np.mean(accuracy),
          'mean_error': nme.mean(), 'failure_rate': np.mean(nme > 0.10),
          'examples': len(probs), 'probs': probs, 'labels': labels, 'mask': mask}


def ranking_by_hand(probs, labels, mask, thresholds):
  """ROC-AUC, average precision and F1 at per-AU thresholds, straight from scikit-learn."""
  from sklearn import metrics as skm  # pylint: disable=g-import-not-at-top
  auc, ap, tuned = [], [], []
  for j in range(probs.shape[1]):
    keep = mask[:, j] > 0
    y, p = labels[keep, j], probs[keep, j]
    two = len(set(y.tolist())) == 2
    auc.append(skm.roc_auc_score(y, p) if two else np.nan)
    ap.append(skm.average_precision_score(y, p) if two else np.nan)
    tuned.append(skm.f1_score(y, p >= thresholds[j], zero_division=0.0))
  return {'auc': auc, 'ap': ap, 'f1_tuned': tuned}


def test_evaluate_prints_and_writes_the_numbers_numpy_gives(run, monkeypatch, capsys,
                                                            tmp_path):
  code = _trained.cli(monkeypatch, 'evaluate', '--config', _trained.TINY, '--workdir',
                      run.workdir, '--output-dir', tmp_path, *run.overrides)
  assert code == 0
  printed = capsys.readouterr().out
  with open(tmp_path / 'step_6.json', encoding='utf-8') as f:
    saved = json.load(f)
  with open(tmp_path / 'step_6.csv', newline='', encoding='utf-8') as f:
    rows = {r['split']: r for r in csv.DictReader(f)}
  assert saved['step'] == 6
  results = saved['results']
  assert list(results) == ['source_fold0', 'target_validation', 'target_test']
  predictor = inference.load(run.workdir)
  masked = 0
  saved_probs = np.load(tmp_path / 'step_6_predictions.npz')
  wanted = {name: by_hand(predictor, run.config, name, r['domain'])
            for name, r in results.items()}
  val = wanted['target_validation']
  thresholds = []  # the F1-best threshold per AU on validation, by brute force
  for j in range(val['probs'].shape[1]):
    keep = val['mask'][:, j] > 0
    y, p = val['labels'][keep, j] == 1, val['probs'][keep, j]
    f1s = [(2 * np.sum((p >= t) & y) / max(np.sum(p >= t) + np.sum(y), 1), -t)
           for t in np.unique(p)]
    thresholds.append(-max(f1s)[1] if y.any() else 0.5)
  for name, r in results.items():
    want = wanted[name]
    np.testing.assert_allclose(saved_probs[f'{name}/probs'], want['probs'], rtol=1e-6)
    np.testing.assert_array_equal(saved_probs[f'{name}/labels'], want['labels'])
    ranked = ranking_by_hand(want['probs'], want['labels'], want['mask'], thresholds)
    assert r['threshold_split'] == 'target_validation'
    for key in ('auc', 'ap', 'f1_tuned'):
      got = [np.nan if v is None else v for v in r[key]]  # the JSON writes NaN as null
      np.testing.assert_allclose(got, ranked[key], rtol=1e-9, err_msg=f'{name} {key}')
      assert r[key + '_mean'] == pytest.approx(np.nanmean(ranked[key]))
      assert float(rows[name][f'{key}_mean']) == pytest.approx(r[key + '_mean'])
    assert r['path'] == r['domain']  # the full method: target data, target path
    for key in ('f1', 'accuracy', 'f1_mean', 'accuracy_mean', 'mean_error',
                'failure_rate'):
      np.testing.assert_allclose(r[key], want[key], rtol=1e-9, err_msg=f'{name} {key}')
    assert r['labelled'] == want['labelled']
    masked += sum(want['examples'] - n for n in r['labelled'])
    row = rows[name]
    for a, f1, acc in zip(r['au_ids'], r['f1'], r['accuracy']):
      assert float(row[f'f1_AU{a}']) == pytest.approx(f1)
      assert float(row[f'accuracy_AU{a}']) == pytest.approx(acc)
    assert float(row['landmark_failure_rate']) == pytest.approx(r['failure_rate'])
    # The table shows the F1 row of this split in per cent.
    f1_row = '  '.join(f'{100 * v:5.1f}' for v in r['f1'])
    assert f1_row in printed
  assert masked > 0  # some labels really were missing, and left out
  assert 'source-domain test data' in printed and 'target-domain test data' in printed
  assert 'landmarks (Table 6)' in printed
  assert 'ROC-AUC' in printed and 'AP' in printed and 'F1 tuned' in printed


def test_split_selection_and_user_errors(run, monkeypatch, capsys, tmp_path):
  base = ['evaluate', '--config', _trained.TINY, '--workdir', run.workdir,
          '--output-dir', tmp_path, *run.overrides]
  assert _trained.cli(monkeypatch, *base, '--split', 'test') == 0
  with open(tmp_path / 'step_6.json', encoding='utf-8') as f:
    assert list(json.load(f)['results']) == ['target_test']
  capsys.readouterr()
  for extra, message in ((['--split', 'fold9'], 'is not an evaluation split'),
                         (['--step', '3'], 'step 3 is not in'),
                         (['--config.data.crop_size=28'], 'crop_size=28')):
    assert _trained.cli(monkeypatch, *base, *extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('au-jax evaluate: error:') and message in err
    assert '\n' not in err


def test_tables_and_csv_without_landmark_scores():
  from au_jax import evaluate  # pylint: disable=g-import-not-at-top
  r = {'domain': 'target', 'path': 'target', 'au_ids': [1, 2], 'f1': [0.5, 0.25],
       'accuracy': [0.75, 0.5], 'f1_mean': 0.375, 'accuracy_mean': 0.625,
       'labelled': [4, 4], 'mean_error': None, 'failure_rate': None}
  text = evaluate.format_tables({'target_test': r}, 7)
  assert 'n/a (no trained branch)' in text and '37.5' in text
  rows = evaluate.csv_rows({'target_test': r}, 7)
  assert rows[1][-2:] == ['', '']


def test_output_is_quiet(run, tmp_path):
  # The console command in a fresh process: TensorFlow and XLA print their info lines
  # at import unless au-jax quiets them first.
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  env = {k: v for k, v in os.environ.items()
         if k not in ('TF_CPP_MIN_LOG_LEVEL', 'TF_ENABLE_ONEDNN_OPTS')}
  argv = [sys.executable, '-m', 'au_jax.cli', 'evaluate', '--config', _trained.TINY,
          '--workdir', run.workdir, '--output-dir', str(tmp_path), *run.overrides]
  done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
  assert done.returncode == 0, done.stderr[-2000:]
  assert 'checkpoint step' in done.stdout
  noise = [line for line in (done.stdout + done.stderr).splitlines()
           if 'oneDNN' in line or line.startswith(('I0000', 'W0000'))
           or 'absl::InitializeLog' in line]
  assert not noise, noise


@pytest.mark.parametrize('verbose', [False, True])
def test_verbose_leaves_the_libraries_log_levels_alone(monkeypatch, tmp_path, verbose):
  # Whether the libraries print anything depends on their versions and import order, so
  # this checks what au-jax sets: the log-level variables they read at import.
  import logging  # pylint: disable=g-import-not-at-top
  from au_jax import cli  # pylint: disable=g-import-not-at-top
  for name in ('TF_CPP_MIN_LOG_LEVEL', 'TF_ENABLE_ONEDNN_OPTS'):
    monkeypatch.delenv(name, raising=False)
  monkeypatch.setattr(logging.getLogger('absl'), 'level', logging.NOTSET)
  code = cli.main([*(['--verbose'] if verbose else []), 'evaluate', '--config',
                   _trained.TINY, '--workdir', str(tmp_path / 'missing')])
  assert code == 2
  assert ('TF_CPP_MIN_LOG_LEVEL' in os.environ) != verbose
  assert (logging.getLogger('absl').level == logging.ERROR) != verbose
