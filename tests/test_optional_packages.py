"""Every dependency is declared or optional, and every optional one is tested both ways.

A package imported by au_jax, data_pipelines or configs is either in setup.py's
install_requires, or optional: imported only where it is needed, with a one-line error
naming its install command when it is absent. The "absent" branch of each optional
package is tested here with the package blocked (`sys.modules[name] = None`, so its
import fails as if it were not installed), on every machine and in CI's first pass; the
"present" branch is a test marked `needs(...)` (tests/conftest.py), which CI's second pass
runs after installing the package.
"""

import ast
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from au_jax import cli
from au_jax import errors
from au_jax import faces
from au_jax.geometry import GeometryError

REPO = pathlib.Path(__file__).resolve().parents[1]
# Optional packages the library itself imports, each on the path that needs it.
LIBRARY_OPTIONAL = {'dlib'}


def _imports(folder):
  """(top-level module, at module level?, 'file:line') of each absolute import."""
  for path in sorted((REPO / folder).rglob('*.py')):
    tree = ast.parse(path.read_text(encoding='utf-8'))
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
      if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
      elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        names = [node.module]
      else:
        continue
      for name in names:
        yield name.split('.')[0], id(node) in top_level, f'{path.relative_to(REPO)}:{node.lineno}'


def _declared():
  """Import names of the distributions install_requires names (as installed)."""
  wanted = set()
  for requirement in importlib.metadata.requires('au_jax') or []:
    if 'extra ==' in requirement:
      continue
    wanted.add(re.split(r'[\s<>=!~\[;]', requirement, maxsplit=1)[0].lower().replace('_', '-'))
  out = set()
  for module, dists in importlib.metadata.packages_distributions().items():
    if any(d.lower().replace('_', '-') in wanted for d in dists):
      out.add(module)
  return out


def test_every_imported_package_is_declared_or_optional():
  """scikit-learn, scipy, OpenCV, ... are install_requires (imported on the default
  paths); only LIBRARY_OPTIONAL may be missing, and never at a module's top level."""
  declared, own = _declared(), {'au_jax', 'data_pipelines', 'configs'}
  undeclared, top_level_optional = [], []
  for folder in ('au_jax', 'data_pipelines', 'configs'):
    for module, top, where in _imports(folder):
      if module in sys.stdlib_module_names or module in own or module in declared:
        continue
      if module in LIBRARY_OPTIONAL:
        if top:
          top_level_optional.append(where)
        continue
      undeclared.append(f'{where} {module}')
  assert not undeclared, f'imported but not in setup.py install_requires: {undeclared}'
  assert not top_level_optional, f'optional packages imported at module level: {top_level_optional}'
  assert 'sklearn' in declared  # ROC-AUC and the probes: a dependency, not an option


def _block(monkeypatch, *names):
  """Makes `import name` and importlib.util.find_spec(name) fail as if not installed."""
  find_spec = importlib.util.find_spec
  for name in names:  # the package and its submodules already imported
    for loaded in [m for m in sys.modules if m == name or m.startswith(name + '.')]:
      monkeypatch.setitem(sys.modules, loaded, None)
    monkeypatch.setitem(sys.modules, name, None)
  monkeypatch.setattr(importlib.util, 'find_spec',
                      lambda name, *a: None if name.split('.')[0] in names
                      else find_spec(name, *a))


@pytest.fixture
def fresh_detectors():
  """No dlib model cached from an earlier test (and none left half-loaded after)."""
  clear = lambda: (faces.models.hog_and_shape_predictor.cache_clear(),
                   faces.models.cnn_model.cache_clear(),
                   faces.default_detector.cache_clear())
  clear()
  yield
  clear()


def _one_line_error(capsys, prefix):
  err = capsys.readouterr().err.strip()
  assert err.startswith(prefix) and '\n' not in err, err
  return err


@pytest.mark.parametrize('blocked', ['dlib', 'face_recognition_models'])
def test_predict_without_the_faces_extra_is_one_line(blocked, monkeypatch, capsys,
                                                      fresh_detectors, tmp_path):
  image = tmp_path / 'face.png'
  image.write_bytes(b'not read: the detector is checked first')
  _block(monkeypatch, blocked)
  assert cli.main(['predict', str(tmp_path / 'run'), str(image)]) == 2
  err = _one_line_error(capsys, 'au-jax predict: error:')
  assert 'pip install -e ".[faces]"' in err
  with pytest.raises(GeometryError, match=r'\[faces\]'):
    faces.check_available('hog')


