"""Checkpoints: resuming to the same parameters, kill -9, shape checks (au_jax/checkpointing.py)."""

import functools
import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from fixtures import stage2_params, tiny, tiny_data
from au_jax import checkpointing
from au_jax import config_lib
from au_jax import sharding
from au_jax import train

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# -- whole runs: resume, NaN --------------------------------------------------------------------

class Interrupt(Exception):
  pass


@pytest.mark.slow  # three tiny training runs: two minutes (resuming is also in the default
# run: test_restore_onto_another_device_count; the train_real_data notebook resumes too)
def test_interrupted_run_resumes_to_the_same_parameters(tmp_path, monkeypatch):
  # Stage 1 resumes the same way; it is skipped here to keep the test short.
  config = tiny(**{'stage1.epochs': 0, 'stage2.epochs': 2, 'stage2.constant_epochs': 1,
                   'stage2.decay_epochs': 1, 'train.checkpoint_every_steps': 3})
  full = str(tmp_path / 'full')
  results = train.train_and_evaluate(config, full, tiny_data())
  assert 0 <= results['target_validation']['f1_mean'] <= 1

  # Kill the second run inside stage 2 (step 5 of 16, after the save at step 3).
  calls = {'n': 0}
  real_jit_step = train.jit_step

  def dying_jit_step(step_fn, mesh):
    jitted = real_jit_step(step_fn, mesh)

    def run(state, batch):
      calls['n'] += 1
      if calls['n'] == 5:  # dies in stage-2 step 5
        raise Interrupt()
      return jitted(state, batch)
    return run

  resumed = str(tmp_path / 'resumed')
  monkeypatch.setattr(train, 'jit_step', dying_jit_step)
  with pytest.raises(Interrupt):
    train.train_and_evaluate(config, resumed, tiny_data())
  monkeypatch.setattr(train, 'jit_step', real_jit_step)
  mngr = checkpointing.manager(resumed, 'stage2', config)
  assert mngr.latest_step() == 3  # the last save before the kill
  train.train_and_evaluate(config, resumed, tiny_data())

  (s1, p1), (s2, p2) = stage2_params(full, config), stage2_params(resumed, config)
  assert s1 == s2 == 16
  for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p2)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  lines = [json.loads(l) for l in open(os.path.join(resumed, 'metrics.jsonl'))]
  assert any(l['kind'] == 'eval' and 'f1' in l for l in lines)
  assert any(l['kind'] == 'train' and 'lr' in l and 'au' in l for l in lines)


def test_resuming_with_another_model_shape_names_the_changed_fields(tmp_path):
  # The workdir a run leaves (its config.json and a stage-2 checkpoint), written without
  # training: only the restore matters here.
  config = config_lib.scale_to_devices(config_lib.prepare_config(
      tiny(**{'stage1.epochs': 0, 'stage2.epochs': 1, 'train.max_steps': 1})),
                                       jax.device_count())
  workdir = str(tmp_path / 'w')
  model = config_lib.create_model(config)
  variables = jax.jit(functools.partial(train.init_variables, model, config))(
      jax.random.key(config.seed))
  os.makedirs(workdir)
  config_lib.save_config(config, workdir)
  mngr = checkpointing.manager(workdir, 'stage2', config)
  checkpointing.save(mngr, 1, train.create_state(variables, config, 2, 8),
                     scores={checkpointing.METRIC: 0.0})
  mngr.close()
  config.model.hidden = 4  # saved with 8
  config.train.max_steps = 2
  with pytest.raises(config_lib.ConfigError) as error:
    train.train_and_evaluate(config, workdir, tiny_data())
  message = str(error.value)
  assert len(message.splitlines()) == 1
  assert 'model.hidden: 8 → 4' in message and 'train.max_steps: 1 → 2' in message
  assert 'new --workdir' in message


