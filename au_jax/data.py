"""Where training batches come from: prepared data sets (tf.data) or arrays in memory.

A data source gives numpy batches for this host:
  source_batches(start_step)  endless source-domain training batches from a position;
  target_batches(start_step)  endless target-domain batches (reshuffled when used up);
  eval_batches(split)         one pass over an evaluation split, padded, with `valid`;
and knows `steps_per_epoch` (one epoch = one pass over the source training set, docs/method.md §4),
`au_weights` (from the source training split) and `eval_splits` {name: domain}.
Positions make resuming exact: a stream restarted at step k yields what an
uninterrupted stream yields from step k.
"""

import dataclasses

import numpy as np

from au_jax import losses


def _select_aus(batch, columns):
  out = dict(batch)
  for key in ('au', 'au_mask', 'pseudo_au', 'pseudo_mask'):
    if key in out:
      out[key] = out[key][:, columns]
  return out


class PreparedData:
  """Reads the data sets written by `au-jax prepare` (docs/method.md §5) with the tf.data pipeline."""

  def __init__(self, config, process_index=0, process_count=1):
    from data_pipelines import input_pipeline, metadata  # pylint: disable=g-import-not-at-top
    from data_pipelines.errors import DataError  # pylint: disable=g-import-not-at-top
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

  def _train(self, role, split, global_batch_size, start_step):
    d = self._config.data
    ds = self._pipeline.create_dataset(
        d.data_dir, self._name(role), split, global_batch_size=global_batch_size,
        train=True, seed=self._config.seed + (0 if role == 'source' else 1),
        crop_size=d.crop_size, aligned_size=d.aligned_size, **self._host)
    columns = self._columns[role]
    return (_select_aus(b, columns) for b in ds.skip(start_step).as_numpy_iterator())

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


@dataclasses.dataclass
class ArrayData:
  """In-memory data for tests and notebooks: dicts of numpy arrays per domain.

  Each domain dict holds image (N, l, l, 3) float32, landmarks (N, 49, 2), au and au_mask
  (N, n_au). Training streams walk a fixed permutation per pass (seeded), no augmentation.
  """
  source: dict
  target: dict
  au_weights: np.ndarray
  eval_sets: dict = dataclasses.field(default_factory=dict)  # name -> (domain, arrays)
  seed: int = 0
  process_index: int = 0   # this host gets its slice of each global batch
  process_count: int = 1

  @property
  def eval_splits(self):
    return {name: domain for name, (domain, _) in self.eval_sets.items()}

  def steps_per_epoch(self, global_batch_size):
    return len(self.source['image']) // global_batch_size

  def _stream(self, arrays, global_batch_size, start_step, salt):
    n = len(arrays['image'])
    per_pass = n // global_batch_size
    step = start_step
    while True:
      epoch, k = divmod(step, per_pass)
      order = np.random.default_rng([self.seed, salt, epoch]).permutation(n)
      idx = order[k * global_batch_size:(k + 1) * global_batch_size]
      local = global_batch_size // self.process_count
      idx = idx[self.process_index * local:(self.process_index + 1) * local]
      yield {key: value[idx] for key, value in arrays.items()}
      step += 1

  def source_batches(self, global_batch_size, start_step=0):
    return self._stream(self.source, global_batch_size, start_step, 0)

  def target_batches(self, global_batch_size, start_step=0):
    return self._stream(self.target, global_batch_size, start_step, 1)

  def eval_batches(self, name, global_batch_size):
    return self._eval_pass(self.eval_sets[name][1], global_batch_size)

  def source_train_eval_batches(self, global_batch_size):
    return self._eval_pass(self.source, global_batch_size)

  def _eval_pass(self, arrays, global_batch_size):
    n = len(arrays['image'])
    for start in range(0, n, global_batch_size):
      idx = np.arange(start, start + global_batch_size)
      valid = (idx < n).astype(np.float32)
      idx = np.minimum(idx, n - 1)
      batch = {key: value[idx] for key, value in arrays.items()}
      batch['valid'] = valid
      yield batch


def fake_arrays(rng, n, crop_size, n_au, labelled=True):
  """Random faces-shaped arrays for tests: images, plausible landmarks, random AUs."""
  image = rng.uniform(-1, 1, (n, crop_size, crop_size, 3)).astype(np.float32)
  s = crop_size
  base = np.stack(np.meshgrid(np.linspace(0.25, 0.75, 7), np.linspace(0.3, 0.8, 7)),
                  -1).reshape(49, 2)
  base[19:25] = [[0.3 + 0.02 * i, 0.4] for i in range(6)]
  base[25:31] = [[0.6 + 0.02 * i, 0.4] for i in range(6)]
  landmarks = (base[None] * s + rng.normal(0, 0.5, (n, 49, 2))).astype(np.float32)
  au = rng.integers(0, 2, (n, n_au)).astype(np.int32)
  mask = np.full((n, n_au), 1.0 if labelled else 0.0, np.float32)
  return {'image': image, 'landmarks': landmarks, 'au': au, 'au_mask': mask}
