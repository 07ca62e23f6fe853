"""`au-jax compare`: runs side by side (Table 7 layout), named, grouped and told apart."""

import csv
import importlib.util
import io
import json
import os
import shutil
import contextlib

import numpy as np
import pytest

import _trained
from au_jax import compare
from au_jax import config_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def scores(domain, path, f1):
  return {'domain': domain, 'path': path, 'au_ids': [1, 2, 4], 'f1': list(f1),
          'accuracy': [0.5] * 3, 'f1_mean': float(np.mean(f1)), 'accuracy_mean': 0.5,
          'labelled': [4] * 3, 'mean_error': None, 'failure_rate': None}


def make_run(root, name, wild, lab=(0.5, 0.5, 0.5), ablation='G', seed=0, overrides=None,
             commit='a' * 40, dirty=False, changes=(), source_split='source_test',
             config_file='configs/tiny.py'):
  """A finished workdir: config.json, results.json and (with `overrides`, a list)
  provenance.json, without training."""
  workdir = os.path.join(str(root), name)
  os.makedirs(workdir)
  config = config_lib.load_config(_trained.TINY)
  config.ablation, config.seed = ablation, seed
  for field, value in changes:
    *parents, leaf = field.split('.')
    node = config
    for p in parents:
      node = node[p]
    node[leaf] = value
  config_lib.save_config(config_lib.prepare_config(config), workdir)
  path = 'source' if ablation == 'source_only' else 'target'
  results = {source_split: scores('source', 'source', lab),
             'target_validation': scores('target', path, wild),
             'target_test': scores('target', path, wild)}
  with open(os.path.join(workdir, 'results.json'), 'w') as f:
    json.dump({'step': 5, 'results': results}, f)
  if overrides is not None:
    session = {'git': {'commit': commit, 'dirty': dirty}, 'versions': {'jax': '0.9'},
               'devices': {'kind': 'cpu', 'count': 1, 'processes': 1}}
    with open(os.path.join(workdir, 'provenance.json'), 'w') as f:
      json.dump({'seed': seed, 'ablation': ablation, 'command': 'au-jax train',
                 'config_file': config_file, 'overrides': overrides,
                 'sessions': [session]}, f)
  return workdir


def test_rows_are_named_by_ablation_and_overrides_and_group_seeds(tmp_path):
  a = make_run(tmp_path, 'a0', [0.2, 0.4, 0.6], seed=0, overrides=['seed=0'])
  b = make_run(tmp_path, 'a1', [0.4, 0.6, 0.8], seed=1, overrides=['seed=1'])
  c = make_run(tmp_path, 'sr', [0.1, 0.1, 0.1], overrides=['loss.sr=40.0'],
               changes=[('loss.sr', 40.0)], commit='b' * 40, dirty=True)
  d = make_run(tmp_path, 'adld', [0.3, 0.3, 0.3], ablation='A', overrides=['ablation=A'])
  runs = compare.load_runs([a, b, c, d])
  assert [r.name for r in runs] == ['G', 'G', 'G [loss.sr=40.0]', 'A']
  rows = compare.group(runs)
  assert [(r.name, len(r.runs)) for r in rows] == [('G', 2), ('G [loss.sr=40.0]', 1),
                                                   ('A', 1)]
  table = compare.markdown(rows, compare.table7_columns(runs))
  lines = table.splitlines()
  assert lines[0] == ('| row | seeds | AU1 | AU2 | AU4 | wild test Avg. | source test F1 |')
  wild = np.array([[20, 40, 60], [40, 60, 80]])
  cells = [f'{m:.1f} ± {s:.1f}' for m, s in zip(wild.mean(0), wild.std(0))]
  avg = wild.mean(1)
  assert lines[2] == (f'| G | 2 | {" | ".join(cells)} | {avg.mean():.1f} ± '
                      f'{avg.std():.1f} | 50.0 ± 0.0 |')
  assert lines[3] == '| G [loss.sr=40.0] | 1 | 10.0 | 10.0 | 10.0 | 10.0 | 50.0 |'
  differ, same = compare.differences(runs)
  differ = dict(differ)
  assert differ['loss.sr'] == ['100.0', '100.0', '40.0', '100.0']
  assert differ['seed'] == ['0', '1', '0', '0']
  assert differ['commit'] == ['aaaaaaaaaa'] * 2 + ['bbbbbbbbbb (dirty)', 'aaaaaaaaaa']
  assert differ['loss.au_loss'] == ['asymmetric'] * 3 + ['bce']  # what the ablation sets
  assert same['jax'] == '0.9' and same['devices'] == '1 × cpu'
  # Runs from several config files are named after them too.
  e = make_run(tmp_path, 'disfa', [0.3] * 3, overrides=[],
               config_file='configs/disfa_emotionet.py', changes=[('data.source', 'disfa')])
  assert [r.name for r in compare.load_runs([a, e])] == ['tiny G', 'disfa_emotionet G']
  # configs/table7.py:ROW is one file; the row is the ablation.
  rows7 = [make_run(tmp_path, f't7_{row}', [0.3] * 3, ablation=row, overrides=[],
                    config_file=f'configs/table7.py:{row}') for row in ('A', 'G')]
  assert [r.name for r in compare.load_runs(rows7)] == ['A', 'G']


