"""Runs each Colab notebook (colab/*.ipynb) headless, top to bottom, at a tiny size.

A notebook's cell tagged `parameters` holds its sizes; `run_notebook` appends
assignments to that cell (as papermill does with a cell of its own), so the defaults a
reader sees stay in the file. Every notebook writes only under its `WORK` parameter,
here a pytest temporary folder, which is also the kernel's working folder.

The tiny sizes share the model of configs/tiny.py with six AUs, so the quickstart and
the real-data notebook compile the same initialisation and evaluation programs (the
persistent XLA cache of conftest.py then serves the second one).
"""

import importlib.util
import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLAB = os.path.join(REPO, 'colab')
TINY_CONFIG = os.path.join(REPO, 'configs', 'tiny.py')
SIX_AUS = (1, 2, 4, 6, 12, 17)
# Small enough for seconds of training; eval batches of 8 as in the real-data notebook.
TINY_TRAINING = {'data.au_ids': SIX_AUS, 'stage1.epochs': 1, 'stage2.epochs': 1,
                 'train.max_steps': 2, 'train.eval_batch_size': 8}


def run_notebook(name, work, **params):
  """Executes colab/<name> with `params` set after its parameters cell; returns the
  executed notebook. A failing cell raises nbclient's CellExecutionError (with the
  cell's traceback)."""
  import nbformat  # pylint: disable=g-import-not-at-top
  from nbclient import NotebookClient  # pylint: disable=g-import-not-at-top

  nb = nbformat.read(os.path.join(COLAB, name), as_version=4)
  cells = [c for c in nb.cells if 'parameters' in c.metadata.get('tags', [])]
  assert len(cells) == 1, f'{name}: expected one cell tagged "parameters"'
  injected = '\n'.join(f'{key} = {value!r}' for key, value in params.items())
  cells[0].source += f'\n\n# Injected by tests/test_notebooks.py\n{injected}\n'
  os.makedirs(work, exist_ok=True)
  client = NotebookClient(nb, timeout=900, kernel_name='python3',
                          resources={'metadata': {'path': str(work)}})
  client.execute()
  return nb


def outputs_text(nb):
  """Every stream and text/plain output of the executed notebook, joined."""
  parts = []
  for cell in nb.cells:
    for out in cell.get('outputs', []):
      if out.get('output_type') == 'stream':
        parts.append(out.get('text', ''))
      elif 'text/plain' in out.get('data', {}):
        parts.append(out['data']['text/plain'])
  return '\n'.join(parts)


def images_shown(nb):
  return sum('image/png' in out.get('data', {})
             for cell in nb.cells for out in cell.get('outputs', []))


@pytest.fixture(autouse=True)
def kernel_python(monkeypatch):
  """The kernelspec runs `python`: make that this interpreter (its venv) even when the
  tests run without an activated venv."""
  monkeypatch.setenv('PATH', os.path.dirname(sys.executable) + os.pathsep +
                     os.environ.get('PATH', ''))
  monkeypatch.setenv('TF_CPP_MIN_LOG_LEVEL', '2')


@pytest.mark.parametrize('name', ['quickstart.ipynb', 'train_real_data.ipynb',
                                  'inference.ipynb'])
def test_committed_without_outputs(name):
  """Notebooks are committed clean: no outputs, no execution counts, one parameters
  cell, and the Colab install cell first among the code cells."""
  import nbformat  # pylint: disable=g-import-not-at-top
  nb = nbformat.read(os.path.join(COLAB, name), as_version=4)
  nbformat.validate(nb)
  code = [c for c in nb.cells if c.cell_type == 'code']
  assert all(not c.outputs and c.execution_count is None for c in code), name
  assert sum('parameters' in c.metadata.get('tags', []) for c in code) == 1
  assert "'google.colab' in sys.modules" in code[0].source


@pytest.mark.slow  # trains on generated SynthAU inside a kernel: two minutes
def test_quickstart(tmp_path):
  work = tmp_path / 'work'
  nb = run_notebook('quickstart.ipynb', tmp_path, WORK=str(work),
                    LAB_SUBJECTS=(4, 2, 2), LAB_IMAGES=(32, 16, 16),
                    WILD_IMAGES=(32, 16, 16), CONFIG=TINY_CONFIG,
                    OVERRIDES=TINY_TRAINING, SHOW=2)
  run = work / 'runs' / 'quickstart'
  kinds = {json.loads(line)['kind'] for line in (run / 'metrics.jsonl').open()}
  assert kinds == {'train', 'eval', 'final'}
  assert (run / 'checkpoints' / 'stage2').is_dir()
  # The contact sheet, the curves, the F1 bars and the overlays.
  assert images_shown(nb) >= 4
  assert 'Predictor(' in outputs_text(nb)
  assert sorted(os.listdir(tmp_path)) == ['work'], 'files written outside WORK'


