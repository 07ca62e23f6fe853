"""config.model.target_path: 'direct' reads wild faces as E_au(E_f(I)) through one shared
E_f, in evaluation, predict and export alike (au_jax/models/multitask.py); the default
stays ADLD's reconstruction path."""

import dataclasses

import jax
import numpy as np
import pytest

from au_jax import config_lib
from au_jax import inference
from fixtures import tiny


def _model_and_variables(**overrides):
  config = config_lib.prepare_config(tiny(**overrides))
  model = config_lib.create_model(config)
  images = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
  variables = model.init(jax.random.PRNGKey(0), images, images)
  return config, model, variables, images


@pytest.mark.parametrize('target_path, output', [('reconstruction', 'au_target'),
                                                 ('direct', 'au_direct')])
def test_the_target_path_reads_what_its_name_says(target_path, output):
  config, model, variables, images = _model_and_variables(
      **{'model.target_path': target_path, 'model.share_feature_encoder': True})
  assert model.target_path == target_path
  every = model.apply(variables, images, method=model.inference_outputs)
  logits, _ = model.apply(variables, images, method=model.predict_target)
  np.testing.assert_allclose(logits, every[output], rtol=1e-5, atol=1e-6)
  other = 'au_target' if output == 'au_direct' else 'au_direct'
  assert np.abs(np.asarray(every[other]) - np.asarray(every[output])).max() > 1e-4
  # What predict and export run: the predictor's target path.
  predictor = inference.Predictor(model, variables, config, path='target')
  probs = predictor(images).au_probs
  np.testing.assert_allclose(probs, jax.nn.sigmoid(every[output]), rtol=1e-5, atol=1e-6)


def test_the_direct_path_skips_separation_and_reconstruction():
  _, model, variables, images = _model_and_variables(
      **{'model.target_path': 'direct', 'model.share_feature_encoder': True})
  # Without E_l, G_b and G_st's parameters the direct path still runs.
  kept = {c: {k: v for k, v in tree.items() if k not in (
      'landmark_encoder', 'background_generator', 'feature_generator')}
          for c, tree in variables.items()}
  logits, _ = model.apply(kept, images, method=model.predict_target, landmarks=False)
  assert np.asarray(logits).shape == (2, 3)


def test_bad_target_paths_are_config_errors():
  with pytest.raises(config_lib.ConfigError, match="'reconstruction' or 'direct'"):
    config_lib.prepare_config(tiny(**{'model.target_path': 'shortcut'}))
  with pytest.raises(config_lib.ConfigError, match='share_feature_encoder=True'):
    config_lib.prepare_config(tiny(**{'model.target_path': 'direct',
                                      'model.share_feature_encoder': False}))
  # Row A always shares E_f, so it takes the direct path as it is.
  config = config_lib.prepare_config(tiny(**{'model.target_path': 'direct',
                                             'ablation': 'A'}))
  assert config.model.share_feature_encoder
