"""Inference from a trained checkpoint: a jitted, pure function of explicit variables.

    import au_jax.inference
    predictor = au_jax.inference.load('runs/bp4d')   # a workdir or a checkpoint folder
    out = predictor(faces)          # aligned crops (B, 176, 176, 3): uint8 RGB or [-1, 1]
    out.au_probs, out.landmarks     # (B, n_au) probabilities, (B, 49, 2) crop pixels

Two inference paths (docs/method.md §2): 'target' = the reconstruction path
E_au(G_st(F_l, G_b(E_f^t(I)))) for faces in the wild, 'source' = E_au(E_f^s(I)) for
lab-like faces; `predictor(x, path='source')` picks one. `predictor.apply(path)` is the
same computation as a pure function `(variables, images) -> Prediction`, to jit, vmap or
export in your own code with `predictor.variables`.

`load` restores only the parameters and batch statistics that the two paths use (an orbax
partial restore): no optimiser state, no discriminators, no training data. Arrays are
placed on one device (or a given sharding) whatever device count wrote the checkpoint.

Raw photos: `predictor.predict_faces(rgb)` detects faces with dlib (the `[faces]`
extra), aligns them as training did (`au_jax.faces`, docs/method.md §5) and maps
the model's landmarks back to the photo's pixels.
"""

import functools
import os
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from au_jax import checkpointing
from au_jax import config_lib
from au_jax import data
from au_jax import errors
from au_jax import paths
from au_jax import target_statistics
from au_jax.geometry import landmarks as lm

PATHS = ('source', 'target')


class Prediction(NamedTuple):
  au_probs: Any    # (B, n_au) sigmoid probabilities
  landmarks: Any   # (B, 49, 2) (x, y) in crop pixels


def default_path(config):
  """'source' for a source-only model (its target path is untrained), else 'target'."""
  return 'source' if config_lib.is_source_only(config) else 'target'


def _check_path(path):
  if path not in PATHS:
    raise errors.InputError(f"path={path!r} is not 'source' or 'target'")
  return path


# -- the pure function ---------------------------------------------------------------------

def preprocess(images, crop_size):
  """uint8 RGB -> [-1, 1] as training does ((x/255 - 0.5)/0.5); floats are taken as
  already normalised. Larger squares (the aligned size) are centre-cropped, as in eval."""
  images = data.normalise_images(images).astype(jnp.float32)
  offset = (images.shape[1] - crop_size) // 2
  if offset > 0:
    images = images[:, offset:offset + crop_size, offset:offset + crop_size]
  return images


def make_apply(model, path, crop_size, landmarks=True):
  """The pure function (variables, images) -> Prediction of one inference path; without
  `landmarks` the landmark branch does not run and Prediction.landmarks is None."""
  method = 'predict_source' if _check_path(path) == 'source' else 'predict_target'

  def apply(variables, images):
    # The target path's own E_au statistics when the model has them (target_statistics).
    logits, points = model.apply(target_statistics.for_path(variables, path),
                                 preprocess(images, crop_size), False, landmarks,
                                 method=method)
    return Prediction(jax.nn.sigmoid(logits), points)

  return apply


def _predict(model, variables, images, path, crop_size, landmarks=True):
  return make_apply(model, path, crop_size, landmarks)(variables, images)


_STATIC = ('model', 'path', 'crop_size', 'landmarks')
# On CPU, XLA's Eigen convolutions run the inference paths 1.3–1.6× faster than its
# default YNNPACK ones (benchmarks/README.md, "Inference on CPU"); only dots stay on
# YNNPACK. The same numbers up to float rounding. Training steps do not gain from it.
CPU_COMPILER_OPTIONS = {
    'xla_cpu_experimental_ynn_fusion_type': 'LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT'}
_jitted = {
    'default': jax.jit(_predict, static_argnames=_STATIC),
    'cpu': jax.jit(_predict, static_argnames=_STATIC, compiler_options=CPU_COMPILER_OPTIONS),
}
_cpu_options_supported = [True]


def predict(model, variables, images, path, crop_size, landmarks=True):
  """jit(make_apply(model, path, crop_size, landmarks))(variables, images).

  On CPU it is compiled with CPU_COMPILER_OPTIONS, or without them if this jaxlib does
  not know the option (it is experimental).
  """
  args = (model, variables, images, path, crop_size, landmarks)
  if jax.default_backend() == 'cpu' and _cpu_options_supported[0]:
    try:
      return _jitted['cpu'](*args)
    except jax.errors.JaxRuntimeError as e:
      if 'xla_cpu_experimental_ynn_fusion_type' not in str(e):
        raise
      _cpu_options_supported[0] = False
  return _jitted['default'](*args)


