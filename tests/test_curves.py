"""Training curves: WORKDIR/curves.png from metrics.jsonl, and `au-jax summary --plot`."""

import json
import os

import _trained
from au_jax import config_lib
from au_jax import curves


def write_metrics(workdir):
  """Stage 1 and 2 records like the Reporter's, with a resume that repeats step 20 of
  stage 2 (the later record must win) and a line cut short by a kill."""
  lines = []
  for step in (10, 20):
    lines.append({'stage': '1', 'step': step, 'kind': 'train', 'loss': 9.0 / step,
                  'fl_s': 1.0 / step, 'lr/landmark': 1e-3})
  for step in (10, 20):
    lines.append({'stage': '2', 'step': step, 'kind': 'train', 'loss': 5.0 - step / 10,
                  'loss_d': 0.5, 'au': 0.7, 'lr': 3.0, 'fl': 0.0, 'lr/task': 1e-4})
  lines.append({'stage': '2', 'step': 20, 'kind': 'eval', 'split': 'target_test',
                'f1_mean': 0.25, 'f1': [0.25]})
  lines.append({'stage': '2', 'step': 20, 'kind': 'eval', 'split': 'source_test',
                'f1_mean': 0.5, 'f1': [0.5]})
  lines.append({'stage': '2', 'step': 20, 'kind': 'train', 'loss': 1.5, 'loss_d': 0.5,
                'au': 0.6, 'lr': 3.0, 'fl': 0.0, 'lr/task': 1e-4})   # the resumed run
  lines.append({'stage': '2', 'step': 20, 'kind': 'eval', 'split': 'target_test',
                'f1_mean': 0.3, 'f1': [0.3]})
  lines.append({'step': 20, 'kind': 'final', 'results': {}})
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, 'metrics.jsonl'), 'w') as f:
    f.write('\n'.join(json.dumps(l) for l in lines) + '\n{"stage": "2", "st')


def test_read_metrics_keeps_the_last_record_of_a_step(tmp_path):
  write_metrics(str(tmp_path))
  train, evals = curves.read_metrics(str(tmp_path / 'metrics.jsonl'))
  assert list(train) == ['1', '2']
  assert train['1']['loss'] == [(10, 0.9), (20, 0.45)]
  assert 'lr/landmark' not in train['1'] and 'lr/task' not in train['2']
  assert train['2']['loss'] == [(10, 4.0), (20, 1.5)]
  assert train['2']['lr'] == [(10, 3.0), (20, 3.0)]  # L_lr is a loss term, not a rate
  assert evals == {'2': {'target_test': [(20, 0.3)], 'source_test': [(20, 0.5)]}}
  # Totals first, switched-off terms (all zero) left out.
  terms = curves._terms(train['2'])  # pylint: disable=protected-access
  assert terms == ['loss', 'loss_d', 'au', 'lr']


def test_plot_writes_a_png(tmp_path):
  write_metrics(str(tmp_path))
  path = curves.plot(str(tmp_path))
  assert path == str(tmp_path / 'curves.png')
  with open(path, 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_plot_leaves_pyplots_backend_alone(tmp_path):
  # A notebook that trains must still show its own figures afterwards.
  import matplotlib  # pylint: disable=g-import-not-at-top
  write_metrics(str(tmp_path))
  before = matplotlib.get_backend()
  matplotlib.use('svg')
  try:
    curves.plot(str(tmp_path))
    assert matplotlib.get_backend() == 'svg'
  finally:
    matplotlib.use(before)


def test_summary_plot_redraws_the_curves(tmp_path, capsys, monkeypatch, tiny_config):
  workdir = str(tmp_path / 'run')
  write_metrics(workdir)
  config_lib.save_config(tiny_config, workdir)
  assert _trained.cli(monkeypatch, 'summary', workdir, '--plot') == 0
  out = capsys.readouterr().out
  assert os.path.isfile(os.path.join(workdir, 'curves.png'))
  assert f'wrote {os.path.join(workdir, "curves.png")}' in out
  assert 'no provenance.json' in out and 'total' in out  # the module table of its config


def test_summary_plot_needs_a_workdir(capsys, monkeypatch, tmp_path):
  assert _trained.cli(monkeypatch, 'summary', '--plot') == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'WORKDIR' in err
  assert _trained.cli(monkeypatch, 'summary', str(tmp_path / 'none'), '--plot') == 2
  assert 'training workdir' in capsys.readouterr().err
