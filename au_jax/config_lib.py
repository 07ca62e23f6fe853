"""Configs: loading (files, command lines, saved workdirs), the Table 7 rows, validation.

Every check here runs before anything is compiled, so a bad value fails with one line
(`ConfigError`) instead of a traceback from inside JAX.
"""

import ast
import importlib.util
import json
import os

import ml_collections

from au_jax import ablations
from au_jax import errors
from au_jax import paths
from au_jax.geometry import landmarks as lm


class ConfigError(errors.UserError, ValueError):
  """A config value that cannot work; the message names the field."""


def load_config(path):
  """Runs `get_config()` of a config file (the same files `--config` takes)."""
  if not os.path.isfile(path):
    raise ConfigError(f'config file not found: {path}')
  spec = importlib.util.spec_from_file_location('_au_jax_config', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def add_config_args(parser):
  """--config FILE and --workdir DIR, the arguments of `train`, `evaluate` and `demo`."""
  parser.add_argument('--config', required=True,
                      help='an ml_collections config file with get_config(), e.g. '
                           'configs/synthetic.py (FILE:ARG passes ARG to get_config)')
  parser.add_argument('--workdir', required=True,
                      help='where checkpoints, metrics and results go')


def from_command_line(path, overrides):
  """The prepared config of file `path` ("FILE" or "FILE:ARG") with `--config.x=y`
  `overrides` (a list of strings) applied as ml_collections applies them."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  file = path.split(':', 1)[0]
  if not os.path.isfile(file):
    raise ConfigError(f'config file not found: {file}')
  bad = [a for a in overrides if not a.startswith('--config.')]
  if bad:
    raise ConfigError(f'unrecognized arguments: {" ".join(bad)}')
  argv = ['au-jax', f'--config={path}', *overrides]
  values = flags.FlagValues()
  # sys_argv: read the overrides from these args, not from sys.argv (cli.main(argv)).
  config_flags.DEFINE_config_file('config', None, flag_values=values, lock_config=True,
                                  sys_argv=argv)
  try:
    values(argv)
  except (KeyError, AttributeError) as e:
    key = str(e.args[0]).strip("'\"") if e.args else ''
    culprit = next((a for a in overrides if key and key in a), '')
    raise ConfigError(
        f'unknown config field {key!r}' + (f' in {culprit}' if culprit else '')) from None
  except (flags.Error, TypeError, ValueError) as e:
    raise ConfigError(str(e).splitlines()[0]) from None
  return prepare_config(values.config)


def parse_override(text):
  """'stage2.epochs=24' → ('stage2.epochs', 24): the value is a Python literal where it
  parses as one, else the text itself ('data.target=synthau_wild')."""
  field, sep, value = text.partition('=')
  if not sep:
    raise ConfigError(f'{text!r}: expected KEY=VALUE')
  try:
    return field, ast.literal_eval(value)
  except (ValueError, SyntaxError):
    return field, value


def apply_overrides(config, overrides):
  """Sets the (field, value) pairs of `parse_override` in `config`, in place. Unlike
  `from_command_line`, on a ConfigDict already built (and changed) in Python; each field
  must exist, and ConfigDict checks the value's type. Returns `config`."""
  for field, value in overrides:
    *parents, leaf = field.split('.')
    node = config
    for name in parents:
      node = node.get(name) if hasattr(node, 'get') else None
    if node is None or not hasattr(node, 'get') or leaf not in node:
      raise ConfigError(f'{field}=...: the config has no field {field}')
    try:
      setattr(node, leaf, value)  # ConfigDict checks the type
    except TypeError as e:
      raise ConfigError(f'{field}={value!r}: {e}') from None
  return config


SAVED_CONFIG = 'config.json'


def save_config(config, workdir):
  """Writes WORKDIR/config.json, what evaluation and inference rebuild the model from."""
  (paths.resolve(workdir) / SAVED_CONFIG).write_text(config.to_json_best_effort(indent=1),
                                                     encoding='utf-8')


def load_saved_config(workdir):
  """The config a workdir was trained with. Fields added to configs/default.py since
  then take their default values, so older workdirs still load."""
  path = paths.resolve(workdir) / SAVED_CONFIG
  if not path.is_file():
    raise FileNotFoundError(f'{paths.join(workdir, SAVED_CONFIG)} not found: is '
                            f'{workdir} a training workdir?')
  saved = json.loads(path.read_text(encoding='utf-8'))
  from configs import default  # pylint: disable=g-import-not-at-top
  config = default.get_config().to_dict()
  _merge_into(config, saved)
  return ml_collections.ConfigDict(config)


def flatten(tree, prefix=''):
  """{'model.hidden': 16, ...} of a nested dict (a ConfigDict's to_dict()); lists
  become tuples, so values compare and hash alike whether they were read from JSON."""
  out = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      out.update(flatten(value, f'{prefix}{key}.'))
    else:
      out[prefix + key] = tuple(value) if isinstance(value, list) else value
  return out


def differences(old, new):
  """{field: (old value, new value)} where two configs (ConfigDicts or nested dicts)
  differ; a field one of them lacks has the value None there. The one "what changed
  between two configs" of au_jax: resuming, evaluating and comparing runs use it."""
  old, new = (flatten(c.to_dict() if hasattr(c, 'to_dict') else c) for c in (old, new))
  return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
          if old.get(k) != new.get(k)}


