"""Exports for serving: a TensorFlow SavedModel and a jax.export file, loaded back and
compared with the predictor."""

import json
import os

import numpy as np
import pytest

import _trained
from au_jax import errors
from au_jax import export
from au_jax import inference


@pytest.fixture(scope='module')
def predictor():
  return inference.load(_trained.trained().workdir)


@pytest.fixture(scope='module')
def faces():
  return np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)


def test_saved_model_from_the_cli_equals_the_predictor(predictor, faces, monkeypatch,
                                                       tmp_path):
  out = tmp_path / 'served'
  assert _trained.cli(monkeypatch, 'export', predictor.checkpoint, out) == 0
  with open(out / 'au_jax.json', encoding='utf-8') as f:
    meta = json.load(f)
  assert (meta['au_ids'], meta['crop_size'], meta['path'], meta['step']) == \
      ([1, 2, 4], 32, 'target', predictor.step)
  served = export.load_saved_model(str(out))
  for batch in (faces, faces[:1]):  # the batch size is free
    got, want = served(batch), predictor(batch)
    np.testing.assert_allclose(got.au_probs, np.asarray(want.au_probs), atol=1e-6)
    np.testing.assert_allclose(got.landmarks, np.asarray(want.landmarks), atol=1e-4)
  with pytest.raises(errors.InputError, match='not empty'):
    export.saved_model(predictor, str(out))


def test_stablehlo_of_the_source_path_equals_the_predictor(predictor, faces, tmp_path):
  file = str(tmp_path / 'source.stablehlo')
  export.stablehlo(predictor, file, path='source')
  assert os.path.isfile(file + '.json')
  got, want = export.load_stablehlo(file)(faces), predictor(faces, path='source')
  np.testing.assert_allclose(np.asarray(got.au_probs), np.asarray(want.au_probs),
                             atol=1e-6)
  np.testing.assert_allclose(np.asarray(got.landmarks), np.asarray(want.landmarks),
                             atol=1e-4)
  other = predictor(faces, path='target')
  assert not np.allclose(np.asarray(got.au_probs), np.asarray(other.au_probs))
