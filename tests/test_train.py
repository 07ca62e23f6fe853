"""Training (docs/method.md §2–4): schedules, the stage steps, resume, NaN stop, multi-device."""

import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fixtures
from au_jax import checkpointing
from au_jax import config_lib
from au_jax import evaluate
from au_jax import objective
from au_jax import optim
from au_jax import sharding
from au_jax import train
from data_pipelines import fakes

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKER = os.path.join(HERE, 'multidevice_worker.py')


def tiny(**overrides):
  config = config_lib.load_config(os.path.join(ROOT, 'configs', 'tiny.py'))
  config.train.log_every_steps = 1
  config.train.eval_batch_size = 8
  for key, value in overrides.items():
    node = config
    *path, last = key.split('.')
    for p in path:
      node = node[p]
    node[last] = value
  return config


def tiny_data(n=16, seed=0):
  rng = np.random.default_rng(seed)
  return fixtures.ArrayData(
      fakes.fake_arrays(rng, n, 32, 3), fakes.fake_arrays(rng, n, 32, 3),
      np.array([0.5, 1.0, 1.5], np.float32),
      eval_sets={'target_validation': ('target', fakes.fake_arrays(rng, 10, 32, 3))})


# -- schedules -----------------------------------------------------------------------------

def test_stage2_schedule_matches_spec_at_epoch_boundaries(paper_config):
  spe = 100
  schedules = optim.stage2_schedules(paper_config.stage2, spe)
  base = {'discriminators': 5e-5, 'generators': 5e-5, 'task': 1e-4, 'landmark': 5e-4}
  for group, lr in base.items():
    s = schedules[group]
    for epoch in range(0, 5):  # constant for 4 epochs
      np.testing.assert_allclose(s(epoch * spe), lr, rtol=1e-6)
    for epoch in range(4, 13):  # then linear to 0 over 8
      np.testing.assert_allclose(s(epoch * spe), lr * (12 - epoch) / 8, rtol=1e-5,
                                 atol=1e-12)
  assert float(schedules['task'](12 * spe + 50)) == 0.0


def test_stage1_schedule_halves_every_ten_epochs(paper_config):
  s = optim.stage1_schedule(paper_config.stage1, 10)
  for epoch, lr in ((0, 1e-3), (9, 1e-3), (10, 5e-4), (19, 5e-4), (20, 2.5e-4)):
    np.testing.assert_allclose(s(epoch * 10), lr, rtol=1e-6)


def test_optimiser_groups_cover_every_module(paper_config):
  model = config_lib.create_model(paper_config)
  x = jax.ShapeDtypeStruct((1, 176, 176, 3), jnp.float32)
  params = jax.eval_shape(lambda a: model.init(jax.random.key(0), a, a), x)['params']
  labels = optim.partition_labels(params)
  assert {m: jax.tree.leaves(labels[m])[0] for m in params} == {
      m: optim.group_of(m) for m in params}
  assert set(optim.group_of(m) for m in params) == {
      'discriminators', 'generators', 'task', 'landmark'}


def test_stage2_betas_per_group(paper_config):
  tx_d, tx_g = optim.stage2_optimizers(paper_config.stage2, 10)
  g = paper_config.stage2.groups
  assert (g.discriminators.b1, g.discriminators.b2) == (0.5, 0.9)
  assert (g.task.b1, g.task.b2) == (0.95, 0.999)
  # A gradient of 1 moves each group by its learning rate on Adam's first step.
  params = {'background_generator': jnp.zeros(2), 'au_detector': jnp.zeros(2),
            'landmark_branch_s': jnp.zeros(2)}
  updates, _ = tx_g.update(jax.tree.map(jnp.ones_like, params), tx_g.init(params), params)
  np.testing.assert_allclose(updates['background_generator'], -5e-5, rtol=1e-4)
  np.testing.assert_allclose(updates['au_detector'], -1e-4, rtol=1e-4)
  np.testing.assert_allclose(updates['landmark_branch_s'], -5e-4, rtol=1e-4)