def changed_fields(workdir, config):
  """['model.hidden: 16 → 8', ...]: the fields where `config` differs from the config
  saved in `workdir` (none if the workdir has no saved config)."""
  if not (paths.resolve(workdir) / SAVED_CONFIG).is_file():
    return []
  return [f'{k}: {a!r} → {b!r}'
          for k, (a, b) in differences(load_saved_config(workdir), config).items()]


def _merge_into(base, new):
  for key, value in new.items():
    if isinstance(value, dict) and isinstance(base.get(key), dict):
      _merge_into(base[key], value)
    else:
      base[key] = value


def apply_ablation(config):
  """A copy of `config` with the switches of its Table 7 row set (au_jax/ablations.py)."""
  try:
    return ablations.apply(config)
  except ablations.AblationError as e:
    raise ConfigError(str(e)) from None


def is_source_only(config):
  """The baselines without the method: E_f^s + E_au trained on source labels and read
  through the source path ('source_only', and 'source_only+AdaBN')."""
  return config.ablation in ablations.SOURCE_ONLY


def trains_landmark_branch(config, domain):
  """Whether the landmark branch of 'source' or 'target' is trained."""
  if is_source_only(config):
    return False
  return bool(config.loss.source_landmark_branch if domain == 'source'
              else config.loss.target_landmark_branch)


