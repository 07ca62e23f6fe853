"""One tiny trained workdir, shared by the inference, evaluate, predict and export tests.

`trained()` prepares two small data sets ('lab' source, 'wild' target, some AU labels
missing), trains configs/tiny.py on them for one stage-2 epoch (stage 1 skipped: it only
adds compilation time) and caches the result for the whole test session, whichever test
file asks first. The training's own compilation makes this about a minute on 2 CPU cores.

Under pytest-xdist the workers share one run: the first to ask trains it under a file
lock, in a folder named after the test run (`PYTEST_XDIST_TESTRUNUID`), and the others
wait and read it; conftest.py removes it when the session ends.

While working on these tests, AU_JAX_TEST_TRAINED=/some/folder keeps the run there and
reuses it in later sessions (delete the folder after changing training code).
"""

import atexit
import csv
import fcntl
import functools
import json
import os
import shutil
import tempfile
import types

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(REPO, 'configs', 'tiny.py')


def _blank_some_labels(manifest, every=3):
  """Empties one AU cell in every `every`-th row: missing labels the metrics must mask."""
  with open(manifest, newline='', encoding='utf-8') as f:
    rows = list(csv.reader(f))
  header, body = rows[0], rows[1:]
  au_columns = [i for i, name in enumerate(header) if name.startswith('AU')]
  for r, row in enumerate(body):
    if r % every == 0:
      row[au_columns[(r // every) % len(au_columns)]] = ''
  with open(manifest, 'w', newline='', encoding='utf-8') as f:
    csv.writer(f).writerows([header] + body)


def overrides(data_dir):
  """The --config.x=y flags that point configs/tiny.py at the prepared data."""
  return [f'--config.data.data_dir={data_dir}', '--config.data.source=lab',
          '--config.data.target=wild', '--config.stage1.epochs=0',
          '--config.stage2.epochs=1', '--config.stage2.constant_epochs=1',
          '--config.stage2.decay_epochs=0', '--config.train.eval_batch_size=4']


@functools.lru_cache(maxsize=None)
def trained():
  """namespace(root, workdir, data_dir, config, results, overrides)."""
  from au_jax import config_lib  # pylint: disable=g-import-not-at-top

  root = os.environ.get('AU_JAX_TEST_TRAINED') or shared_root()
  if not root:
    root = tempfile.mkdtemp(prefix='au_jax_trained_')
    atexit.register(shutil.rmtree, root, ignore_errors=True)
  os.makedirs(root, exist_ok=True)
  data_dir = os.path.join(root, 'data')
  workdir = os.path.join(root, 'work')
  config = config_lib.load_config(TINY)
  config.data.data_dir, config.data.source, config.data.target = data_dir, 'lab', 'wild'
  config.stage1.epochs = 0
  config.stage2.epochs = 1
  config.stage2.constant_epochs, config.stage2.decay_epochs = 1, 0
  config.train.eval_batch_size = 4
  done = os.path.join(workdir, 'results.json')
  with open(os.path.join(root, '.lock'), 'w', encoding='utf-8') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # one worker trains, the others wait for it
    if not os.path.isfile(done):
      _prepare_and_train(root, config, workdir)
  with open(done, encoding='utf-8') as f:
    results = json.load(f)['results']
  return types.SimpleNamespace(root=root, workdir=workdir, data_dir=data_dir,
                               config=config_lib.prepare_config(config), results=results,
                               overrides=overrides(data_dir))


def shared_root():
  """The folder the xdist workers of one test run share, or None outside xdist."""
  uid = os.environ.get('PYTEST_XDIST_TESTRUNUID')
  return os.path.join(tempfile.gettempdir(), f'au_jax_trained_{uid}') if uid else None


def _prepare_and_train(root, config, workdir):
  from au_jax import train  # pylint: disable=g-import-not-at-top
  from data_pipelines import fakes, prepare  # pylint: disable=g-import-not-at-top
  source = fakes.write_manifest(os.path.join(root, 'lab'), n=18, seed=0)
  target = fakes.write_manifest(
      os.path.join(root, 'wild'), n=18, seed=1, domain='wild',
      splits=['train'] * 8 + ['validation'] * 5 + ['test'] * 5)
  _blank_some_labels(source)
  _blank_some_labels(target)
  for name, manifest in (('lab', source), ('wild', target)):
    prepare.prepare('manifest', [manifest], config.data.data_dir, name, aligned_size=36,
                    progress=False)
  train.train_and_evaluate(config, workdir)


def cli(monkeypatch, *argv):
  """au_jax.cli.main(argv), as the console script runs it."""
  del monkeypatch  # kept so that callers need not change
  from au_jax import cli as cli_lib  # pylint: disable=g-import-not-at-top
  return cli_lib.main([str(a) for a in argv])
