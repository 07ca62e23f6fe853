"""Config loading, validation and the Table 7 ablation switches.

Every check here runs before anything is compiled, so a bad value fails with one line
(`ConfigError`) instead of a traceback from inside JAX.
"""

import importlib.util
import json
import os
import sys

import ml_collections

from au_jax.models import MultiTaskAUNet


class ConfigError(ValueError):
  """A config value that cannot work; the message names the field."""


# Table 7 rows (docs/method.md §9). A is ADLD (the paper's baseline BL): one shared E_f,
# self-reconstruction and the two-pair cross-cycle term, weighted BCE, no landmark
# branches (heat maps from the target annotations). B–G add SD/TD = source/target
# landmark branch, AS = the six-pair alignment L_sr of Eq. 8 (in place of the cross-cycle
# term), AP = projectors, AL = the weighted asymmetric loss. Where the paper is silent
# (self-reconstruction, the loss weights) B–G keep A's config values; whether E_f is
# shared is `config.model.share_feature_encoder` for B–G.
_BL = dict(source_landmark_branch=False, target_landmark_branch=False,
           intermediate_alignment=False, projectors=False, au_loss='bce')
ABLATIONS = {
    'A': dict(_BL),
    'B': dict(_BL, source_landmark_branch=True),
    'C': dict(_BL, target_landmark_branch=True),
    'D': dict(_BL, source_landmark_branch=True, target_landmark_branch=True),
    'E': dict(_BL, source_landmark_branch=True, target_landmark_branch=True,
              intermediate_alignment=True),
    'F': dict(_BL, source_landmark_branch=True, target_landmark_branch=True,
              intermediate_alignment=True, projectors=True),
    'G': dict(_BL, source_landmark_branch=True, target_landmark_branch=True,
              intermediate_alignment=True, projectors=True, au_loss='asymmetric'),
}
OTHER_MODES = ('', 'source_only')


