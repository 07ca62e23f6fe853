"""Optimiser groups and schedules (docs/method.md §4), keyed on the model's top-level
module names."""

import jax
import optax

GROUPS = {
    'discriminators': ('landmark_discriminator', 'domain_discriminator_s',
                       'domain_discriminator_t'),
    'generators': ('background_generator', 'feature_generator'),
    'task': ('feature_encoder_s', 'feature_encoder_t', 'landmark_encoder', 'au_detector',
             'projector_feature', 'projector_landmark', 'projector_background'),
    'landmark': ('landmark_branch_s', 'landmark_branch_t', 'shared_blocks'),
}
_GROUP_OF = {module: group for group, modules in GROUPS.items() for module in modules}


def group_of(module_name):
  """The optimiser group of a top-level module of MultiTaskAUNet."""
  try:
    return _GROUP_OF[module_name]
  except KeyError:
    raise ValueError(f'module {module_name!r} belongs to no optimiser group') from None


def partition_labels(params):
  """A tree like `params` whose leaves are group names (for optax.multi_transform)."""
  return {name: jax.tree.map(lambda _, g=group_of(name): g, tree)
          for name, tree in params.items()}


# -- schedules and optimisers ----------------------------------------------------------------


def split_params(params, groups):
  """(params of the modules in `groups`, the rest), both dicts of top-level modules."""
  inside = {k: v for k, v in params.items() if group_of(k) in groups}
  outside = {k: v for k, v in params.items() if group_of(k) not in groups}
  return inside, outside


def stage1_schedule(cfg, steps_per_epoch):
  """lr × decay_factor every `decay_every_epochs` epochs (docs/method.md §4: ×0.5 every 10)."""
  return optax.exponential_decay(
      cfg.learning_rate, transition_steps=cfg.decay_every_epochs * steps_per_epoch,
      decay_rate=cfg.decay_factor, staircase=True)


def stage1_optimizer(cfg, steps_per_epoch):
  """Adam(0.9, 0.999) with L2 weight decay added to the gradient, as PyTorch's Adam."""
  return optax.chain(
      optax.add_decayed_weights(cfg.weight_decay),
      optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8),
      optax.scale_by_learning_rate(stage1_schedule(cfg, steps_per_epoch)))


def stage2_schedule(learning_rate, steps_per_epoch, constant_epochs, decay_epochs):
  """Constant for `constant_epochs`, then linear decay to 0 over `decay_epochs`."""
  return optax.join_schedules(
      [optax.constant_schedule(learning_rate),
       optax.linear_schedule(learning_rate, 0.0,
                             max(decay_epochs * steps_per_epoch, 1))],
      [constant_epochs * steps_per_epoch])


def stage2_schedules(cfg, steps_per_epoch):
  """{group: schedule} for the four optimiser groups of docs/method.md §4."""
  return {name: stage2_schedule(g.learning_rate, steps_per_epoch, cfg.constant_epochs,
                                cfg.decay_epochs)
          for name, g in cfg.groups.items()}


def source_only_optimizer(cfg, steps_per_epoch):
  """The source-only baseline: the task group's Adam and stage-2 schedule."""
  task = cfg.groups.task
  return optax.adam(stage2_schedule(task.learning_rate, steps_per_epoch,
                                    cfg.constant_epochs, cfg.decay_epochs),
                    b1=task.b1, b2=task.b2)


def _adam(group_cfg, schedule, flat=False):
  """Adam; `flat` keeps its moments as one vector for the whole group (optax.flatten):
  the same elementwise arithmetic, in a few kernels instead of a few per parameter."""
  tx = optax.adam(schedule, b1=group_cfg.b1, b2=group_cfg.b2, eps=1e-8)
  return optax.flatten(tx) if flat else tx


def stage2_optimizers(cfg, steps_per_epoch):
  """(discriminator optimiser, everything-else optimiser).

  Two separate optax transformations with separate states: inside one multi_transform a
  group still advances its Adam moments and count on steps where its gradient is zero,
  so the discriminator step and the generator step must not share a state (docs/method.md §4).
  The second one is an `optax.multi_transform` over the generators, task and landmark
  groups, labelled by top-level module name. With `cfg.flat_optimizer_state` each
  group's Adam moments are one flat vector (the same arithmetic in fewer kernels,
  docs/training.md "Kernels per step"); checkpoints written without it hold them per
  parameter, so a run resumes with the setting it started with.
  """
  schedules = stage2_schedules(cfg, steps_per_epoch)
  groups, flat = cfg.groups, bool(cfg.get('flat_optimizer_state', True))
  tx_d = _adam(groups.discriminators, schedules['discriminators'], flat)
  tx_g = optax.multi_transform(
      {name: _adam(groups[name], schedules[name], flat)
       for name in ('generators', 'task', 'landmark')},
      partition_labels)
  return tx_d, tx_g
