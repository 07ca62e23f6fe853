"""Where training batches come from: the prepared data sets, through tf.data.

A data source gives numpy batches for this host:
  source_batches(start_step)  endless source-domain training batches from a position;
  target_batches(start_step)  endless target-domain batches (reshuffled when used up);
  eval_batches(split)         one pass over an evaluation split, padded, with `valid`;
and knows `steps_per_epoch` (one epoch = one pass over the source training set, docs/method.md §4),
`au_weights` (from the source training split) and `eval_splits` {name: domain}.
Positions make resuming exact: a stream restarted at step k yields what an
uninterrupted stream yields from step k, without decoding the batches before it.

Images arrive as uint8 (a quarter of float32's bytes on the way to the device); the
jitted steps turn them into the model's [-1, 1] floats with `normalise_images`.
"""

import jax.numpy as jnp
import numpy as np

from au_jax import losses
from au_jax.errors import DataError


def normalise_images(images):
  """uint8 RGB -> float32 in [-1, 1], (x/255 - 0.5)/0.5 (docs/method.md §5); floating
  images are taken as already normalised (in-memory test data)."""
  if images.dtype == jnp.uint8:
    return (images.astype(jnp.float32) / 255.0 - 0.5) / 0.5
  return images


def normalise_batch(batch):
  """A training batch {'source': {...}, 'target': {...}} with normalised images."""
  return {role: {**b, 'image': normalise_images(b['image'])} if 'image' in b else b
          for role, b in batch.items()}


def _select_aus(batch, columns):
  out = dict(batch)
  for key in ('au', 'au_mask', 'pseudo_au', 'pseudo_mask'):
    if key in out:
      out[key] = out[key][:, columns]
  return out


class PreparedData:
  """Reads the data sets written by `au-jax prepare` (docs/method.md §5) with the tf.data pipeline."""

  def __init__(self, config, process_index=0, process_count=1):
    from au_jax import input_pipeline, metadata  # pylint: disable=g-import-not-at-top
    self._pipeline = input_pipeline
    d = config.data
    if not d.data_dir:
      raise DataError('config.data.data_dir is empty: point it at the DATA_DIR given to '
                      'au-jax prepare')
    self._config = config
    self._host = dict(process_index=process_index, process_count=process_count)
    self._columns = {}
    for role, name in (('source', d.source), ('target', d.target)):
      info = metadata.load_metadata(d.data_dir, name)
      missing = [a for a in d.au_ids if a not in info.au_ids]
      if missing and role == 'source':
        raise DataError(f'config.data.au_ids asks for AUs {missing} that {name} does not '
                        f'label (it has {info.au_ids})')
      self._columns[role] = np.array(
          [info.au_ids.index(a) if a in info.au_ids else 0 for a in d.au_ids])
      if role == 'source':
        rates = info.rates(d.source_train_split)[self._columns['source']]
        if not np.all(np.isfinite(rates) & (rates > 0)):
          raise DataError(f'{name}/{d.source_train_split}: some of AUs {list(d.au_ids)} '
                          f'never occur (rates {np.round(rates, 4).tolist()})')
        self.occurrence_rates = rates
        self.au_weights = np.asarray(losses.au_occurrence_weights(rates))
    self._eval = {f'source_{s}': ('source', s) for s in d.source_eval_splits}
    self._eval.update({f'target_{s}': ('target', s) for s in d.target_eval_splits})
    self.eval_splits = {name: role for name, (role, _) in self._eval.items()}

  def _name(self, role):
    return self._config.data.source if role == 'source' else self._config.data.target

  def steps_per_epoch(self, global_batch_size):
    d = self._config.data
    return self._pipeline.steps_per_epoch(d.data_dir, d.source, d.source_train_split,
                                          global_batch_size)

  def _data_seed(self):
    seed = self._config.get('data_seed', -1)
    return self._config.seed if seed < 0 else seed

  def _train(self, role, split, global_batch_size, start_step):
    d = self._config.data
    ds = self._pipeline.create_dataset(
        d.data_dir, self._name(role), split, global_batch_size=global_batch_size,
        train=True, seed=self._data_seed() + (0 if role == 'source' else 1),
        crop_size=d.crop_size, aligned_size=d.aligned_size, start_step=start_step,
        **self._host)
    columns = self._columns[role]
    return (_select_aus(b, columns) for b in ds.as_numpy_iterator())

  def source_batches(self, global_batch_size, start_step=0):
    return self._train('source', self._config.data.source_train_split,
                       global_batch_size, start_step)

  def target_batches(self, global_batch_size, start_step=0):
    return self._train('target', self._config.data.target_train_split,
                       global_batch_size, start_step)

  def _eval_pass(self, role, split, global_batch_size):
    d = self._config.data
    ds = self._pipeline.create_dataset(
        d.data_dir, self._name(role), split, global_batch_size=global_batch_size,
        train=False, crop_size=d.crop_size, aligned_size=d.aligned_size, **self._host)
    columns = self._columns[role]
    return (_select_aus(b, columns) for b in ds.as_numpy_iterator())

  def eval_batches(self, name, global_batch_size):
    return self._eval_pass(*self._eval[name], global_batch_size)

  def source_train_eval_batches(self, global_batch_size):
    """One pass over the source training split as evaluation sees it (centre crops, no
    shuffling, padded with `valid`): what the linear probes of diagnostics fit on."""
    return self._eval_pass('source', self._config.data.source_train_split,
                           global_batch_size)