# -- config errors ---------------------------------------------------------------------------

@pytest.mark.parametrize('key,value,message', [
    ('ablation', 'Z', 'config.ablation'),
    ('data.crop_size', 30, 'multiple of 4'),
    ('loss.au_loss', 'focal', 'config.loss.au_loss'),
    ('stage2.batch_size', 0, 'config.stage2.batch_size'),
])
def test_bad_config_values_fail_before_compilation(key, value, message, tmp_path):
  with pytest.raises(config_lib.ConfigError, match=message):
    train.train_and_evaluate(tiny(**{key: value}), str(tmp_path), tiny_data())


def test_more_aus_than_labels_fails(tmp_path):
  config = tiny(**{'data.au_ids': (1, 2, 4, 6)})
  with pytest.raises(config_lib.ConfigError, match='4 AUs'):
    train.train_and_evaluate(config, str(tmp_path), tiny_data())


def test_ablation_rows_set_their_switches():
  rows = {}
  for row in 'ADEFG':
    c = config_lib.prepare_config(tiny(ablation=row))
    rows[row] = (c.loss.source_landmark_branch, c.loss.intermediate_alignment,
                 c.loss.projectors, c.loss.au_loss, c.loss.target_heatmaps)
  assert rows['A'] == (False, False, False, 'bce', 'annotation')
  assert rows['D'] == (True, False, False, 'bce', 'branch')
  assert rows['E'] == (True, True, False, 'bce', 'branch')
  assert rows['F'] == (True, True, True, 'bce', 'branch')
  assert rows['G'] == (True, True, True, 'asymmetric', 'branch')


# -- the steps -------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def stage2_setup():
  # A 10× task learning rate so that a few dozen steps show a clear trend; every module
  # of the paper (two feature extractors).
  config = config_lib.prepare_config(tiny(**{'stage2.groups.task.learning_rate': 1e-3,
                                             'model.share_feature_encoder': False}))
  model = config_lib.create_model(config)
  mesh = sharding.make_mesh()
  variables = jax.jit(functools.partial(train.init_variables, model, config))(
      jax.random.key(0))
  return config, model, mesh, variables


def _state(setup, stage=2):
  config, _, mesh, variables = setup
  state = train.create_state(jax.tree.map(jnp.copy, variables), config, stage, 8)
  return jax.device_put(state, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))


@pytest.mark.xdist_group('stage2_setup')  # one worker builds the fixture
def test_losses_go_down(stage2_setup):
  config, model, mesh, _ = stage2_setup
  data = tiny_data(n=8)
  step = train.jit_step(train.make_stage2_step(model, config, 8, data.au_weights), mesh)
  state = _state(stage2_setup)
  src, tgt = data.source_batches(8), data.target_batches(8)
  history = []
  for _ in range(40):
    batch = sharding.to_global({'source': next(src), 'target': next(tgt)}, mesh)
    state, logs = step(state, batch)
    history.append(jax.device_get(logs))
  for term in ('au', 'lr', 'sr'):  # L_fl needs stage 1's epochs (pixel regression)
    first = np.mean([h[term] for h in history[:5]])
    last = np.mean([h[term] for h in history[-5:]])
    assert last < 0.9 * first, (term, first, last)