def test_runs_without_provenance_are_named_by_how_they_differ(tmp_path):
  paths = [make_run(tmp_path, 'g', [0.5] * 3),
           make_run(tmp_path, 'g_seed1', [0.5] * 3, seed=1),
           make_run(tmp_path, 'g_long', [0.5] * 3, changes=[('stage2.epochs', 24)]),
           make_run(tmp_path, 'a', [0.5] * 3, ablation='A'),
           make_run(tmp_path, 'a_long', [0.5] * 3, ablation='A',
                    changes=[('stage2.epochs', 24)])]
  runs = compare.load_runs(paths)
  # stage2.epochs names the runs that left the usual value; the switches of row A
  # (au_loss, projectors, ...) are the ablation's and are not repeated.
  assert [r.name for r in runs] == ['G', 'G', 'G [stage2.epochs=24]', 'A',
                                    'A [stage2.epochs=24]']
  assert compare.differences_markdown(runs).splitlines()[-1].startswith(
      'In every run: provenance not recorded')


def test_a_crossval_workdir_is_one_row_over_its_folds(tmp_path):
  cv = tmp_path / 'cv'
  cv.mkdir()
  folds = []
  for k in range(3):
    fields = [('data.source_train_split', '+'.join(f'fold{j}' for j in range(3) if j != k)),
              ('data.source_eval_splits', (f'fold{k}',))]
    folds.append(make_run(cv, f'fold{k}', [0.1 * (k + 1)] * 3, lab=[0.2 * k] * 3,
                          changes=fields, source_split=f'source_fold{k}',
                          overrides=[f'{f}={v}' for f, v in fields]))
  other = make_run(tmp_path, 'single', [0.9] * 3, overrides=['loss.sr=10.0'],
                   changes=[('loss.sr', 10.0)])
  runs = compare.load_runs([str(cv), other])
  rows = compare.group(runs)
  assert [(r.name, len(r.runs), r.unit) for r in rows] == [
      ('G', 3, 'fold'), ('G [loss.sr=10.0]', 1, 'seed')]
  columns = compare.table7_columns(runs)
  assert columns[0].title == 'runs'
  by_title = {c.title: c for c in columns}
  assert compare.cell(rows[0], by_title['wild test Avg.']) == (
      f'{np.mean([10, 20, 30]):.1f} ± {np.std([10, 20, 30]):.1f}')
  # Each fold's own test fold is its source test split.
  assert compare.cell(rows[0], by_title['source test F1']) == (
      f'{np.mean([0, 20, 40]):.1f} ± {np.std([0, 20, 40]):.1f}')