class Predictor:
  """A model, its restored variables and the config it was trained with."""

  def __init__(self, model, variables, config, *, step=None, path=None, checkpoint=None):
    self.model = model
    self.variables = variables
    self.config = config
    self.step = step
    self.checkpoint = checkpoint
    self.path = _check_path(path or default_path(config))
    self.au_ids = tuple(int(a) for a in config.data.au_ids)
    self.crop_size = int(config.data.crop_size)
    self.aligned_size = int(config.data.aligned_size)

  def __repr__(self):
    return (f'Predictor({self.checkpoint or "?"}, step {self.step}, AUs {self.au_ids}, '
            f'{self.crop_size}-pixel crops, {self.path} path)')

  def apply(self, path=None, landmarks=True):
    """The pure function (variables, images) -> Prediction; not jitted."""
    return make_apply(self.model, _check_path(path or self.path), self.crop_size,
                      landmarks)

  def check_images(self, images):
    """Raises InputError unless `images` is (B, S, S, 3) or (S, S, 3), S = crop or
    aligned size, uint8 or float."""
    shape = tuple(images.shape)
    dtype = np.dtype(images.dtype)
    sizes = (self.crop_size, self.aligned_size)
    if len(shape) not in (3, 4) or shape[-1] != 3 or shape[-3] != shape[-2] or \
        shape[-2] not in sizes:
      raise errors.InputError(f'images of shape {shape}: expected (batch, S, S, 3) RGB '
                              f'faces aligned as in training, S = {self.crop_size} (or '
                              f'{self.aligned_size}, centre-cropped)')
    if dtype != np.uint8 and not np.issubdtype(dtype, np.floating):
      raise errors.InputError(f'images of dtype {dtype}: expected uint8 (0..255) or float '
                              '(normalised to [-1, 1])')

  def __call__(self, images, path=None, landmarks=True):
    """Prediction (jax arrays) for aligned faces; a single (S, S, 3) face gives
    unbatched outputs. landmarks=False skips the landmark branch (faster; None)."""
    if not hasattr(images, 'dtype'):
      images = np.asarray(images)
    self.check_images(images)
    single = images.ndim == 3
    if single:
      images = images[None]
    out = predict(self.model, self.variables, images, _check_path(path or self.path),
                  self.crop_size, landmarks)
    if single:
      return Prediction(out.au_probs[0], None if out.landmarks is None else out.landmarks[0])
    return out

  def predict_batches(self, images, batch_size=32, path=None, landmarks=True):
    """NumPy Prediction for any number of faces, in fixed-size (padded) batches so that
    one compilation serves every call; landmarks=False: Prediction.landmarks is None."""
    images = np.asarray(images)
    self.check_images(images)
    if images.ndim == 3:
      images = images[None]
    n = len(images)
    probs, points = [], []
    for start in range(0, n, batch_size):
      chunk = images[start:start + batch_size]
      if len(chunk) < batch_size:
        pad = np.repeat(chunk[-1:], batch_size - len(chunk), axis=0)
        chunk = np.concatenate([chunk, pad])
      out = self(chunk, path, landmarks)
      probs.append(np.asarray(out.au_probs))
      if landmarks:
        points.append(np.asarray(out.landmarks))
    if not n:
      return Prediction(np.zeros((0, len(self.au_ids)), np.float32),
                        np.zeros((0, lm.NUM_LANDMARKS, 2), np.float32) if landmarks
                        else None)
    return Prediction(np.concatenate(probs)[:n],
                      np.concatenate(points)[:n] if landmarks else None)

  def predict_faces(self, image, detector=None, path=None, max_size=1600, batch_size=8,
                    landmarks=True):
    """Detects, aligns and predicts every face of an RGB photo; returns a list of Face
    (Face.landmarks None without `landmarks`).
    detector: default `faces.DlibDetector()` (loaded once)."""
    from au_jax import faces as faces_lib  # pylint: disable=g-import-not-at-top
    detector = detector or faces_lib.default_detector()
    faces = faces_lib.find_faces(image, detector, self.crop_size, self.aligned_size,
                                 max_size)
    if faces:
      out = self.predict_batches(np.stack([f.crop for f in faces]), batch_size, path,
                                 landmarks)
      points = out.landmarks if landmarks else [None] * len(faces)
      for face, probs, p in zip(faces, out.au_probs, points):
        face.set_prediction(probs, p)
    return faces