@pytest.mark.xdist_group('stage2_setup')  # one worker builds the fixture
def test_discriminator_update_changes_only_discriminators(stage2_setup):
  config, model, _, variables = stage2_setup
  data = tiny_data(n=8)
  src, tgt = next(data.source_batches(8)), next(data.target_batches(8))
  outputs, _ = model.apply(variables, src['image'], tgt['image'], True, method='features',
                           mutable=['batch_stats'])
  batch = {'source': src, 'target': tgt}
  idx_s, idx_t = objective.heatmap_indices(outputs, batch, config.loss,
                                           config.data.crop_size)
  tx_d, _ = optim.stage2_optimizers(config.stage2, 8)
  d_params, g_params = optim.split_params(variables['params'], ('discriminators',))
  assert set(d_params) == {m for m in variables['params']
                           if optim.group_of(m) == 'discriminators'}
  new, opt_d, logs = jax.jit(functools.partial(train.update_discriminators, model, tx_d))(
      d_params, tx_d.init(d_params), outputs, idx_s, idx_t)
  assert set(new) == set(d_params) and set(logs) >= {'loss_d', 'd_landmark', 'd_domain'}
  for module in d_params:  # every discriminator moved
    assert any(not np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(new[module]), jax.tree.leaves(d_params[module]))), module
  # ... and its gradient ignores the generators: the outputs enter as sg(features).
  grads = jax.grad(lambda f: jax.tree.leaves(train.update_discriminators(
      model, tx_d, d_params, tx_d.init(d_params), f, idx_s, idx_t)[0])[0].sum())(outputs)
  assert all(float(jnp.abs(g).sum()) == 0 for g in jax.tree.leaves(grads))


@pytest.mark.xdist_group('stage2_setup')  # one worker builds the fixture
def test_source_only_trains_only_encoder_and_au_detector(stage2_setup):
  config, model, mesh, variables = stage2_setup
  config = config_lib.prepare_config(tiny(ablation='source_only'))
  data = tiny_data(n=8)
  state = jax.device_put(train.create_state(jax.tree.map(jnp.copy, variables), config,
                                            'source_only', 8),
                         jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
  before = jax.device_get(state.params)
  step = train.jit_step(train.make_source_only_step(model, config, 8, data.au_weights),
                        mesh)
  batch = sharding.to_global({'source': next(data.source_batches(8)),
                           'target': next(data.target_batches(8))}, mesh)
  after = jax.device_get(step(state, batch)[0].params)
  for module in before:
    changed = any(not np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(before[module]), jax.tree.leaves(after[module])))
    assert changed == (module in ('feature_encoder_s', 'au_detector')), module


@pytest.mark.xdist_group('stage2_setup')
@pytest.mark.parametrize('ablation, reported', [('', {'source_validation', 'target_validation'}),
                                                 ('C', {'target_validation'}),
                                                 ('A', set()), ('source_only', set())])
def test_landmark_error_only_for_trained_branches(stage2_setup, ablation, reported):
  config, model, mesh, variables = stage2_setup
  config = config_lib.prepare_config(tiny(ablation=ablation))
  data = tiny_data()
  data.eval_sets['source_validation'] = ('source', data.source)
  results = evaluate.evaluate(model, variables, data, config, mesh)
  assert {n for n, r in results.items() if r['mean_error'] is not None} == reported
  for r in results.values():
    assert (r['failure_rate'] is None) == (r['mean_error'] is None)
    table = evaluate.format_tables({'x': r}, 0)
    assert ('no trained branch' in table) == (r['mean_error'] is None)


# -- whole runs: resume, NaN --------------------------------------------------------------------

def _params(workdir, config):
  mngr = checkpointing.manager(workdir, 'stage2', config)
  step = mngr.latest_step()
  restored = mngr.restore(step, args=checkpointing.ocp.args.Composite(
      state=checkpointing.ocp.args.StandardRestore()))
  return step, restored['state']['params']


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

  (s1, p1), (s2, p2) = _params(full, config), _params(resumed, config)
  assert s1 == s2 == 16
  for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p2)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  lines = [json.loads(l) for l in open(os.path.join(resumed, 'metrics.jsonl'))]
  assert any(l['kind'] == 'eval' and 'f1' in l for l in lines)
  assert any(l['kind'] == 'train' and 'lr' in l and 'au' in l for l in lines)


