"""E_au's batch statistics of each inference path (config.train.target_path_statistics,
config.train.source_path_statistics).

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

'lab' (`source_path_statistics`) does the same for the source path E_au(E_f^s(I)), on
the labelled domain's training images (their labels unused). The mixed statistics put
the full method's lab-test F1 below source-only's (docs/method.md §10); 'lab' leaves the
target path, every parameter and training unchanged.
"""

import functools

import jax
import jax.numpy as jnp

from au_jax import ablations
from au_jax import config_lib
from au_jax import sharding
from au_jax.data import normalise_images

KEY = 'au_detector_target'  # batch_stats entry of the target path's E_au statistics
SOURCE_KEY = 'au_detector_source'  # the source path's own (config.train.source_path_statistics)
KEYS = {'target': KEY, 'source': SOURCE_KEY}


def adabn(config):
  """The source-only baseline with E_au statistics of its own for wild images."""
  return config.ablation == ablations.ADABN


def has_target_statistics(config):
  """'wild' and a target path (the source-only baseline has none: there it is a
  no-op), or the source-only + AdaBN row."""
  return adabn(config) or (config.train.target_path_statistics == 'wild'
                           and not config_lib.is_source_only(config))


def has_source_statistics(config):
  """'lab' and a model with more than the source path (source-only: a no-op)."""
  return (config.train.source_path_statistics == 'lab'
          and not config_lib.is_source_only(config))


def own_paths(config):
  """The inference paths that keep E_au statistics of their own under `config`."""
  return (('target',) if has_target_statistics(config) else ()) + (
      ('source',) if has_source_statistics(config) else ())


def reads(config, path):
  """The inference path whose features E_au reads while KEYS[path] is estimated: the
  path itself, except under AdaBN, whose target slot is estimated on E_f^s(I)."""
  return 'source' if path == 'target' and adabn(config) else path


def for_domain(variables, config, domain):
  """The variables evaluation applies to `domain`'s images: under AdaBN the wild
  images' own E_au statistics (the source path then reads them); else `variables`."""
  if domain == 'target' and adabn(config):
    stats = variables.get('batch_stats', {})
    if KEY in stats:
      return {**variables, 'batch_stats': {**stats, 'au_detector': stats[KEY]}}
  return variables


def for_path(variables, path):
  """The variables a path applies: a path reads E_au's statistics from its own entry
  (KEYS[path]) when the model has one; otherwise `variables` as they are."""
  stats = variables.get('batch_stats', {})
  if path not in KEYS or KEYS[path] not in stats:
    return variables
  return {**variables, 'batch_stats': {**stats, 'au_detector': stats[KEYS[path]]}}


def add_slot(variables, path='target'):
  """`variables` with KEYS[path] initialised to E_au's statistics (a fixed tree for
  the train state and its checkpoints)."""
  stats = variables['batch_stats']
  # A copy, not an alias: the train state's buffers are donated to the step.
  copy = jax.tree.map(lambda x: x if isinstance(x, jax.ShapeDtypeStruct)
                      else jnp.array(x, copy=True), stats['au_detector'])
  return {**variables, 'batch_stats': {**stats, KEYS[path]: copy}}


@functools.partial(jax.jit, static_argnames=('model', 'path', 'features_of'))
def _update(model, variables, images, path='target', features_of=None):
  """One train-mode pass of E_au over a path's features (computed in eval mode; of
  path `features_of`, by default `path`), starting from KEYS[path]'s statistics; only
  KEYS[path] changes."""
  own = for_path(variables, path)
  features = model.apply(own, normalise_images(images), features_of or path,
                         method='au_input')
  _, new = model.apply(own, features, True, method=lambda m, f, t: m.au_detector(f, t),
                       mutable=['batch_stats'])
  stats = {**variables['batch_stats'], KEYS[path]: new['batch_stats']['au_detector']}
  return {**variables, 'batch_stats': stats}


def estimate(model, variables, batches, steps, mesh=None, path='target', features_of=None):
  """`variables` with KEYS[path] re-estimated from E_au's running statistics on the
  path's features (those of path `features_of`, `reads(config, path)`, when given) of `steps`
  batches of images (labels unused). With momentum 0.9 the starting statistics keep a
  weight of 0.9^steps (0.002 at 60)."""
  key = KEYS[path]
  start = variables['batch_stats']['au_detector']
  variables = {**variables, 'batch_stats': {**variables['batch_stats'], key: start}}
  count = 0
  for _, batch in zip(range(steps), batches):
    images = batch['image']
    images = sharding.to_global(images, mesh) if mesh is not None else images
    variables = _update(model, variables, images, path, features_of)
    count += 1
  if count < steps:
    raise ValueError(f'{path} path statistics: {steps} batches asked, {count} read')
  return variables