# -- restoring a checkpoint ----------------------------------------------------------------

def locate(path):
  """(stage-2 checkpoint folder, step or None) of a workdir, its checkpoints folder, the
  stage-2 folder or one step's folder."""
  # A local path or a URL (gs://...): folders are looked at through etils.epath.
  path = os.fspath(path)
  path = os.fspath(paths.resolve(paths.check(path, 'checkpoint') if paths.is_url(path)
                                 else os.path.expanduser(path)))
  if not _isdir(path):
    raise errors.InputError(f'{path} is not a folder: give a training workdir or a '
                            'checkpoint folder')
  for candidate in (paths.join(path, 'checkpoints', 'stage2'), paths.join(path, 'stage2')):
    if _isdir(candidate):
      return candidate, None
  name = os.path.basename(path.rstrip('/'))
  if name.isdigit() and _isdir(paths.join(path, 'state')):
    return os.path.dirname(path.rstrip('/')), int(name)
  if _steps(path):
    return path, None
  if _isdir(paths.join(path, 'checkpoints', 'stage1')):
    raise errors.InputError(f'{path} has no stage-2 checkpoint yet (training stopped in '
                            'stage 1)')
  raise errors.InputError(f'{path}: no checkpoint found (expected WORKDIR/checkpoints/stage2/'
                          '<step>/state)')


def _isdir(path):
  return paths.resolve(path).is_dir()


def _steps(folder):
  return sorted(int(p.name) for p in paths.resolve(folder).iterdir()
                if p.name.isdigit() and (p / 'state').is_dir())


def find_config(stage_dir):
  """The config.json that training wrote next to its checkpoints."""
  folder = stage_dir
  for _ in range(3):  # stage2 -> checkpoints -> workdir
    if paths.resolve(folder).joinpath(config_lib.SAVED_CONFIG).is_file():
      return config_lib.load_saved_config(folder)
    folder = os.path.dirname(folder)
  raise errors.InputError(f'no {config_lib.SAVED_CONFIG} found above {stage_dir}: pass the '
                          'training config (load(..., config=...))')


def _merge(a, b):
  out = dict(a)
  for k, v in b.items():
    out[k] = _merge(out[k], v) if isinstance(v, dict) and k in out else v
  return out


@functools.lru_cache(maxsize=8)
def inference_shapes(model, crop_size, own_paths=()):
  """ShapeDtypeStructs of the variables the two inference paths use (no compute),
  with E_au statistics of their own for the paths in `own_paths`
  (target_statistics.own_paths; True means ('target',), as before)."""
  x = jax.ShapeDtypeStruct((1, crop_size, crop_size, 3), jnp.float32)

  def init(rng, x):
    return _merge(model.init(rng, x, False, method='predict_source'),
                  model.init(rng, x, False, method='predict_target'))

  shapes = jax.eval_shape(init, jax.random.key(0), x)
  shapes = {k: shapes[k] for k in ('params', 'batch_stats') if k in shapes}
  if own_paths is True:
    own_paths = ('target',)
  for path in own_paths or ():
    shapes = target_statistics.add_slot(shapes, path)
  return shapes


def load(checkpoint, *, step=None, config=None, path=None, sharding=None):
  """A Predictor from a training workdir or checkpoint folder.

  step: a saved step (default: the best by validation F1, else the latest);
  config: a ConfigDict (default: the config.json training wrote in the workdir);
  path: the default inference path (default: 'target', or 'source' for a source-only
  model); sharding: where the arrays go (default: the first device).
  """
  stage_dir, named_step = locate(checkpoint)
  if config is None:
    config = find_config(stage_dir)
  try:
    config = config_lib.prepare_config(config)
  except config_lib.ConfigError as e:
    raise errors.InputError(f'the config of {stage_dir}: {e}') from None
  model = config_lib.create_model(config)
  shapes = inference_shapes(model, config.data.crop_size,
                            target_statistics.own_paths(config))
  sharding = sharding or jax.sharding.SingleDeviceSharding(jax.devices()[0])
  variables, step, _ = checkpointing.restore_variables(
      stage_dir, step if step is not None else named_step, shapes, sharding)
  return Predictor(model, variables, config, step=step, path=path, checkpoint=stage_dir)
