"""Where runs and data live: a local path, or a URL of the filesystem layer that orbax,
TFDS and TensorBoard share (etils.epath over tf.io.gfile), e.g. gs://bucket/runs/pod.

Every workdir and data_dir goes through `resolve`: a local path becomes absolute, as
before; a URL stays a URL (os.path would turn gs://b/x into <cwd>/gs:/b/x). `check`
runs first in each command, so that a URL nothing can open fails in one line before any
work. Only process 0 writes the files a run shares (docs/training.md).
"""

import functools
import os
import re

from au_jax import errors

# The URL schemes etils.epath sends to tf.io.gfile; tf.io.gfile handles those it has a
# filesystem for (gs:// built in; others need a plugin).
_EPATH_SCHEMES = ('gs', 's3', 'az', 'hf')
_URL = re.compile(r'^([A-Za-z][A-Za-z0-9+.-]*)://')


class PathError(errors.InputError):
  """A workdir or data_dir URL that cannot be used; the message says why."""


def scheme(path):
  """'gs' of 'gs://b/x'; None for a local path."""
  m = _URL.match(os.fspath(path))
  return m.group(1).lower() if m else None


def is_url(path):
  return scheme(path) is not None


def resolve(path):
  """The etils.epath.Path of a workdir or data_dir: a local path made absolute
  (os.path.abspath), a URL as it is."""
  from etils import epath  # pylint: disable=g-import-not-at-top
  path = os.fspath(path)
  return epath.Path(path if is_url(path) else os.path.abspath(path))


def join(path, *parts):
  """str of `path`/parts..., a URL kept a URL (os.path.join for local paths)."""
  if is_url(path):
    return os.fspath(resolve(path).joinpath(*parts))
  return os.path.join(path, *parts)


@functools.lru_cache(maxsize=None)
def _handled_schemes():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return frozenset(_EPATH_SCHEMES) & frozenset(tf.io.gfile.get_registered_schemes())


@functools.lru_cache(maxsize=None)
def _bucket_exists(root):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    return tf.io.gfile.exists(root)
  except tf.errors.OpError as e:
    first = (e.message or str(e)).strip().splitlines()[0]
    raise PathError(f'cannot reach {root}: {first}') from None


def check(path, what='path'):
  """PathError, before any work, for a URL whose scheme nothing here handles or whose
  bucket does not exist; returns `path`. Local paths pass unchecked."""
  s = scheme(path)
  if s is None:
    return path
  path = os.fspath(path)
  if s not in _handled_schemes():
    handled = ', '.join(f'{h}://' for h in sorted(_handled_schemes())) or 'none'
    raise PathError(f'{what} {path}: no filesystem handles {s}:// URLs here '
                    f'(handled: {handled}, or a local path)')
  bucket = path[len(s) + 3:].split('/', 1)[0]
  if not bucket:
    raise PathError(f'{what} {path} names no bucket')
  root = f'{s}://{bucket}/'
  if not _bucket_exists(root):
    raise PathError(f'{what} {path}: bucket {root} does not exist')
  return path


def is_main_process():
  """Whether this process writes the files a run shares (JAX's process 0)."""
  import jax  # pylint: disable=g-import-not-at-top
  return jax.process_index() == 0
