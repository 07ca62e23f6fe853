"""Two-stage training (docs/method.md §2–4): steps, the loop, checkpoints. Everything
here is importable and testable; `au-jax train` only parses flags and calls
`train_and_report`.

Data parallelism is global-view (`au_jax.sharding`): each step is written for one
device and `jax.jit`-ed over a 1-D mesh, the batch sharded on 'data' and the state
replicated. Evaluation at each epoch end is `au_jax.evaluate`.
"""

import functools
import math
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from au_jax import checkpointing
from au_jax import config_lib
from au_jax import curves
from au_jax import data as data_lib
from au_jax import evaluate
from au_jax import objective
from au_jax import optim
from au_jax import paths
from au_jax import provenance
from au_jax import reporting
from au_jax import sharding
from au_jax import target_statistics
from au_jax.models import init_feature_encoders_from_branches

sg = jax.lax.stop_gradient


class TrainingError(RuntimeError):
  """Training cannot go on (e.g. a loss became NaN); the message says why and what is kept."""


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_g: Any   # stage 1: landmark branches; stage 2: generators + task + landmark groups
  opt_d: Any   # stage 2: discriminators, a state of its own (docs/method.md §4); () otherwise


# -- state --------------------------------------------------------------------------------

def init_variables(model, config, rng):
  size = config.data.crop_size
  x = jnp.zeros((2, size, size, 3), jnp.float32)
  return model.init(rng, x, x, train=False)


# The modules each single-optimiser stage trains.
_TRAINED = {1: optim.GROUPS['landmark'], 'source_only': ('feature_encoder_s', 'au_detector')}


def _subset(params, names):
  return {k: v for k, v in params.items() if k in names}


def create_state(variables, config, stage, steps_per_epoch):
  """A TrainState at step 0 for `stage` (1, 2 or 'source_only')."""
  params = variables['params']
  if stage == 2:
    tx_d, tx_g = optim.stage2_optimizers(config.stage2, steps_per_epoch)
    d_params, g_params = optim.split_params(params, ('discriminators',))
    opt_g, opt_d = tx_g.init(g_params), tx_d.init(d_params)
  else:
    tx = (optim.stage1_optimizer(config.stage1, steps_per_epoch) if stage == 1 else
          optim.source_only_optimizer(config.stage2, steps_per_epoch))
    opt_g, opt_d = tx.init(_subset(params, _TRAINED[stage])), ()
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    batch_stats=variables.get('batch_stats', {}), opt_g=opt_g, opt_d=opt_d)


# -- steps (pure functions of (state, batch)) ---------------------------------------------