@pytest.mark.slow
def test_half_precision_follows_the_float32_loss_curve(tmp_path):
  # 50 stage-2 steps from the same initialisation and batches, in float32 and in
  # bfloat16 (float32 parameters and losses). Tolerance: bfloat16 keeps 8 bits of
  # mantissa (~0.4 % per rounding), so each of the first steps agrees within 2 %, and
  # the mean over the last 10 steps, after 50 Adam updates, within 10 %.
  curves = {}
  for half in (False, True):
    config = tiny(**{'stage1.epochs': 0, 'stage2.epochs': 7, 'train.max_steps': 50,
                     'half_precision': half})
    workdir = str(tmp_path / str(half))
    train.train_and_evaluate(config, workdir, tiny_data(n=16))
    rows = [json.loads(line) for line in open(os.path.join(workdir, 'metrics.jsonl'))]
    curves[half] = np.array([r['loss'] for r in rows if r.get('kind') == 'train'])
  full, half = curves[False], curves[True]
  assert len(full) == len(half) == 50
  np.testing.assert_allclose(half[:5], full[:5], rtol=0.02)
  np.testing.assert_allclose(half[-10:].mean(), full[-10:].mean(), rtol=0.10)
  assert full[-10:].mean() < 0.95 * full[:5].mean()  # both trained, not just agreed


def test_batch_and_learning_rates_scale_with_the_device_count():
  config = config_lib.prepare_config(config_lib.load_config(
      os.path.join(ROOT, 'configs', 'tpu_pod.py')))
  assert config_lib.scale_to_devices(tiny(), 16).stage2.batch_size == 2  # no scaling set
  scaled = config_lib.scale_to_devices(config, 16)  # a v4-32 slice
  assert scaled.stage1.batch_size == scaled.stage2.batch_size == 256
  factor = (256 / 8) ** 0.5
  assert scaled.stage2.groups.task.learning_rate == pytest.approx(1e-4 * factor)
  assert scaled.stage2.groups.discriminators.learning_rate == pytest.approx(5e-5 * factor)
  assert scaled.stage1.learning_rate == pytest.approx(1e-3 * factor)
  assert config.stage2.batch_size == 8  # the caller's config is untouched
  config.scaling.learning_rate_rule = 'linear'
  assert config_lib.scale_to_devices(config, 2).stage2.groups.task.learning_rate == \
      pytest.approx(1e-4 * 4)
  config.scaling.learning_rate_rule = 'cubic'
  with pytest.raises(config_lib.ConfigError, match='learning_rate_rule'):
    config_lib.scale_to_devices(config, 2)


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


class NaNAfter(fixtures.ArrayData):
  """Source images turn to NaN from global step `bad_from` on."""
  bad_from = 4

  def source_batches(self, global_batch_size, start_step=0):
    for i, batch in enumerate(super().source_batches(global_batch_size, start_step)):
      if start_step + i >= self.bad_from:
        batch = dict(batch, image=np.full_like(batch['image'], np.nan))
      yield batch


def test_nan_loss_stops_with_a_clear_message(tmp_path):
  config = tiny(**{'stage1.epochs': 0, 'stage2.epochs': 2,
                   'train.checkpoint_every_steps': 2})
  base = tiny_data()
  data = NaNAfter(base.source, base.target, base.au_weights, base.eval_sets)
  with pytest.raises(train.TrainingError, match=r'NaN/inf at step 5.*last good '
                     r'checkpoint is step 4'):
    train.train_and_evaluate(config, str(tmp_path), data)
  assert checkpointing.manager(str(tmp_path), 'stage2', config).latest_step() == 4


KILL_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'kill_worker.py')


def _steps(folder):
  """Finished saves only: orbax writes into a temporary folder and renames it at the end."""
  return sorted(int(n) for n in os.listdir(folder) if n.isdigit()) if os.path.isdir(
      folder) else []


def _start(workdir, delay):
  env = dict(os.environ, JAX_PLATFORMS='cpu', JAX_ENABLE_COMPILATION_CACHE='false')
  return subprocess.Popen([sys.executable, KILL_WORKER, workdir, '--delay', str(delay)],
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
  import kill_worker  # pylint: disable=g-import-not-at-top
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

  (s1, p1), (s2, p2) = _params(full, config), _params(killed, config)
  assert s1 == s2 == 16
  for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p2)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# -- several devices and processes ----------------------------------------------------------------

