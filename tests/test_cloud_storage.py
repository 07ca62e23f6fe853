"""Workdirs and data_dirs in a bucket (au_jax/paths.py): the whole round trip on a GCS
emulator that the test starts on loopback (tests/gcs_emulator.py), as a user's commands
run it, and the one-line errors for URLs nothing can open.

Every command runs in an empty working directory, which must stay empty: a gs:// path
taken for a local one would land there (as <cwd>/gs:/bucket/...).
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import gcs_emulator
from data_pipelines import fakes
from fixtures import ROOT

BUCKET = 'au-jax-test'
TINY = os.path.join(ROOT, 'configs', 'tiny.py')


@pytest.fixture(scope='module')
def emulator():
  with gcs_emulator.Emulator() as emu:
    emu.create_bucket(BUCKET)
    yield emu


def _env(emu):
  return dict(os.environ, **emu.env, JAX_PLATFORMS='cpu',
              PYTHONPATH=os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')]))


def _au_jax(emu, cwd, *argv, check=True, timeout=600):
  out = subprocess.run([sys.executable, '-m', 'au_jax.cli', *map(str, argv)],
                       env=_env(emu), cwd=cwd, capture_output=True, text=True,
                       timeout=timeout, check=False)
  if check:
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
  return out


def _start(emu, cwd, *argv):
  return subprocess.Popen([sys.executable, '-m', 'au_jax.cli', *map(str, argv)],
                          env=_env(emu), cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def _saved_steps(emu, prefix):
  """Steps orbax finished under gs://BUCKET/prefix (it marks each with commit_success)."""
  pattern = re.compile(re.escape(prefix) + r'/(\d+)/commit_success\.txt')
  return sorted(int(m.group(1)) for m in map(pattern.fullmatch, emu.objects(BUCKET)) if m)


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _empty_cwd(tmp_path):
  cwd = tmp_path / 'cwd'
  cwd.mkdir()
  return cwd


def _one_line_error(code, err, command, message):
  err = err.strip()
  assert code == 2, err
  assert len(err.splitlines()) == 1, err
  assert err.startswith(f'au-jax {command}: error:') and message in err, err


def test_unknown_scheme_and_missing_bucket_are_one_line_errors(emulator, tmp_path,
                                                               monkeypatch, capsys):
  from au_jax import cli  # pylint: disable=g-import-not-at-top
  for key, value in emulator.env.items():
    monkeypatch.setenv(key, value)
  cwd = _empty_cwd(tmp_path)
  monkeypatch.chdir(cwd)
  manifest = fakes.write_manifest(str(tmp_path / 'lab'), n=6, seed=0)
  code = cli.main(['train', '--config', TINY, '--workdir', 'foo://x/run'])
  _one_line_error(code, capsys.readouterr().err, 'train', 'no filesystem handles foo://')
  code = cli.main(['train', '--config', TINY, '--workdir', f'gs://{BUCKET}/run',
                   '--config.data.data_dir=gs://no-such-bucket/data'])
  _one_line_error(code, capsys.readouterr().err, 'train',
                  'config.data.data_dir gs://no-such-bucket/data: bucket '
                  'gs://no-such-bucket/ does not exist')
  code = cli.main(['prepare', '--format', 'manifest', '--input', manifest, '--output',
                   'gs://no-such-bucket/data', '--name', 'lab', '--quiet'])
  _one_line_error(code, capsys.readouterr().err, 'prepare',
                  'bucket gs://no-such-bucket/ does not exist')
  code = cli.main(['export', str(tmp_path), 'bar://y/model'])
  _one_line_error(code, capsys.readouterr().err, 'export', 'no filesystem handles bar://')
  assert not list(cwd.iterdir())
  assert not emulator.objects(BUCKET)  # nothing written before the error


@pytest.mark.slow  # a cold start of au-jax: ~30 s
def test_tpu_pod_command_line_writes_nothing_in_the_working_directory(emulator, tmp_path):
  """configs/tpu_pod.py's command, its workdir and data_dir in the emulator's bucket, on
  one CPU process (--coordinator ... instead of --distributed, which finds the
  coordinator only on a pod). No data set is prepared there: it stops with a one-line
  error naming the bucket's path, having written nothing in the working directory."""
  emulator.create_bucket('bucket')
  cwd = _empty_cwd(tmp_path)
  out = _au_jax(emulator, cwd, 'train', '--config',
                os.path.join(ROOT, 'configs', 'tpu_pod.py'), '--workdir',
                'gs://bucket/runs/pod', '--coordinator', f'127.0.0.1:{_free_port()}',
                '--num-processes', 1, '--process-id', 0,
                '--config.data.data_dir=gs://bucket/data', check=False, timeout=300)
  _one_line_error(out.returncode, out.stderr, 'train',
                  'gs://bucket/data/aligned_faces/bp4d: no prepared data set')
  assert not list(cwd.iterdir()), out.stdout + out.stderr
  assert not emulator.objects('bucket')