def make_stage1_step(model, config, steps_per_epoch):
  """Stage 1: both landmark branches with L_fl (Eq. 1); nothing else changes."""
  tx = optim.stage1_optimizer(config.stage1, steps_per_epoch)
  schedule = optim.stage1_schedule(config.stage1, steps_per_epoch)
  names = _TRAINED[1]
  loss_cfg = config.loss

  def step(state, batch):
    trained = _subset(state.params, names)

    def loss_fn(trained):
      variables = {'params': {**state.params, **trained}, 'batch_stats': state.batch_stats}
      (ls, lt), mutated = model.apply(
          variables, batch['source']['image'], batch['target']['image'], True,
          method='landmarks', mutable=['batch_stats'])
      total, terms = objective.stage1_objective(
          ls, lt, batch, loss_cfg.source_landmark_branch, loss_cfg.target_landmark_branch)
      return total, (terms, mutated['batch_stats'])

    (total, (terms, stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(trained)
    updates, opt_g = tx.update(grads, state.opt_g, trained)
    trained = optax.apply_updates(trained, updates)
    new_state = state.replace(step=state.step + 1, params={**state.params, **trained},
                              batch_stats={**state.batch_stats, **stats}, opt_g=opt_g)
    return new_state, {'loss': total, **terms, 'lr/landmark': schedule(state.step)}

  return step


def update_discriminators(model, tx_d, d_params, opt_d, features, idx_s, idx_t,
                          target_weights=None):
  """The first half of a stage-2 iteration: D_l, D_d^s and D_d^t on sg(features).

  Returns (new discriminator params, their Adam state, the loss terms); it sees no
  other parameter, so it can change no other.
  """
  def d_loss(d_params):
    disc = model.apply({'params': d_params}, sg(features), method='discriminate')
    return objective.discriminator_objective(disc, idx_s, idx_t, target_weights)

  (d_total, d_terms), d_grads = jax.value_and_grad(d_loss, has_aux=True)(d_params)
  d_updates, opt_d = tx_d.update(d_grads, opt_d, d_params)
  return optax.apply_updates(d_params, d_updates), opt_d, {'loss_d': d_total, **d_terms}


def make_stage2_step(model, config, steps_per_epoch, au_weights):
  """One stage-2 iteration: discriminators first, then everything else against the
  updated discriminators (ADLD order, docs/method.md §2–4).

  The generator-side forward graph runs once: its pullback (jax.vjp) is kept, the
  discriminators are updated on stop-gradient features, and the generator objective's
  gradient with respect to the features is pulled back to the parameters.
  """
  tx_d, tx_g = optim.stage2_optimizers(config.stage2, steps_per_epoch)
  schedules = optim.stage2_schedules(config.stage2, steps_per_epoch)
  loss_cfg, crop = config.loss, config.data.crop_size
  au_weights = jnp.asarray(au_weights, jnp.float32)

  def step(state, batch):
    d_params, g_params = optim.split_params(state.params, ('discriminators',))
    xs, xt = batch['source']['image'], batch['target']['image']

    def forward(g_params):
      variables = {'params': {**g_params, **d_params}, 'batch_stats': state.batch_stats}
      outputs, mutated = model.apply(variables, xs, xt, True, method='features',
                                     mutable=['batch_stats'])
      return outputs, mutated['batch_stats']

    outputs, pullback, stats = jax.vjp(forward, g_params, has_aux=True)
    idx_s, idx_t = objective.heatmap_indices(outputs, batch, loss_cfg, crop)

    # 1. Discriminators on stop-gradient features.
    d_params, opt_d, d_logs = update_discriminators(
        model, tx_d, d_params, state.opt_d, outputs, idx_s, idx_t,
        objective.target_landmark_weights(loss_cfg))

    # 2. Everything else against the updated discriminators.
    def g_loss(outputs):
      disc = model.apply({'params': d_params}, outputs, method='discriminate')
      return objective.generator_objective(outputs, disc, batch, idx_s, idx_t, au_weights,
                                           loss_cfg)

    (g_total, g_terms), d_outputs = jax.value_and_grad(g_loss, has_aux=True)(outputs)
    (g_grads,) = pullback(d_outputs)
    g_updates, opt_g = tx_g.update(g_grads, state.opt_g, g_params)
    g_params = optax.apply_updates(g_params, g_updates)

    new_state = state.replace(step=state.step + 1, params={**g_params, **d_params},
                              batch_stats={**state.batch_stats, **stats},
                              opt_g=opt_g, opt_d=opt_d)
    logs = {'loss': g_total, **g_terms, **d_logs}
    logs.update({f'lr/{g}': s(state.step) for g, s in schedules.items()})
    return new_state, logs

  return step


def make_source_only_step(model, config, steps_per_epoch, au_weights):
  """The source-only baseline: E_f^s + E_au trained with the AU loss, no adaptation."""
  tx = optim.source_only_optimizer(config.stage2, steps_per_epoch)
  names = _TRAINED['source_only']
  au_weights = jnp.asarray(au_weights, jnp.float32)

  def step(state, batch):
    trained = _subset(state.params, names)
    src = batch['source']

    def loss_fn(trained):
      variables = {'params': {**state.params, **trained}, 'batch_stats': state.batch_stats}
      logits, mutated = model.apply(variables, src['image'], True,
                                    method='source_au_logits', mutable=['batch_stats'])
      loss = objective.au_loss(logits, src['au'], src['au_mask'], au_weights, config.loss)
      return loss, mutated['batch_stats']

    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(trained)
    updates, opt_g = tx.update(grads, state.opt_g, trained)
    trained = optax.apply_updates(trained, updates)
    new_state = state.replace(step=state.step + 1, params={**state.params, **trained},
                              batch_stats={**state.batch_stats, **stats}, opt_g=opt_g)
    return new_state, {'loss': loss, 'au': loss}

  return step


def jit_step(step_fn, mesh):
  """jit over the mesh: state replicated and donated, batch sharded on 'data'. Images
  may arrive as uint8 (as the tf.data pipeline sends them): they become the model's
  [-1, 1] floats inside the compiled step."""
  replicated = sharding.replicated(mesh)

  def step(state, batch):
    return step_fn(state, data_lib.normalise_batch(batch))

  return jax.jit(step, in_shardings=(replicated, sharding.batch_sharded(mesh)),
                 out_shardings=(replicated, replicated), donate_argnums=0)


# -- the loop -----------------------------------------------------------------------------

def _run_stage(stage, state, step_fn, *, config, data, mesh, model, batch_size, epochs,
               manager, reporter, evaluate_each_epoch, changed=()):
  spe = data.steps_per_epoch(batch_size)
  if spe <= 0:
    raise TrainingError(f'the source training split has fewer examples than one batch '
                        f'of {batch_size}')
  total = epochs * spe
  if config.train.max_steps > 0:
    total = min(total, config.train.max_steps)
  try:
    state, restored = checkpointing.restore_latest(manager, state, mesh)
  except ValueError:
    if not changed:
      raise
    raise config_lib.ConfigError(
        f'{manager.directory} holds a model of another shape: this config changes '
        f'{", ".join(changed)} against the workdir\'s config.json; train into a new '
        '--workdir, or set those fields back') from None
  start = int(state.step)
  if restored:
    reporter.log(f'stage {stage}: resumed from step {start} of {total}')
  if start >= total:
    return state
  jitted = jit_step(step_fn, mesh)
  # Commit the state to the replicated sharding the step returns, so that the second
  # step does not compile again for a different input sharding.
  state = jax.device_put(state, sharding.replicated(mesh))
  pairs = ({'source': s, 'target': t} for s, t in zip(
      data.source_batches(batch_size, start), data.target_batches(batch_size, start)))
  batches = sharding.prefetch_to_mesh(pairs, mesh, size=2)
  reporter.start(stage, start, total, spe, batch_size)
  last_good = manager.latest_step()
  try:  # the last save is finished when the stage ends, or stops on an error
    for step in range(start, total):
      state, logs = jitted(state, next(batches))
      done = step + 1
      epoch_end = done % spe == 0 or done == total
      if done % config.train.log_every_steps == 0 or epoch_end:
        logs = jax.device_get(logs)
        if not all(np.isfinite(v) for v in logs.values()):
          bad = sorted(k for k, v in logs.items() if not np.isfinite(v))
          raise TrainingError(
              f'stage {stage}: {", ".join(bad)} became NaN/inf at step {done}; stopped. '
              f'The last good checkpoint is step {last_good} in {manager.directory}')
        reporter.train_step(stage, done, logs)
      if epoch_end or done % config.train.checkpoint_every_steps == 0:
        scores = None
        if epoch_end and evaluate_each_epoch:
          variables = {'params': state.params, 'batch_stats': state.batch_stats}
          for path in target_statistics.own_paths(config):  # E_au statistics per path
            stream = (data.target_batches if path == 'target' else data.source_batches)
            variables = target_statistics.estimate(
                model, variables, stream(batch_size),
                config.train.target_statistics_batches, mesh, path,
                features_of=target_statistics.reads(config, path))
          state = state.replace(batch_stats=variables['batch_stats'])
          results = evaluate.evaluate(model, variables, data, config, mesh)
          reporter.evaluation(stage, done, results)
          best = results.get(config.train.best_split)
          scores = {'val_f1': best['f1_mean']} if best else None
        checkpointing.save(manager, done, state, scores,
                           {'stage': str(stage), 'epoch': math.ceil(done / spe)})
        last_good = done
  finally:
    manager.wait_until_finished()
  return state


def train_and_evaluate(config, workdir, data=None):
  """Runs both stages (or the source-only baseline) and evaluates the best checkpoint.

  Resumes automatically from the latest checkpoints in `workdir`. Returns the final
  evaluation results (also written to WORKDIR/results.json).
  """
  config = config_lib.scale_to_devices(config_lib.prepare_config(config),
                                       jax.device_count())
  paths.check(workdir, 'workdir')  # a URL nothing opens fails here, before any work
  if config.data.data_dir:
    paths.check(config.data.data_dir, 'config.data.data_dir')
  mesh = sharding.make_mesh()
  model = config_lib.create_model(config)
  if data is None:
    from au_jax.data import PreparedData  # pylint: disable=g-import-not-at-top
    data = PreparedData(config, jax.process_index(), jax.process_count())
  for stage_cfg in (config.stage1, config.stage2):
    if stage_cfg.batch_size % jax.device_count():
      raise config_lib.ConfigError(
          f'batch size {stage_cfg.batch_size} is not divisible by the '
          f'{jax.device_count()} devices')
  if len(data.au_weights) != config_lib.num_aus(config):
    raise config_lib.ConfigError(
        f'config.data.au_ids has {config_lib.num_aus(config)} AUs but the data has '
        f'weights for {len(data.au_weights)}')
  changed = config_lib.changed_fields(workdir, config)
  reporter = reporting.Reporter(workdir)
  try:  # closed on errors too (a NaN stop, a bad checkpoint): its metrics are flushed
    if jax.process_index() == 0:
      config_lib.save_config(config, workdir)
      provenance.record(workdir, config)  # code, libraries, devices, seed
    variables = jax.jit(functools.partial(init_variables, model, config),
                        out_shardings=sharding.replicated(mesh))(jax.random.key(config.seed))
    run = functools.partial(_run_stage, config=config, data=data, mesh=mesh, model=model,
                            reporter=reporter, changed=changed)

    source_only = config_lib.is_source_only(config)
    branches = config.loss.source_landmark_branch or config.loss.target_landmark_branch
    if not source_only and branches and config.stage1.epochs > 0:
      spe1 = data.steps_per_epoch(config.stage1.batch_size)
      state = run(1, create_state(variables, config, 1, spe1),
                  make_stage1_step(model, config, spe1),
                  batch_size=config.stage1.batch_size, epochs=config.stage1.epochs,
                  manager=checkpointing.manager(workdir, 'stage1', config),
                  evaluate_each_epoch=False)
      variables = {'params': state.params, 'batch_stats': state.batch_stats}
      variables = init_feature_encoders_from_branches(variables, _encoder_sources(config))

    stage = 'source_only' if source_only else 2
    for path in target_statistics.own_paths(config):
      variables = target_statistics.add_slot(variables, path)
    spe2 = data.steps_per_epoch(config.stage2.batch_size)
    make = make_source_only_step if source_only else make_stage2_step
    manager = checkpointing.manager(workdir, 'stage2', config)
    state = run(stage, create_state(variables, config, stage, spe2),
                make(model, config, spe2, data.au_weights),
                batch_size=config.stage2.batch_size, epochs=config.stage2.epochs,
                manager=manager, evaluate_each_epoch=True)

    best_step = checkpointing.best_or_latest_step(manager)
    if best_step is not None and best_step != int(state.step):
      state, _ = checkpointing.restore(manager, best_step, state, mesh)
    variables = {'params': state.params, 'batch_stats': state.batch_stats}
    results = evaluate.evaluate(model, variables, data, config, mesh)
    reporter.final(results, best_step)
    if jax.process_index() == 0:
      curves.plot_after_training(workdir, reporter.log)
    return results
  finally:
    reporter.close()


def train_and_report(config, workdir, command):
  """train_and_evaluate for a command: a TrainingError (e.g. a NaN loss) becomes one
  printed line and exit status 1."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.set_visible_devices([], 'GPU')  # tf.data only; the accelerators are JAX's
  try:
    train_and_evaluate(config, workdir)
  except TrainingError as e:
    print(f'au-jax {command}: error: {e}')
    return 1
  return 0


def _encoder_sources(config):
  """(E_f domain, landmark branch domain) pairs for the copy after stage 1."""
  on = [d for d, flag in (('s', config.loss.source_landmark_branch),
                          ('t', config.loss.target_landmark_branch)) if flag]
  if config.model.share_feature_encoder:  # one E_f: from the source branch if trained
    return [('s', on[0])] if on else []
  return [(d, d) for d in on]