def load_config(path):
  """Runs `get_config()` of a config file (the same files `--config` takes)."""
  if not os.path.isfile(path):
    raise ConfigError(f'config file not found: {path}')
  root = os.path.dirname(os.path.dirname(os.path.abspath(path)))
  if root not in sys.path:  # lets `from configs import default` work from anywhere
    sys.path.insert(0, root)
  spec = importlib.util.spec_from_file_location('_au_jax_config', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


SAVED_CONFIG = 'config.json'


def save_config(config, workdir):
  """Writes WORKDIR/config.json, what evaluation and inference rebuild the model from."""
  with open(os.path.join(workdir, SAVED_CONFIG), 'w', encoding='utf-8') as f:
    f.write(config.to_json_best_effort(indent=1))


def load_saved_config(workdir):
  """The config a workdir was trained with. Fields added to configs/default.py since
  then take their default values, so older workdirs still load."""
  path = os.path.join(workdir, SAVED_CONFIG)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{path} not found: is {workdir} a training workdir?')
  with open(path, encoding='utf-8') as f:
    saved = json.load(f)
  from configs import default  # pylint: disable=g-import-not-at-top
  config = default.get_config().to_dict()
  _merge_into(config, saved)
  return ml_collections.ConfigDict(config)


def _merge_into(base, new):
  for key, value in new.items():
    if isinstance(value, dict) and isinstance(base.get(key), dict):
      _merge_into(base[key], value)
    else:
      base[key] = value


def apply_ablation(config):
  """Returns a copy of `config` with the switches of `config.ablation` set."""
  config = ml_collections.ConfigDict(config.to_dict())
  row = config.ablation
  if row in ABLATIONS:
    config.loss.update(ABLATIONS[row])
    if row == 'A':
      config.model.share_feature_encoder = True  # ADLD has one E_f for both domains
    if not config.loss.target_landmark_branch:
      config.loss.target_heatmaps = 'annotation'  # no branch to make them (ADLD)
  return config


def validate(config):
  """Raises ConfigError naming the first bad field; returns the config."""
  d, m, loss = config.data, config.model, config.loss
  if config.ablation not in ABLATIONS and config.ablation not in OTHER_MODES:
    raise ConfigError(f"config.ablation={config.ablation!r} is not one of "
                      f"{', '.join(repr(k) for k in (*OTHER_MODES, *ABLATIONS))}")
  if d.crop_size <= 0 or d.crop_size % 4:
    raise ConfigError(f'config.data.crop_size={d.crop_size} must be a positive '
                      'multiple of 4 (the heat-map side is crop_size / 4)')
  if d.crop_size < 32:
    raise ConfigError(f'config.data.crop_size={d.crop_size} is below 32, too small for '
                      'the five pooling blocks of the landmark branches')
  if d.aligned_size < d.crop_size:
    raise ConfigError(f'config.data.aligned_size={d.aligned_size} is smaller than '
                      f'config.data.crop_size={d.crop_size}')
  if not d.au_ids:
    raise ConfigError('config.data.au_ids is empty')
  if len(set(d.au_ids)) != len(d.au_ids):
    raise ConfigError(f'config.data.au_ids={tuple(d.au_ids)} has duplicates')
  if d.num_landmarks != 49:
    raise ConfigError(f'config.data.num_landmarks={d.num_landmarks}: only the 49 inner '
                      'points are supported (68 and 66 are converted at prepare time)')
  if len(m.landmark_channels) != 5:
    raise ConfigError('config.model.landmark_channels needs 5 entries, got '
                      f'{tuple(m.landmark_channels)}')
  if loss.au_loss not in ('asymmetric', 'bce'):
    raise ConfigError(f"config.loss.au_loss={loss.au_loss!r} is not 'asymmetric' or 'bce'")
  if loss.target_heatmaps not in ('branch', 'annotation'):
    raise ConfigError(f'config.loss.target_heatmaps={loss.target_heatmaps!r} is not '
                      "'branch' or 'annotation'")
  if loss.target_heatmaps == 'branch' and not loss.target_landmark_branch:
    raise ConfigError("config.loss.target_heatmaps='branch' needs "
                      'config.loss.target_landmark_branch=True')
  if not 0.0 <= loss.beta:
    raise ConfigError(f'config.loss.beta={loss.beta} must be >= 0')
  for name in ('lr', 'adlb', 'adst', 'au', 'fl', 'sr', 'cross_cycle', 'self_reconstruction'):
    if loss[name] < 0:
      raise ConfigError(f'config.loss.{name}={loss[name]} must be >= 0')
  for stage in ('stage1', 'stage2'):
    s = config[stage]
    if s.batch_size <= 0:
      raise ConfigError(f'config.{stage}.batch_size={s.batch_size} must be positive')
    if s.epochs < 0:
      raise ConfigError(f'config.{stage}.epochs={s.epochs} must be >= 0')
  return config


def prepare_config(config):
  """apply_ablation then validate: what every entry point calls first."""
  return validate(apply_ablation(validate(config)))


def map_size(config):
  return config.data.crop_size // 4


def num_aus(config):
  return len(config.data.au_ids)


def create_model(config):
  """The MultiTaskAUNet that `config` describes (call prepare_config first)."""
  m, loss = config.model, config.loss
  return MultiTaskAUNet(
      num_aus=num_aus(config),
      num_landmarks=config.data.num_landmarks,
      landmark_channels=tuple(m.landmark_channels),
      landmark_dense=m.landmark_dense,
      cbam_reduction=m.cbam_reduction,
      hidden=m.hidden,
      generator_channels=tuple(m.generator_channels),
      domain_channels=tuple(m.domain_channels),
      au_hidden=m.au_hidden,
      projector_hidden=m.projector_hidden,
      share_feature_encoder=m.share_feature_encoder,
      mix_stop_gradient=m.get('mix_stop_gradient', True),
      use_projectors=bool(loss.projectors),
      self_reconstruction=loss.self_reconstruction > 0,
      target_au=bool(config.data.pseudo_labels),
  )
