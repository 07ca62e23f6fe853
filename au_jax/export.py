"""Serving a trained predictor outside this code base.

Two formats, both with the variables inside and a batch size chosen at call time:

* `saved_model(predictor, DIR)`: a TensorFlow SavedModel (via jax2tf). Its
  `serving_default` signature maps `images`, uint8 (B, S, S, 3) RGB faces aligned as in
  training (S = the crop size), to `au_probs` (B, n_au) and `landmarks` (B, 49, 2) in
  crop pixels. TF Serving, TFLite converters and plain TensorFlow load it.
* `stablehlo(predictor, FILE)`: a serialized `jax.export` artefact, loadable by any
  JAX (no Flax, no au_jax) with `load_stablehlo(FILE)`.

Both run the inference path's XLA computation, so outputs equal the predictor's. The
computation is lowered for `platforms` (default: the current backend, e.g. 'cpu'; pass
('cpu', 'cuda') to serve on both). Next to each export, `au_jax.json` (for a SavedModel
folder) or FILE.json records the AU ids, crop size, path and checkpoint.
"""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from au_jax import paths
from au_jax.errors import InputError
from au_jax.inference import Prediction

METADATA = 'au_jax.json'


def metadata(predictor, path, fmt):
  return {'format': fmt, 'au_ids': list(predictor.au_ids), 'crop_size': predictor.crop_size,
          'path': path, 'step': predictor.step, 'checkpoint': predictor.checkpoint,
          'input': 'images: uint8 (batch, crop_size, crop_size, 3) RGB faces aligned as in '
                   'training (au_jax.faces.find_faces)',
          'outputs': {'au_probs': '(batch, n_au) probabilities, in au_ids order',
                      'landmarks': '(batch, 49, 2) (x, y) in crop pixels'}}


def _platforms(platforms):
  return tuple(platforms) if platforms else None


def saved_model(predictor, directory, *, path=None, platforms=None):
  """Writes a TensorFlow SavedModel of one inference path; returns `directory`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from jax.experimental import jax2tf  # pylint: disable=g-import-not-at-top
  path = path or predictor.path
  size = predictor.crop_size
  folder = paths.resolve(directory)  # a local folder or a URL (gs://...)
  if folder.exists() and any(folder.iterdir()):
    raise InputError(f'{directory} exists and is not empty')
  converted = jax2tf.convert(
      predictor.apply(path), polymorphic_shapes=[None, f'(b, {size}, {size}, 3)'],
      with_gradient=False, native_serialization_platforms=_platforms(platforms))
  module = tf.Module()
  # tf.Variables, so the weights are stored once as variables, not as graph constants.
  module.weights = tf.nest.map_structure(
      lambda x: tf.Variable(np.asarray(x), trainable=False), predictor.variables)
  module.au_ids = tf.constant(predictor.au_ids, tf.int32)

  @tf.function(autograph=False, input_signature=[
      tf.TensorSpec([None, size, size, 3], tf.uint8, name='images')])
  def serve(images):
    probs, points = converted(module.weights, images)
    return {'au_probs': probs, 'landmarks': points}

  module.serve = serve
  tf.saved_model.save(module, directory, signatures={'serving_default': serve})
  with (folder / METADATA).open('w', encoding='utf-8') as f:
    json.dump(metadata(predictor, path, 'saved_model'), f, indent=1)
  return directory


def load_saved_model(directory):
  """A function uint8 images (B, S, S, 3) -> Prediction of NumPy arrays, from a
  SavedModel that `saved_model` wrote."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  serve = tf.saved_model.load(directory).signatures['serving_default']

  def predict(images):
    out = serve(images=tf.constant(np.asarray(images, np.uint8)))
    return Prediction(out['au_probs'].numpy(), out['landmarks'].numpy())

  return predict


def stablehlo(predictor, file, *, path=None, platforms=None):
  """Writes a serialized jax.export of one inference path (variables inside); returns
  `file`."""
  from jax import export as jax_export  # pylint: disable=g-import-not-at-top
  path = path or predictor.path
  size = predictor.crop_size
  apply = predictor.apply(path)
  variables = predictor.variables
  fn = jax.jit(lambda images: tuple(apply(variables, images)))
  (batch,) = jax_export.symbolic_shape('b')
  spec = jax.ShapeDtypeStruct((batch, size, size, 3), jnp.uint8)
  exported = jax_export.export(fn, platforms=_platforms(platforms))(spec)
  paths.resolve(file).write_bytes(exported.serialize())
  with paths.resolve(os.fspath(file) + '.json').open('w', encoding='utf-8') as f:
    json.dump(metadata(predictor, path, 'stablehlo'), f, indent=1)
  return file


def load_stablehlo(file):
  """A function uint8 images (B, S, S, 3) -> Prediction, from a `stablehlo` file."""
  from jax import export as jax_export  # pylint: disable=g-import-not-at-top
  exported = jax_export.deserialize(bytearray(paths.resolve(file).read_bytes()))

  def predict(images):
    return Prediction(*exported.call(jnp.asarray(images, jnp.uint8)))

  return predict
