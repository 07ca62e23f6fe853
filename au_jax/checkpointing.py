"""Orbax checkpoints of the whole training state under WORKDIR/checkpoints/<stage>.

Kept: the last `config.train.keep_checkpoints` saves plus the best by validation F1.
Saves are asynchronous: `save` returns once the state is copied to host memory, and
orbax writes it in a background thread while training goes on (the next save, `restore`
and the end of each stage wait for it). They are atomic (orbax writes to a temporary
folder and renames it when the write has finished), so a run killed at any moment, even
by kill -9, restarts from the last finished save and loses at most the steps since it:
`checkpoint_every_steps`, or one epoch if smaller, plus a save still being written.
Restoring builds the target from the current state's shapes with the current mesh's
replicated sharding, so a checkpoint restores onto any device count. The model's
variables are checked against the checkpoint's metadata first: a checkpoint of another
model shape fails with one line naming the variable, before any array is read.
"""

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy

from au_jax import errors
from au_jax import paths

METRIC = 'val_f1'


class ShapeMismatch(errors.InputError):
  """A checkpoint holds variables of another shape, or lacks some."""


def manager(workdir, stage, config, async_save=True):
  """The manager of WORKDIR/checkpoints/<stage>; async_save=False makes save() block
  until the checkpoint is written (as before async saves; kept for measurements)."""
  # A local workdir is made absolute; a URL (gs://...) stays one: orbax writes there
  # from every process, each its own shards, and process 0 the metadata.
  directory = paths.resolve(workdir) / 'checkpoints' / str(stage)
  policy = preservation_policy.AnyPreservationPolicy([
      preservation_policy.LatestN(config.train.keep_checkpoints),
      preservation_policy.BestN(get_metric_fn=lambda m: m[METRIC], n=1,
                                keep_checkpoints_without_metrics=False),
  ])
  options = ocp.CheckpointManagerOptions(
      preservation_policy=policy, best_fn=lambda m: m[METRIC], best_mode='max',
      enable_async_checkpointing=async_save, cleanup_tmp_directories=True)
  # Named handlers, so that a new manager can read a save's metadata before restoring.
  return ocp.CheckpointManager(
      directory, options=options, item_names=('state', 'meta'),
      item_handlers={'state': ocp.StandardCheckpointHandler(),
                     'meta': ocp.JsonCheckpointHandler()})


def read_only_manager(directory):
  """A manager that only reads the saves of `directory` (inference, evaluation)."""
  from absl import logging  # pylint: disable=g-import-not-at-top
  options = ocp.CheckpointManagerOptions(
      read_only=True, create=False, save_interval_steps=0,
      best_fn=lambda m: m.get(METRIC, float('-inf')), best_mode='max')
  verbosity = logging.get_verbosity()
  logging.set_verbosity(logging.ERROR)  # orbax warns that a read-only folder is read-only
  try:
    return ocp.CheckpointManager(
        directory, options=options, item_names=('state', 'meta'),
        item_handlers={'state': ocp.PyTreeCheckpointHandler(),
                       'meta': ocp.JsonCheckpointHandler()})
  finally:
    logging.set_verbosity(verbosity)


def save(mngr, step, state, scores=None, meta=None):
  """Starts saving `state` as `step`; returns while it is written (wait_until_finished)."""
  mngr.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                          meta=ocp.args.JsonSave(meta or {})),
            metrics=scores)


def _abstract(state, mesh):
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=replicated), state)


def saved_tree(mngr, step):
  """The nested dict of array metadata (.shape, .dtype) of `step`'s state."""
  saved = mngr.item_metadata(step)['state']
  return getattr(saved, 'tree', saved)


def check_shapes(variables, saved, where):
  """ShapeMismatch naming the first variable of the dict tree `variables` that the
  checkpoint `saved` (saved_tree) lacks or holds in another shape."""
  for keys, leaf in jax.tree_util.tree_flatten_with_path(variables)[0]:
    node, name = saved, '/'.join(str(getattr(k, 'key', k)) for k in keys)
    for k in keys:
      key = getattr(k, 'key', k)
      if not isinstance(node, dict) or key not in node:
        raise ShapeMismatch(f'{where} has no variable {name}: the config does not '
                            'describe the model this checkpoint was trained with')
      node = node[key]
    if tuple(node.shape) != tuple(leaf.shape):
      raise ShapeMismatch(f'{where}: variable {name} has shape {tuple(node.shape)} in '
                          f'the checkpoint but {tuple(leaf.shape)} in the config')


def restore(mngr, step, state, mesh):
  """(state restored from `step` onto `mesh`, its meta dict); ShapeMismatch, before
  anything is read, if the model's variables do not fit the checkpoint."""
  mngr.wait_until_finished()  # a save of this manager may still be being written
  saved = saved_tree(mngr, step)
  if saved is not None:  # a save without metadata: orbax's own check, when it reads
    check_shapes({'params': state.params, 'batch_stats': state.batch_stats}, saved,
                 f'{mngr.directory}/{step}')
  out = mngr.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(_abstract(state, mesh)), meta=ocp.args.JsonRestore()))
  return out['state'], out['meta']


def restore_latest(mngr, state, mesh):
  """(state, True) restored from the latest checkpoint, or (state, False) if none."""
  mngr.wait_until_finished()
  step = mngr.latest_step()
  if step is None:
    return state, False
  return restore(mngr, step, state, mesh)[0], True


def best_or_latest_step(mngr):
  best = mngr.best_step()
  return best if best is not None else mngr.latest_step()


def choose_step(mngr, where, step=None):
  """`step` if it was saved, else the best step by validation F1, else the latest;
  InputError naming `where` when there is none."""
  steps = list(mngr.all_steps())
  if not steps:
    raise errors.InputError(f'{where} holds no finished checkpoint')
  if step is not None:
    if step not in steps:
      raise errors.InputError(f'step {step} is not in {where} (steps: '
                              f'{", ".join(map(str, sorted(steps)))})')
    return step
  return best_or_latest_step(mngr)


def restore_variables(stage_dir, step, shapes, sharding):
  """(the variables of the dict tree `shapes` (e.g. params and batch_stats of the
  inference paths only), placed with `sharding`; the step read; its meta dict) from the
  saves of `stage_dir`. step None = the best step, else the latest. The rest of the
  training state is not read."""
  mngr = read_only_manager(stage_dir)
  step = choose_step(mngr, stage_dir, step)
  check_shapes(shapes, saved_tree(mngr, step), f'{stage_dir}/{step}')
  item = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding),
                      shapes)
  out = mngr.restore(step, args=ocp.args.Composite(
      state=ocp.args.PyTreeRestore(
          item=item, restore_args=ocp.checkpoint_utils.construct_restore_args(item),
          partial_restore=True),
      meta=ocp.args.JsonRestore()))
  mngr.close()
  return dict(out['state']), step, dict(out['meta'] or {})
