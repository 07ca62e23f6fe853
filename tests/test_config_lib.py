"""Configs: bad values fail before compilation, Table 7 rows, device scaling, every file."""

import os

import jax
import jax.numpy as jnp
import pytest

from fixtures import tiny, tiny_data
from au_jax import config_lib
from au_jax import train

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# -- config errors ---------------------------------------------------------------------------

@pytest.mark.parametrize('key,value,message', [
    ('ablation', 'Z', 'config.ablation'),
    ('data.crop_size', 30, 'multiple of 4'),
    ('loss.au_loss', 'focal', 'config.loss.au_loss'),
    ('stage2.batch_size', 0, 'config.stage2.batch_size'),
    ('data_seed', -2, 'config.data_seed'),
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


def test_overrides_parse_as_literals_and_set_existing_fields_only():
  parse = config_lib.parse_override
  assert parse('stage2.epochs=24') == ('stage2.epochs', 24)
  assert parse('data.au_ids=(1, 2)') == ('data.au_ids', (1, 2))
  assert parse('data.target=synthau_wild') == ('data.target', 'synthau_wild')
  with pytest.raises(config_lib.ConfigError, match='expected KEY=VALUE'):
    parse('stage2.epochs')
  config = config_lib.apply_overrides(tiny(), [parse('stage2.epochs=3'),
                                               parse('loss.au_loss=bce')])
  assert (config.stage2.epochs, config.loss.au_loss) == (3, 'bce')
  with pytest.raises(config_lib.ConfigError, match='no field stage2.nope'):
    config_lib.apply_overrides(tiny(), [('stage2.nope', 1)])
  with pytest.raises(config_lib.ConfigError, match='no field nope.epochs'):
    config_lib.apply_overrides(tiny(), [('nope.epochs', 1)])
  with pytest.raises(config_lib.ConfigError, match=r"stage2.epochs='x'"):
    config_lib.apply_overrides(tiny(), [('stage2.epochs', 'x')])  # ConfigDict's type check


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


CONFIG_FILES = sorted(n[:-3] for n in os.listdir(os.path.join(ROOT, 'configs'))
                      if n.endswith('.py') and n != '__init__.py')


@pytest.mark.parametrize('name', CONFIG_FILES)
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


def _flat(tree, prefix=''):
  out = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      out.update(_flat(value, f'{prefix}{key}.'))
    else:
      out[f'{prefix}{key}'] = value
  return out


def test_paper_config_is_the_default_without_its_deviations():
  load = lambda name: _flat(config_lib.load_config(
      os.path.join(ROOT, 'configs', name)).to_dict())
  paper, default = load('paper.py'), load('default.py')
  assert paper['loss.target_heatmaps'] == 'branch'
  assert paper['loss.heatmap_targets'] == 'cell'
  assert paper['train.target_path_statistics'] == 'mixed'
  assert paper['train.source_path_statistics'] == 'mixed'
  assert paper['model.share_feature_encoder'] is False
  assert paper['model.target_path'] == 'reconstruction'
  assert paper['loss.au_loss'] == 'asymmetric' and paper['ablation'] == ''
  assert set(paper['loss.target_landmark_groups']) == {'brows', 'nose', 'eyes', 'mouth'}
  # Everything else (weights, widths, optimiser groups, data) is the default's.
  differ = {k for k in paper.keys() | default.keys() if paper.get(k) != default.get(k)}
  assert differ <= {'loss.target_heatmaps', 'loss.heatmap_targets',
                    'train.target_path_statistics', 'train.source_path_statistics',
                    'model.share_feature_encoder', 'model.target_path', 'loss.au_loss',
                    'loss.target_landmark_groups',
                    'loss.projectors', 'loss.intermediate_alignment',
                    'loss.source_landmark_branch', 'loss.target_landmark_branch'}