def test_compare_command_writes_markdown_csv_and_png(tmp_path, capsys, monkeypatch):
  a = make_run(tmp_path, 'a', [0.2, 0.4, 0.6], overrides=[])
  b = make_run(tmp_path, 'b', [0.6, 0.6, 0.6], overrides=['loss.sr=40.0'],
               changes=[('loss.sr', 40.0)])
  # Diagnostics kept by an earlier `au-jax evaluate --diagnostics` of step 5.
  os.makedirs(os.path.join(a, 'evaluate'))
  report = {'splits': {'target_test': {'paths': {'target': {
      'f1_mean': 0.4, 'f1_tuned_mean': 0.55, 'auc_mean': 0.8}}}}}
  with open(os.path.join(a, 'evaluate', 'step_5_diagnostics.json'), 'w') as f:
    json.dump(report, f)
  monkeypatch.setattr(compare, 'add_diagnostics', lambda runs, data_dir=None: None)
  prefix = str(tmp_path / 'out' / 'table')
  assert _trained.cli(monkeypatch, 'compare', a, b, '--diagnostics', '--output',
                      prefix) == 0
  out = capsys.readouterr().out
  assert '| G | 1 | 20.0 | 40.0 | 60.0 | 40.0 | 50.0 | 55.0 | 80.0 | – |' in out
  assert '| G [loss.sr=40.0] | 1 | 60.0 | 60.0 | 60.0 | 60.0 | 50.0 | – | – | – |' in out
  assert '| loss.sr | 100.0 | 40.0 |' in out
  assert open(prefix + '.md').read() in out
  rows = list(csv.reader(open(prefix + '.csv')))
  assert rows[0][:4] == ['row', 'seeds', 'AU1', 'AU1 std']
  assert rows[1][0] == 'G' and float(rows[1][rows[0].index('ROC-AUC')]) == 80.0
  assert float(rows[2][rows[0].index('wild test Avg.')]) == pytest.approx(60.0)
  with open(prefix + '.png', 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_compare_errors_are_one_line(tmp_path, capsys, monkeypatch):
  assert _trained.cli(monkeypatch, 'compare', str(tmp_path / 'missing')) == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'no such folder' in err
  os.makedirs(tmp_path / 'running')
  assert _trained.cli(monkeypatch, 'compare', str(tmp_path / 'running')) == 2
  assert 'training has not finished' in capsys.readouterr().err


def _keep_predictions(workdir, probs, labels, masks, auc=None):
  """What `au-jax evaluate` keeps of step 5: the per-image file (and AUC in results)."""
  from au_jax import evaluate  # pylint: disable=g-import-not-at-top
  evaluate.write_predictions(
      os.path.join(workdir, 'evaluate', 'step_5_predictions.npz'),
      {'target_test': {'probs': probs, 'labels': labels, 'masks': masks}}, 5, [1, 2, 4])
  if auc is not None:
    path = os.path.join(workdir, 'results.json')
    saved = json.load(open(path))
    saved['results']['target_test']['auc_mean'] = auc
    json.dump(saved, open(path, 'w'))


def test_baseline_differences_have_image_and_seed_intervals(tmp_path, capsys, monkeypatch):
  from au_jax import metrics  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  labels = (rng.random((200, 3)) < 0.3).astype(np.int64)
  masks = np.ones((200, 3), np.float32)
  good = lambda s: np.clip(labels * 0.4 + 0.3 + np.random.default_rng(s).normal(0, 0.2, labels.shape), 0, 1)
  weak = lambda s: np.clip(labels * 0.1 + 0.45 + np.random.default_rng(s).normal(0, 0.2, labels.shape), 0, 1)
  runs, want = [], {}
  for seed in (0, 1, 2):
    g = make_run(tmp_path, f'g{seed}', [0.5] * 3, seed=seed, overrides=[])
    b = make_run(tmp_path, f'b{seed}', [0.4] * 3, ablation='source_only', seed=seed,
                 overrides=[])
    _keep_predictions(g, good(seed), labels, masks)
    _keep_predictions(b, weak(10 + seed), labels, masks)
    want[seed] = metrics.paired_bootstrap(good(seed), weak(10 + seed), labels, masks,
                                          'auc', 200)
    runs += [g, b]
  # A row whose runs kept no per-image probabilities: the recorded AUCs' difference only.
  old = make_run(tmp_path, 'old0', [0.5] * 3, ablation='A', seed=0, overrides=[])
  json_path = os.path.join(old, 'results.json')
  saved = json.load(open(json_path))
  saved['results']['target_test']['auc_mean'] = 0.9
  json.dump(saved, open(json_path, 'w'))
  rows = compare.group(compare.load_runs(runs + [old]))
  diffs = {d.row: d for d in compare.differences_to(rows, 'source_only', 'auc', 200)}
  g = diffs['G']
  assert [k for k, _, _ in g.per_seed] == [0, 1, 2]
  for seed, value, (low, high) in g.per_seed:
    assert value == pytest.approx(100 * want[seed][0])
    assert (low, high) == pytest.approx(tuple(100 * np.array(
        metrics.percentile_interval(want[seed][1]))))
    assert low < value < high and low > 0  # the weak model is clearly worse
  mean, low, high = metrics.t_interval([100 * want[s][0] for s in (0, 1, 2)])
  assert g.mean == pytest.approx(mean) and g.interval == pytest.approx((low, high))
  base_auc = 100 * np.nanmean(metrics.roc_auc(weak(10), labels, masks))
  assert diffs['A'].per_seed == [(0, pytest.approx(90 - base_auc), None)]
  assert np.isnan(diffs['A'].interval[0])  # one seed: no interval over seeds
  # The command prints and writes the section; a bad row name is one line.
  prefix = str(tmp_path / 'cmp')
  assert _trained.cli(monkeypatch, 'compare', *runs, old, '--baseline', 'source_only',
                      '--bootstrap', '200', '--output', prefix) == 0
  out = capsys.readouterr().out
  assert '## Differences to source_only' in out
  assert f'| G | 3 | {g.mean:+.1f} | [{g.interval[0]:+.1f}, {g.interval[1]:+.1f}] |' in out
  assert '0: ' + f'{g.per_seed[0][1]:+.1f}' in out and '(no images)' in out
  assert open(prefix + '.md').read() in out
  assert _trained.cli(monkeypatch, 'compare', *runs, '--baseline', 'nope') == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and "'nope' is not a row" in err


def load_table7():
  spec = importlib.util.spec_from_file_location(
      'table7_script', os.path.join(REPO, 'benchmarks', 'table7.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_table7_summary_keeps_its_columns():
  def entry(row, seed, wild, lab, seconds, diagnostics=None):
    e = {'row': row, 'seed': seed, 'seconds': seconds, 'overrides': [],
         'target_test': {'f1_mean': wild, 'f1': [wild], 'accuracy_mean': 0.5},
         'source_test': {'f1_mean': lab, 'f1': [lab], 'accuracy_mean': 0.5}}
    if diagnostics:
      e['diagnostics'] = {'threshold_split': 'target_validation',
                          'target_test': {'landmark_cell_accuracy': 0.9, **diagnostics}}
    return e
  diag = lambda own, f1: {own: {'f1_mean': f1, 'f1_tuned_mean': 0.6, 'auc_mean': 0.8},
                          'target_wildstats': {'f1_mean': 0.7},
                          'direct': {'f1_mean': 0.3}}
  done = {'G+wild/seed1': entry('G+wild', 1, 0.6, 0.8, 600, diag('target', 0.6)),
          'G+wild/seed0': entry('G+wild', 0, 0.5, 0.7, 1200, diag('target', 0.5)),
          'source_only/seed0': entry('source_only', 0, 0.4, 0.9, 60, diag('source', 0.4)),
          'notes': {'note': 'not a run'}}
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    load_table7().summarize(done)
  lines = out.getvalue().splitlines()
  assert lines[:4] == [
      '| row | seeds | wild test F1 | lab test F1 | wild test F1 per seed | minutes per run |',
      '|---|---|---|---|---|---|',
      '| source_only | 1 | 40.0 ± 0.0 | 90.0 ± 0.0 | 40.0 | 1 |',
      '| G+wild | 2 | 55.0 ± 5.0 | 75.0 ± 5.0 | 50.0, 60.0 | 15 |']
  assert ('| row | seeds | F1 at 0.5 | F1 at val. thresholds | ROC-AUC | target path, '
          'wild E_au statistics | direct path |') in lines
  assert ('| source_only | 1 | 40.0 ± 0.0 | 60.0 ± 0.0 | 80.0 ± 0.0 | – | 30.0 ± 0.0 |'
          in lines)
  assert ('| G+wild | 2 | 55.0 ± 5.0 | 60.0 ± 0.0 | 80.0 ± 0.0 | 70.0 ± 0.0 | 30.0 ± 0.0 |'
          in lines)


def test_add_diagnostics_evaluates_and_keeps_them(tmp_path):
  # A copy of the shared trained run, so that its own evaluate/ folder stays as it is.
  workdir = str(shutil.copytree(_trained.trained().workdir, tmp_path / 'run'))
  shutil.rmtree(os.path.join(workdir, 'evaluate'), ignore_errors=True)
  runs = compare.load_runs([workdir])
  assert runs[0].diagnostics is None
  compare.add_diagnostics(runs, log=lambda _: None)
  step = json.load(open(os.path.join(workdir, 'results.json')))['step']
  report = json.load(open(os.path.join(workdir, 'evaluate',
                                       f'step_{step}_diagnostics.json')))
  target = runs[0].diagnostics['target_test']['target']
  kept = report['splits']['target_test']['paths']['target']
  for key in ('f1_mean', 'f1_tuned_mean', 'auc_mean'):
    assert target[key] == kept[key]
  assert 0 <= target['auc_mean'] <= 1
  column = {c.title: c for c in compare.table7_columns(runs, diagnostics=True)}['ROC-AUC']
  assert column.value(runs[0]) == pytest.approx(100 * target['auc_mean'])
  # The next compare reads them instead of evaluating again.
  again = compare.load_runs([workdir])[0].diagnostics['target_test']['target']
  assert again['auc_mean'] == target['auc_mean']


def test_table7_entries_keep_threshold_free_scores_and_compare_to_a_baseline():
  def entry(row, seed, auc):
    split = {'f1_mean': 0.5, 'f1': [0.5], 'accuracy_mean': 0.5, 'auc_mean': auc,
             'auc': [auc], 'ap_mean': auc - 0.2, 'ap': [auc - 0.2], 'f1_tuned_mean': 0.6}
    return {'row': row, 'seed': seed, 'seconds': 60, 'overrides': [],
            'target_test': split, 'source_test': split,
            'target_test_exact': {**split, 'auc_mean': auc + 0.05}}
  done = {f'{row}/seed{s}': entry(row, s, auc + 0.01 * s)
          for row, auc in (('source_only', 0.70), ('source_only+AdaBN', 0.72),
                           ('default', 0.75)) for s in (0, 1, 2)}
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    load_table7().summarize(done, baseline='source_only')
  text = out.getvalue()
  assert ('| row | seeds | F1 at 0.5 | F1 at val. thresholds | ROC-AUC | AP | '
          'lab test ROC-AUC | control ROC-AUC |') in text
  assert ('| source_only+AdaBN | 3 | 50.0 ± 0.0 | 60.0 ± 0.0 | 73.0 ± 0.8 | 53.0 ± 0.8 | '
          '73.0 ± 0.8 | 78.0 ± 0.8 |') in text
  # No per-image files here: each seed's difference alone, and the t interval over
  # three identical differences has no width.
  assert '| default | 3 | +5.0 | [+5.0, +5.0] | 0: +5.0 (no images); 1: +5.0 (no images)' in text
  assert text.index('| source_only |') < text.index('| source_only+AdaBN |') < \
      text.index('| default |')


def test_table7_saved_differences_keep_intervals_of_the_same_pairs(tmp_path):
  def entry(row, seed, auc):
    split = {'f1_mean': 0.5, 'f1': [0.5], 'accuracy_mean': 0.5, 'auc_mean': auc,
             'auc': [auc]}
    return {'row': row, 'seed': seed, 'seconds': 60, 'overrides': [],
            'target_test': split, 'source_test': split}
  done = {f'{row}/seed{s}': entry(row, s, auc + 0.01 * s * (row == 'default'))
          for row, auc in (('source_only', 0.70), ('default', 0.75)) for s in (0, 1)}
  save = str(tmp_path / 'differences.json')
  earlier = {'row': 'default', 'metric': 'auc', 'split': 'target_test',
             'per_seed': [[0, 5.0, [4.0, 6.0]], [1, 9.0, [8.0, 10.0]]],
             'mean': 7.0, 'interval': [0.0, 1.0]}
  with open(save, 'w') as f:
    json.dump({'source_only/auc': {'samples': 1000, 'rows': [earlier]}}, f)
  with contextlib.redirect_stdout(io.StringIO()):
    load_table7().summarize(done, baseline='source_only', save=save)
  row, = json.load(open(save))['source_only/auc']['rows']
  # Seed 0's difference is the saved one (+5.0): its interval stays. Seed 1's is +6.0
  # now, not the saved +9.0, so it is shown without one.
  assert row['per_seed'][0] == [0, pytest.approx(5.0), [4.0, 6.0]]
  assert row['per_seed'][1][1] == pytest.approx(6.0) and row['per_seed'][1][2] is None
  assert row['mean'] == pytest.approx(5.5)


def test_table7_evaluation_records_scores_step_and_predictions():
  run = _trained.trained()
  entry = load_table7().evaluation(run.workdir, run.data_dir)
  assert entry['selection'] == 'best target_validation F1 at 0.5'
  assert os.path.isfile(entry['predictions'])
  assert entry['predictions'].endswith(f'step_{entry["step"]}_predictions.npz')
  saved = json.load(open(os.path.join(run.workdir, 'results.json')))
  for split, r in saved['results'].items():
    assert entry[split]['f1_mean'] == pytest.approx(r['f1_mean'])
    for key in ('auc_mean', 'ap_mean', 'f1_tuned_mean', 'auc', 'ap'):
      assert key in entry[split]
  with np.load(entry['predictions']) as f:
    assert f['target_test/probs'].shape == f['target_test/labels'].shape
