"""Data pipelines: raw data set layouts -> aligned TFDS data -> tf.data batches.

Heavy modules (TensorFlow) load on first use, so that `au-jax --help` stays fast:

  from data_pipelines import load_metadata, create_dataset
"""

import importlib

from data_pipelines.errors import DataError

_LAZY = {
    'load_metadata': 'data_pipelines.metadata',
    'DatasetMetadata': 'data_pipelines.metadata',
    'fold_split': 'data_pipelines.metadata',
    'create_dataset': 'data_pipelines.input_pipeline',
    'target_iterator': 'data_pipelines.input_pipeline',
    'num_examples': 'data_pipelines.input_pipeline',
    'steps_per_epoch': 'data_pipelines.input_pipeline',
    'eval_steps': 'data_pipelines.input_pipeline',
}

__all__ = ['DataError', *_LAZY]


def __getattr__(name):
  if name in _LAZY:
    return getattr(importlib.import_module(_LAZY[name]), name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
