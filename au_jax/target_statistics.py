"""E_au's batch statistics for the target path (config.train.target_path_statistics).

In training E_au normalises each of its four calls (F_s, F_t, F_tlsb, F_sltb) with that
call's batch statistics, and its running statistics, which inference uses, average the
four (ADLD's behaviour, 'mixed'). The target path's input, G_st(F_l, G_b(F)), is none of
the four: when G_st's output drifts from F in scale (the projectors of rows F and G make
it 1.3× wider on SynthAU), the target path is normalised with other features' statistics
and its probabilities move away from the 0.5 threshold (docs/method.md §10).

'wild' keeps a second set of E_au statistics, estimated on the target path's own
features of unlabelled wild training images (the images stage 2 already trains on)
before every evaluation, and the target path uses it; the source path and every
parameter are unchanged. This is domain-specific batch normalisation (AdaBN, Li et al.
2016) applied to one module; the paper and ADLD do not have it.
"""

import functools

import jax
import jax.numpy as jnp

from au_jax import config_lib
from au_jax import sharding

KEY = 'au_detector_target'  # batch_stats entry of the target path's E_au statistics


def has_target_statistics(config):
  """'wild' and a target path (the source-only baseline has none: there it is a no-op)."""
  return (config.train.target_path_statistics == 'wild'
          and not config_lib.is_source_only(config))


def for_path(variables, path):
  """The variables a path applies: the target path reads E_au's statistics from KEY
  when the model has them; otherwise `variables` as they are."""
  stats = variables.get('batch_stats', {})
  if path != 'target' or KEY not in stats:
    return variables
  return {**variables, 'batch_stats': {**stats, 'au_detector': stats[KEY]}}


def add_slot(variables):
  """`variables` with KEY initialised to E_au's statistics (a fixed tree for the
  train state and its checkpoints)."""
  stats = variables['batch_stats']
  # A copy, not an alias: the train state's buffers are donated to the step.
  copy = jax.tree.map(lambda x: x if isinstance(x, jax.ShapeDtypeStruct)
                      else jnp.array(x, copy=True), stats['au_detector'])
  return {**variables, 'batch_stats': {**stats, KEY: copy}}


@functools.partial(jax.jit, static_argnames=('model',))
def _update(model, variables, images):
  """One train-mode pass of E_au over the target path's features (computed in eval mode),
  starting from KEY's statistics; only KEY changes."""
  own = for_path(variables, 'target')
  mixed = model.apply(own, images, method='inference_outputs')['reconstructed']
  _, new = model.apply(own, mixed, True, method=lambda m, f, t: m.au_detector(f, t),
                       mutable=['batch_stats'])
  stats = {**variables['batch_stats'], KEY: new['batch_stats']['au_detector']}
  return {**variables, 'batch_stats': stats}


def estimate(model, variables, batches, steps, mesh=None):
  """`variables` with KEY re-estimated from E_au's running statistics on the target
  path's features of `steps` batches of (unlabelled) images. With momentum 0.9 the
  starting statistics keep a weight of 0.9^steps (0.002 at 60)."""
  start = variables['batch_stats']['au_detector']
  variables = {**variables, 'batch_stats': {**variables['batch_stats'], KEY: start}}
  count = 0
  for _, batch in zip(range(steps), batches):
    images = batch['image']
    images = sharding.to_global(images, mesh) if mesh is not None else images
    variables = _update(model, variables, images)
    count += 1
  if count < steps:
    raise ValueError(f'target path statistics: {steps} batches asked, {count} read')
  return variables