def _worker(out, devices, *extra, env_extra=None):
  # No persistent compilation cache in the workers: with it, two distributed processes
  # were seen to hang at exit (one loads from the cache, the other compiles).
  env = dict(os.environ, XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}',
             JAX_PLATFORMS='cpu', JAX_ENABLE_COMPILATION_CACHE='false',
             **(env_extra or {}))
  return subprocess.Popen([sys.executable, WORKER, str(out), *extra], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(*procs):
  for p in procs:
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0, out[-3000:]


def _compare(a, b):
  """Equal up to float noise. Some biases have zero true gradient: conv biases followed by a
  norm, and E_l's per-landmark logit bias (a constant under the spatial soft-max). Adam turns
  reduction-order noise into lr-sized steps there; they get lr·steps."""
  a, b = np.load(a), np.load(b)
  assert set(a) == set(b)
  for key in a:
    # The [conv, norm, PReLU] units name their conv Conv_0; D_d's 'down' convs feed IN.
    normalised = key.endswith("['Conv_0']['bias']") or (
        "['down" in key and key.endswith("['bias']")) or (
        key.endswith("['landmark_encoder']['logits']['bias']"))
    atol = 3 * 5e-4 if normalised else 2e-5
    np.testing.assert_allclose(a[key], b[key], atol=atol, rtol=1e-4, err_msg=key)


@pytest.fixture(scope='module')
def one_device_params(tmp_path_factory):
  out = tmp_path_factory.mktemp('mesh') / 'one.npz'
  _wait(_worker(out, 1))
  return out


@pytest.mark.slow  # two subprocess trainings: two minutes cold (the default run still
# trains on 4 simulated devices: test_restore_onto_another_device_count)
def test_eight_devices_match_one(one_device_params, tmp_path):
  out = tmp_path / 'eight.npz'
  _wait(_worker(out, 8))
  _compare(one_device_params, out)


def _free_port():
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


@pytest.mark.slow  # two processes + gloo start-up: about a minute with idle cores
def test_two_processes_match_one(one_device_params, tmp_path):
  out = tmp_path / 'two.npz'
  port = _free_port()
  procs = [_worker(out, 2, '--coordinator', f'localhost:{port}', '--num-processes', '2',
                   '--process-id', str(i)) for i in range(2)]
  _wait(*procs)
  _compare(one_device_params, out)


def test_restore_onto_another_device_count(tmp_path):
  config = tiny(**{'stage1.epochs': 0, 'stage2.epochs': 1})
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(config, workdir, tiny_data())
  out = tmp_path / 'restored.npz'
  _wait(_worker(out, 4, '--restore', workdir))
  _, params = _params(workdir, config)
  restored = np.load(out)
  leaves = jax.tree_util.tree_leaves_with_path(params)
  assert len(leaves) == len(restored.files)
  for path, value in leaves:
    np.testing.assert_array_equal(restored[jax.tree_util.keystr(path)], value)


@pytest.mark.parametrize('name', ['default', 'bp4d_emotionet', 'disfa_emotionet',
                                  'bp4d_emotionet_pseudo', 'disfa_emotionet_pseudo',
                                  'adld_baseline', 'source_only', 'synthetic', 'tiny',
                                  'table7', 'tpu_pod'])
def test_every_config_file_validates_and_builds(name):
  config = config_lib.prepare_config(
      config_lib.load_config(os.path.join(ROOT, 'configs', f'{name}.py')))
  model = config_lib.create_model(config)
  size = config.data.crop_size
  x = jax.ShapeDtypeStruct((2, size, size, 3), jnp.float32)
  params = jax.eval_shape(lambda a: model.init(jax.random.key(0), a, a), x)['params']
  assert params['au_detector'].keys() == {f'head{i}' for i in range(len(config.data.au_ids))}
  if name == 'adld_baseline':
    assert 'feature_encoder_t' not in params and 'projector_feature' not in params