@pytest.mark.slow  # prepares, trains, resumes and evaluates via the CLI: two minutes
def test_train_real_data_on_fakes(tmp_path):
  work = tmp_path / 'work'
  nb = run_notebook('train_real_data.ipynb', tmp_path, WORK=str(work), FAKE=True)
  text = outputs_text(nb)
  for command in ('$ au-jax prepare --format bp4d', '$ au-jax prepare --format emotionet',
                  '$ au-jax train', '$ au-jax evaluate'):
    assert command in text, command
  assert 'resumed from step' in text
  run = work / 'runs' / 'bp4d_emotionet_fold0'
  assert (run / 'results.json').is_file()
  assert sorted(os.listdir(tmp_path)) == ['work'], 'files written outside WORK'


def random_checkpoint(workdir):
  """A workdir with a stage-2 checkpoint of configs/tiny.py holding random weights
  (au_jax.random_weights): loading and predicting need no training."""
  from au_jax import config_lib, random_weights  # pylint: disable=g-import-not-at-top
  config = config_lib.prepare_config(config_lib.load_config(TINY_CONFIG))
  model = config_lib.create_model(config)
  random_weights.write_workdir(
      str(workdir), config,
      random_weights.random_variables(model, config.data.crop_size, config=config))
  return str(workdir)


def test_inference(tmp_path):
  work = tmp_path / 'work'
  checkpoint = random_checkpoint(work / 'model')
  nb = run_notebook('inference.ipynb', tmp_path, WORK=str(work), CHECKPOINT=checkpoint)
  text = outputs_text(nb)
  assert 'Predictor(' in text
  table = work / 'predictions' / 'astronaut.csv'
  with table.open() as f:
    header = f.readline().split(',')
  assert 'AU01_prob' in header and 'model_x_0' in header
  assert (work / 'predictions' / 'overlays' / 'astronaut.png').is_file()
  assert images_shown(nb) >= 3
  assert sorted(os.listdir(tmp_path)) == ['work'], 'files written outside WORK'


def _install_cell(name):
  with open(os.path.join(COLAB, name), encoding='utf-8') as f:
    nb = json.load(f)
  cells = [c for c in nb['cells'] if 'install' in c.get('metadata', {}).get('tags', [])]
  assert len(cells) == 1, name
  return ''.join(cells[0]['source'])


@pytest.mark.parametrize('name', ['quickstart.ipynb', 'inference.ipynb',
                                  'train_real_data.ipynb'])
def test_colab_install_cell_works_as_shipped(name, monkeypatch):
  """In Colab without au_jax: an empty form field stops with a clear message; a
  repository address is cloned and installed, a wheel or requirement installed as is."""
  import subprocess  # pylint: disable=g-import-not-at-top
  source = _install_cell(name)
  assert "AU_JAX_SOURCE = ''  #@param" in source  # a form field, shipped empty
  calls = []
  monkeypatch.setattr(subprocess, 'run', lambda cmd, check: calls.append(cmd))
  monkeypatch.setitem(sys.modules, 'google.colab', object())
  monkeypatch.setattr(importlib.util, 'find_spec', lambda n: None)
  with pytest.raises(SystemExit, match='Set AU_JAX_SOURCE in the form above'):
    exec(source, {})  # pylint: disable=exec-used
  assert not calls
  scope = {}
  with pytest.raises(SystemExit):
    exec(source, scope)  # pylint: disable=exec-used
  scope['install_au_jax']('https://example.org/me/au_jax.git')
  assert calls[0][:3] == ['git', 'clone', '--depth=1']
  assert calls[1][-1] == '/content/au_jax[faces]'
  scope['install_au_jax']('/content/drive/MyDrive/au_jax-0.1.0-py3-none-any.whl')
  assert calls[2][-1] == '/content/drive/MyDrive/au_jax-0.1.0-py3-none-any.whl'