def validate(config):
  """Raises ConfigError naming the first bad field; returns the config."""
  d, m, loss = config.data, config.model, config.loss
  if d.crop_size <= 0 or d.crop_size % 4:
    raise ConfigError(f'config.data.crop_size={d.crop_size} must be a positive '
                      'multiple of 4 (the heat-map side is crop_size / 4)')
  if d.crop_size < 32:
    raise ConfigError(f'config.data.crop_size={d.crop_size} is below 32, too small for '
                      'the five pooling blocks of the landmark branches')
  if d.aligned_size < d.crop_size:
    raise ConfigError(f'config.data.aligned_size={d.aligned_size} is smaller than '
                      f'config.data.crop_size={d.crop_size}')
  if config.get('data_seed', -1) < -1:
    raise ConfigError(f'config.data_seed={config.data_seed} must be -1 (the seed) or >= 0')
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
  if m.get('target_path', 'reconstruction') not in ('reconstruction', 'direct'):
    raise ConfigError(f'config.model.target_path={m.target_path!r} is not '
                      "'reconstruction' or 'direct'")
  if m.get('target_path') == 'direct' and not m.share_feature_encoder:
    raise ConfigError("config.model.target_path='direct' needs one shared E_f "
                      '(config.model.share_feature_encoder=True): with two extractors '
                      "E_au never reads E_f^t's features in training")
  if loss.au_loss not in ('asymmetric', 'bce'):
    raise ConfigError(f"config.loss.au_loss={loss.au_loss!r} is not 'asymmetric' or 'bce'")
  if loss.target_heatmaps not in ('branch', 'annotation'):
    raise ConfigError(f'config.loss.target_heatmaps={loss.target_heatmaps!r} is not '
                      "'branch' or 'annotation'")
  if loss.get('heatmap_targets', 'cell') not in ('cell', 'bilinear'):
    raise ConfigError(f'config.loss.heatmap_targets={loss.heatmap_targets!r} is not '
                      "'cell' or 'bilinear'")
  if loss.target_heatmaps == 'branch' and not loss.target_landmark_branch:
    raise ConfigError("config.loss.target_heatmaps='branch' needs "
                      'config.loss.target_landmark_branch=True')
  groups = loss.get('target_landmark_groups', tuple(lm.GROUPS_49))
  if isinstance(groups, str) or not groups or set(groups) - set(lm.GROUPS_49):
    raise ConfigError(f'config.loss.target_landmark_groups={groups!r} must be a non-empty '
                      f'tuple of {", ".join(lm.GROUPS_49)}')
  if not 0.0 <= loss.beta:
    raise ConfigError(f'config.loss.beta={loss.beta} must be >= 0')
  for name in ('lr', 'adlb', 'adst', 'au', 'fl', 'sr', 'cross_cycle', 'self_reconstruction'):
    if loss[name] < 0:
      raise ConfigError(f'config.loss.{name}={loss[name]} must be >= 0')
  t = config.train
  if t.target_path_statistics not in ('mixed', 'wild'):
    raise ConfigError(f'config.train.target_path_statistics={t.target_path_statistics!r} '
                      "is not 'mixed' or 'wild'")
  if t.get('source_path_statistics', 'mixed') not in ('mixed', 'lab'):
    raise ConfigError(f'config.train.source_path_statistics={t.source_path_statistics!r} '
                      "is not 'mixed' or 'lab'")
  if t.target_statistics_batches <= 0:
    raise ConfigError(f'config.train.target_statistics_batches={t.target_statistics_batches}'
                      ' must be positive')
  for stage in ('stage1', 'stage2'):
    s = config[stage]
    if s.batch_size <= 0:
      raise ConfigError(f'config.{stage}.batch_size={s.batch_size} must be positive')
    if s.epochs < 0:
      raise ConfigError(f'config.{stage}.epochs={s.epochs} must be >= 0')
  return config


def prepare_config(config):
  """apply_ablation then validate: what every entry point calls first."""
  return validate(apply_ablation(config))


def scale_to_devices(config, device_count):
  """A copy of `config` for `device_count` devices (the rule of `config.scaling`).

  With scaling.per_device_batch_size = b > 0, both stages' global batch is b ·
  device_count and every learning rate is multiplied by (global / reference batch)^p,
  p = 1/2 ('sqrt', for Adam), 1 ('linear') or 0 ('none'). Schedules stay in epochs, so
  a larger batch also means fewer, larger steps per epoch. Without it, nothing changes.
  """
  s = config.scaling
  if s.per_device_batch_size <= 0:
    return config
  power = {'sqrt': 0.5, 'linear': 1.0, 'none': 0.0}.get(s.learning_rate_rule)
  if power is None:
    raise ConfigError(f"config.scaling.learning_rate_rule={s.learning_rate_rule!r} is not "
                      "'sqrt', 'linear' or 'none'")
  config = ml_collections.ConfigDict(config.to_dict())
  batch = s.per_device_batch_size * device_count
  factor = (batch / s.reference_batch_size) ** power
  for stage in (config.stage1, config.stage2):
    stage.batch_size = batch
  config.stage1.learning_rate *= factor
  for group in config.stage2.groups.values():
    group.learning_rate *= factor
  return config


def num_aus(config):
  return len(config.data.au_ids)


def create_model(config):
  """The MultiTaskAUNet that `config` describes (call prepare_config first)."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from au_jax.models import MultiTaskAUNet  # pylint: disable=g-import-not-at-top
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
      use_projectors=bool(loss.projectors),
      self_reconstruction=loss.self_reconstruction > 0,
      landmark_branches=bool(loss.source_landmark_branch or loss.target_landmark_branch),
      dtype=jnp.bfloat16 if config.half_precision else jnp.float32,
      target_au=bool(config.data.pseudo_labels),
      batched_calls=bool(m.get('batched_calls', True)),
      target_path=m.get('target_path', 'reconstruction'),
  )