def _run_blocked(blocked, script, *args):
  """`python script args` with the packages `blocked` failing to import."""
  code = ('import runpy, sys\n'
          f'for name in {list(blocked)!r}: sys.modules[name] = None\n'
          f'sys.argv = [{str(script)!r}] + {list(args)!r}\n'
          f'runpy.run_path({str(script)!r}, run_name="__main__")\n')
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      filter(None, [str(REPO), os.environ.get('PYTHONPATH')])))
  return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                        cwd=REPO, env=env, timeout=300, check=False)


def _last_line_only(result, prefix):
  assert result.returncode != 0
  err = result.stderr.strip()
  assert err.startswith(prefix) and '\n' not in err, err
  return err


def test_torch_reference_without_torch_is_one_line():
  result = _run_blocked(['torch'], REPO / 'benchmarks' / 'torch_reference.py', '--seconds', '0')
  assert 'pip install torch' in _last_line_only(result, 'benchmarks/torch_reference.py: error:')


def test_run_py_checks_the_torch_python_first(capsys):
  spec = importlib.util.spec_from_file_location('bench_run', REPO / 'benchmarks' / 'run.py')
  run = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(run)
  with pytest.raises(SystemExit) as info:
    run.main(['--torch-python', str(REPO / 'no-such-python'), '--quick'])
  assert info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()[-1]
  assert 'no-such-python' in err and 'pip install torch' in err


@pytest.mark.parametrize('blocked', ['jax2onnx', 'onnxruntime', 'openvino'])
def test_onnx_benchmark_without_its_packages_is_one_line(blocked):
  result = _run_blocked([blocked], REPO / 'benchmarks' / 'inference.py', '--onnx')
  err = _last_line_only(result, 'benchmarks/inference.py: error:')
  assert blocked in err and 'pip install onnxruntime openvino' in err


def test_benchmark_photos_without_scikit_image_are_one_line(monkeypatch, tmp_path):
  spec = importlib.util.spec_from_file_location('bench_inference',
                                                REPO / 'benchmarks' / 'inference.py')
  bench = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(bench)
  _block(monkeypatch, 'skimage')
  with pytest.raises(errors.MissingPackage, match='pip install scikit-image') as info:
    bench.write_video(str(tmp_path / 'v.avi'), 2)
  assert '\n' not in str(info.value)


@pytest.mark.needs('torch')
def test_torch_reference_runs_with_torch(tmp_path):
  out = tmp_path / 'torch.json'
  result = subprocess.run([sys.executable, str(REPO / 'benchmarks' / 'torch_reference.py'),
                           '--batch', '1', '--crop', '64', '--seconds', '0.2', '--out',
                           str(out)], capture_output=True, text=True, timeout=600,
                          check=False)
  assert result.returncode == 0, result.stderr
  record = json.loads(out.read_text())
  assert record['step_s'] > 0 and record['gflop_per_step'] > 0
  assert record['crop'] == 64 and record['inference_target_batch1_images_per_s'] > 0


@pytest.mark.needs('jax2onnx', 'onnxruntime', 'openvino')
def test_onnx_benchmark_agrees_with_jax(tmp_path):
  out = tmp_path / 'onnx.json'
  result = subprocess.run([sys.executable, str(REPO / 'benchmarks' / 'inference.py'),
                           '--onnx', '--config', str(REPO / 'configs' / 'tiny.py'),
                           '--seconds', '0.1', '--out', str(out)],
                          capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  record = json.loads(out.read_text())
  for runtime in ('onnxruntime', 'openvino'):
    difference = record['max_abs_difference_to_jax'][runtime]
    assert difference['au_probs'] < 1e-3 and difference['landmarks'] < 1e-2, difference
    assert np.all(np.array(record['images_per_s'][runtime]) > 0)


def test_prepare_beam_without_apache_beam_is_one_line(monkeypatch, capsys, tmp_path):
  from data_pipelines import fakes  # pylint: disable=g-import-not-at-top
  manifest = fakes.write_manifest(str(tmp_path / 'lab'), n=4, seed=0)
  _block(monkeypatch, 'apache_beam')
  assert cli.main(['prepare', '--format', 'manifest', '--input', manifest, '--output',
                   str(tmp_path / 'out'), '--name', 'lab', '--beam', '--quiet']) == 2
  err = _one_line_error(capsys, 'au-jax prepare: error:')
  assert 'apache_beam' in err and 'pip install -e ".[beam]"' in err
  assert not (tmp_path / 'out').exists()  # stopped before reading or writing