def test_a_checkpoint_of_another_shape_fails_before_any_read(tmp_path, monkeypatch):
  # A restore that orbax starts and then abandons leaves its array reads un-awaited
  # (each later prints a traceback); the metadata check must stop it first.
  def state_of(hidden):
    config = tiny(**{'model.hidden': hidden})
    model = config_lib.create_model(config)
    variables = jax.jit(functools.partial(train.init_variables, model, config))(
        jax.random.key(0))
    return train.create_state(variables, config, 2, 8), config
  saved, config = state_of(8)
  mngr = checkpointing.manager(str(tmp_path), 'stage2', config)
  checkpointing.save(mngr, 1, saved, scores={checkpointing.METRIC: 0.0})
  mngr.close()
  mngr = checkpointing.manager(str(tmp_path), 'stage2', config)
  monkeypatch.setattr(mngr, 'restore', lambda *a, **k: pytest.fail('a read started'))
  with pytest.raises(checkpointing.ShapeMismatch) as error:
    checkpointing.restore(mngr, 1, state_of(4)[0], sharding.make_mesh())
  assert len(str(error.value).splitlines()) == 1
  assert 'in the checkpoint but' in str(error.value)


def test_an_async_save_keeps_the_state_it_was_given(tmp_path):
  # save() returns while orbax writes; the training step then donates the state's
  # buffers. The checkpoint must hold the state as it was at save(), and a restore
  # must wait for the write.
  config = tiny()
  model = config_lib.create_model(config)
  mesh = sharding.make_mesh()
  variables = jax.jit(functools.partial(train.init_variables, model, config))(
      jax.random.key(0))
  state = jax.device_put(train.create_state(variables, config, 2, 8),
                         sharding.replicated(mesh))
  expected = jax.device_get(state)
  mngr = checkpointing.manager(str(tmp_path), 'stage2', config)
  checkpointing.save(mngr, 1, state, scores={checkpointing.METRIC: 0.5})
  bump = jax.jit(lambda s: jax.tree.map(lambda x: x + 1, s), donate_argnums=0)
  changed = jax.block_until_ready(bump(state))  # reuses the saved state's buffers
  restored, meta = checkpointing.restore(mngr, 1, changed, mesh)
  assert meta == {} and mngr.latest_step() == 1
  for a, b in zip(jax.tree.leaves(expected), jax.tree.leaves(restored)):
    np.testing.assert_array_equal(a, b)
  mngr.close()


# Run as a module from tests/ (workers import `fixtures`, as the tests do).
KILL_WORKER = [sys.executable, '-m', 'workers.kill_worker']


def _steps(folder):
  """Finished saves only: orbax writes into a temporary folder and renames it at the end."""
  return sorted(int(n) for n in os.listdir(folder) if n.isdigit()) if os.path.isdir(
      folder) else []


def _start(workdir, delay):
  env = dict(os.environ, JAX_PLATFORMS='cpu', JAX_ENABLE_COMPILATION_CACHE='false')
  return subprocess.Popen([*KILL_WORKER, workdir, '--delay', str(delay)], cwd=HERE,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)


def _kill_when(proc, folder, min_step, rng):
  """SIGKILL `proc` a random 0–0.4 s after `folder` holds a save at or past min_step."""
  deadline = time.time() + 300
  while not [s for s in _steps(folder) if s >= min_step]:
    assert proc.poll() is None, proc.communicate()[0][-3000:]
    assert time.time() < deadline, 'no checkpoint appeared'
    time.sleep(0.02)
  time.sleep(rng.uniform(0, 0.4))
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow  # three cold starts of a subprocess (compilation each time): ~2 min
def test_kill_dash_nine_twice_then_the_run_finishes(tmp_path):
  from workers import kill_worker  # pylint: disable=g-import-not-at-top
  config = kill_worker.config()
  full, killed = str(tmp_path / 'full'), str(tmp_path / 'killed')
  proc = _start(full, 0.0)
  out = proc.communicate(timeout=600)[0]
  assert proc.returncode == 0, out[-3000:]

  rng = np.random.default_rng(int(time.time()))
  # Killed in stage 1 (after its first save), then in stage 2, then left to finish.
  _kill_when(_start(killed, 0.3), os.path.join(killed, 'checkpoints', 'stage1'), 3, rng)
  _kill_when(_start(killed, 0.3), os.path.join(killed, 'checkpoints', 'stage2'), 3, rng)
  proc = _start(killed, 0.0)
  out = proc.communicate(timeout=600)[0]
  assert proc.returncode == 0, out[-3000:]
  assert 'resumed from step' in out and 'finished' in out

  (s1, p1), (s2, p2) = stage2_params(full, config), stage2_params(killed, config)
  assert s1 == s2 == 16
  for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p2)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