@pytest.mark.slow  # nine cold starts of au-jax (compilation in each): a few minutes
def test_prepare_train_kill_resume_evaluate_predict_export_in_a_bucket(
    emulator, tmp_path, monkeypatch):
  cwd = _empty_cwd(tmp_path)
  data = f'gs://{BUCKET}/data'
  lab = fakes.write_manifest(str(tmp_path / 'lab'), n=18, seed=0)
  wild = fakes.write_manifest(str(tmp_path / 'wild'), n=18, seed=1, domain='wild',
                              splits=['train'] * 8 + ['validation'] * 5 + ['test'] * 5)
  for name, manifest in (('lab', lab), ('wild', wild)):
    _au_jax(emulator, cwd, 'prepare', '--format', 'manifest', '--input', manifest,
            '--output', data, '--name', name, '--aligned-size', 36, '--quiet')
  objects = emulator.objects(BUCKET)
  for name in ('lab', 'wild'):
    version = f'data/aligned_faces/{name}/1.0.0'
    assert f'{version}/metadata.json' in objects and f'{version}/dataset_info.json' in objects
    assert any(re.fullmatch(rf'{version}/aligned_faces-\w+\.tfrecord-\d+-of-\d+', o)
               for o in objects)
  assert not any('.prepare_cache' in o for o in objects)  # removed when finished

  overrides = [f'--config.data.data_dir={data}', '--config.data.source=lab',
               '--config.data.target=wild', '--config.stage1.epochs=0',
               '--config.stage2.epochs=2', '--config.stage2.constant_epochs=1',
               '--config.stage2.decay_epochs=1', '--config.train.eval_batch_size=4',
               '--config.train.checkpoint_every_steps=2']
  train = lambda run: ('train', '--config', TINY, '--workdir', f'gs://{BUCKET}/runs/{run}',
                       *overrides)
  _au_jax(emulator, cwd, *train('full'))

  # kill -9 after the first save, then resume: as in tests/test_checkpointing.py.
  proc = _start(emulator, cwd, *train('killed'))
  deadline = time.time() + 600
  while not _saved_steps(emulator, 'runs/killed/checkpoints/stage2'):
    assert proc.poll() is None, proc.communicate()[0][-3000:]
    assert time.time() < deadline, 'no checkpoint appeared'
    time.sleep(0.05)
  time.sleep(np.random.default_rng(int(time.time())).uniform(0, 0.3))
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert proc.returncode == -signal.SIGKILL
  killed_at = _saved_steps(emulator, 'runs/killed/checkpoints/stage2')
  out = _au_jax(emulator, cwd, *train('killed'))
  assert 'resumed from step' in out.stdout, out.stdout[-3000:]

  objects = emulator.objects(BUCKET)
  for name in ('config.json', 'provenance.json', 'metrics.jsonl', 'results.json',
               'curves.png'):
    assert f'runs/killed/{name}' in objects, name
  assert any(o.startswith('runs/killed/events.out.tfevents') for o in objects)
  steps_full = _saved_steps(emulator, 'runs/full/checkpoints/stage2')
  assert steps_full == _saved_steps(emulator, 'runs/killed/checkpoints/stage2')
  assert max(killed_at) < max(steps_full)  # the kill came before the end

  # The same parameters as the uninterrupted run (read here, from the bucket).
  for key, value in emulator.env.items():
    monkeypatch.setenv(key, value)
  monkeypatch.chdir(cwd)
  from fixtures import stage2_params, tiny  # pylint: disable=g-import-not-at-top
  config = tiny()
  (s1, p1) = stage2_params(f'gs://{BUCKET}/runs/full', config)
  (s2, p2) = stage2_params(f'gs://{BUCKET}/runs/killed', config)
  assert s1 == s2 == max(steps_full)
  for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p2)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

  workdir = f'gs://{BUCKET}/runs/killed'
  out = _au_jax(emulator, cwd, 'evaluate', '--config', TINY, '--workdir', workdir,
                *overrides)
  assert 'F1' in out.stdout
  objects = emulator.objects(BUCKET)
  assert any(re.fullmatch(r'runs/killed/evaluate/step_\d+\.json', o) for o in objects)
  assert any(re.fullmatch(r'runs/killed/evaluate/step_\d+\.csv', o) for o in objects)

  import cv2  # pylint: disable=g-import-not-at-top
  from skimage import data as skdata  # pylint: disable=g-import-not-at-top
  photo = str(tmp_path / 'astronaut.png')
  cv2.imwrite(photo, cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR))
  out = _au_jax(emulator, cwd, 'predict', workdir, photo, '--output', '-', '--quiet')
  header, *rows = out.stdout.strip().splitlines()
  assert 'AU01_prob' in header.split(',') and len(rows) == 1, out.stdout

  _au_jax(emulator, cwd, 'export', workdir, f'gs://{BUCKET}/export/model')
  _au_jax(emulator, cwd, 'export', workdir, f'gs://{BUCKET}/export/model.stablehlo',
          '--format', 'stablehlo')
  objects = emulator.objects(BUCKET)
  assert 'export/model/saved_model.pb' in objects
  assert 'export/model.stablehlo' in objects and 'export/model.stablehlo.json' in objects
  from au_jax import export  # pylint: disable=g-import-not-at-top
  faces = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), np.uint8)
  prediction = export.load_stablehlo(f'gs://{BUCKET}/export/model.stablehlo')(faces)
  assert np.asarray(prediction.au_probs).shape == (2, 3)

  assert not list(cwd.iterdir())


@pytest.mark.slow  # a cold start of au-jax
def test_prepare_reads_a_manifest_and_its_images_from_the_bucket(emulator, tmp_path):
  """What Beam workers on Dataflow do: the manifest and its images in the bucket (image
  paths relative to the manifest), the data set written there, the same records as from
  the local copy."""
  lab = fakes.write_manifest(str(tmp_path / 'lab'), n=8, seed=0)
  cwd = _empty_cwd(tmp_path)
  script = ('import os, sys, tensorflow as tf\n'
            'src, dst = sys.argv[1:]\n'
            'for d, _, names in os.walk(src):\n'
            '  for n in names:\n'
            '    p = os.path.join(d, n)\n'
            '    tf.io.gfile.makedirs(os.path.dirname(dst + p[len(src):]))\n'
            '    tf.io.gfile.copy(p, dst + p[len(src):], overwrite=True)\n')
  subprocess.run([sys.executable, '-c', script, str(tmp_path / 'lab'),
                  f'gs://{BUCKET}/raw/lab'], env=_env(emulator), cwd=cwd, check=True,
                 timeout=300)
  _au_jax(emulator, cwd, 'prepare', '--format', 'manifest', '--input',
          f'gs://{BUCKET}/raw/lab/manifest.csv', '--output', f'gs://{BUCKET}/from_bucket',
          '--name', 'lab', '--aligned-size', 36, '--workers', 1, '--quiet')
  _au_jax(emulator, cwd, 'prepare', '--format', 'manifest', '--input', lab, '--output',
          str(tmp_path / 'local'), '--name', 'lab', '--aligned-size', 36, '--workers', 1,
          '--quiet')
  objects = emulator.objects(BUCKET)
  version = 'from_bucket/aligned_faces/lab/1.0.0'
  bucket_records = sorted(o for o in objects if o.startswith(version) and '.tfrecord' in o)
  local_folder = tmp_path / 'local' / 'aligned_faces' / 'lab' / '1.0.0'
  local_records = sorted(p.name for p in local_folder.iterdir() if '.tfrecord' in p.name)
  assert [o.rsplit('/', 1)[1] for o in bucket_records] == local_records
  metadata = json.loads(subprocess.run(
      [sys.executable, '-c', 'import sys, tensorflow as tf; '
       'print(tf.io.gfile.GFile(sys.argv[1]).read())', f'gs://{BUCKET}/{version}/metadata.json'],
      env=_env(emulator), cwd=cwd, capture_output=True, text=True, check=True).stdout)
  local = json.loads((local_folder / 'metadata.json').read_text())
  assert metadata['counts'] == local['counts'] and metadata['counts']
  assert not list(cwd.iterdir())
