"""tf.data input pipeline over a prepared data set (tf.data only, no JAX).

Training: per-host shard (tfds.split_for_jax_process), epochs one after another, each
shuffled with a seed of its own (seed, host, epoch), a random crop with offsets
0..(aligned - crop) inclusive and a random horizontal flip that mirrors and reorders the
49 landmarks, batches of global_batch_size // process_count with the remainder dropped
(a batch may span two epochs). Evaluation: centre crop, no flip, one pass; the last
batch is padded with examples whose `valid` is 0, and every host yields the same number
of batches (eval_steps). Augmentation draws from stateless ops keyed by (seed, host,
position in the stream), as CLU's deterministic_data does, so one seed gives the same
batches.

Resuming at step k (start_step) does not replay the stream: the epoch of element
k * batch is computed, the epochs before it are never read, and the elements of that
epoch before it are skipped as undecoded records (at most one epoch's reads, no PNG
decoding), so the batches are those an uninterrupted stream yields from step k.

Batch: image uint8 (B, crop, crop, 3) RGB, a quarter of float32's bytes (the jitted
steps normalise it to [-1, 1], (x/255 - 0.5)/0.5: au_jax.data.normalise_images);
landmarks float32 (B, 49, 2) in crop pixels (x, y) after crop and flip; au int32 and
au_mask float32 (B, n_au); pseudo_au int32 and pseudo_mask float32 (B, n_au);
valid float32 (B,).
"""

import math
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow as tf  # pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top,wrong-import-position

from au_jax.geometry import landmarks as lm  # pylint: disable=wrong-import-position
from au_jax import metadata as meta  # pylint: disable=wrong-import-position
from au_jax.errors import DataError  # pylint: disable=wrong-import-position

_KEYS = ('image', 'landmarks', 'au', 'au_mask', 'pseudo_au', 'pseudo_mask', 'valid')


def _builder(data_dir, name):
  return tfds.builder_from_directory(meta.dataset_path(data_dir, name))


def _host(process_index, process_count):
  if not 0 <= process_index < process_count:
    raise DataError(f'process_index {process_index} is not in 0..{process_count - 1}')
  return process_index, process_count


def num_examples(data_dir, name, split):
  """Examples in `split` ('train', 'fold1+fold2', 'train[:10%]', ...)."""
  builder = _builder(data_dir, name)
  try:
    return builder.info.splits[split].num_examples
  except (KeyError, ValueError):
    raise DataError(f'split {split!r} not in {name} (has {sorted(builder.info.splits)})'
                    ) from None


def steps_per_epoch(data_dir, name, split, global_batch_size):
  """Training steps in one pass over `split` (remainder dropped)."""
  return num_examples(data_dir, name, split) // global_batch_size


def eval_steps(data_dir, name, split, global_batch_size, process_count=1):
  """Batches each host yields in evaluation mode (the same on every host)."""
  per_host = math.ceil(num_examples(data_dir, name, split) / process_count)
  return math.ceil(per_host / (global_batch_size // process_count))


def crop_and_flip(image, landmarks, offset, flip, crop_size):
  """Crops (crop_size square at `offset` = (row, col)) and maybe mirrors one example.

  Landmarks move with the crop; a flip mirrors x (x -> crop - 1 - x, as
  au_jax.geometry.landmarks.flip_horizontal) and reorders the points with REFLECT_49.
  """
  image = tf.image.crop_to_bounding_box(image, offset[0], offset[1], crop_size, crop_size)
  shift = tf.cast(tf.stack([offset[1], offset[0]]), tf.float32)
  landmarks = landmarks - shift
  mirrored = tf.gather(landmarks, lm.REFLECT_49, axis=0)
  mirrored = tf.stack([(crop_size - 1) - mirrored[:, 0], mirrored[:, 1]], axis=-1)
  image = tf.cond(flip, lambda: tf.reverse(image, axis=[1]), lambda: image)
  landmarks = tf.cond(flip, lambda: mirrored, lambda: landmarks)
  return image, landmarks


def random_crop_and_flip(seed, aligned_size, crop_size):
  """Stateless draw of a crop offset (row, col), each in 0..aligned - crop, and a flip."""
  seeds = tf.random.experimental.stateless_split(seed, 2)
  offset = tf.random.stateless_uniform(
      [2], seeds[0], minval=0, maxval=aligned_size - crop_size + 1, dtype=tf.int32)
  flip = tf.random.stateless_uniform([], seeds[1]) < 0.5
  return offset, flip


def _preprocess(example, seed, *, train, crop_size, aligned_size):
  image = tf.io.decode_png(example['image'], channels=3)
  image = tf.ensure_shape(image, (aligned_size, aligned_size, 3))
  if train:
    offset, flip = random_crop_and_flip(seed, aligned_size, crop_size)
  else:
    offset = tf.fill([2], (aligned_size - crop_size) // 2)
    flip = tf.constant(False)
  image, landmarks = crop_and_flip(image, example['landmarks'], offset, flip, crop_size)
  return {
      'image': image,
      'landmarks': landmarks,
      'au': tf.cast(example['au'], tf.int32),
      'au_mask': tf.cast(example['au_mask'], tf.float32),
      'pseudo_au': tf.cast(example['pseudo_au'], tf.int32),
      'pseudo_mask': tf.cast(example['pseudo_mask'], tf.float32),
      'valid': tf.constant(1.0, tf.float32),
  }


def _padding(element_spec):
  """An endless dataset of all-zero examples with valid = 0."""
  zeros = {k: tf.zeros(s.shape, s.dtype) for k, s in element_spec.items()}
  return tf.data.Dataset.from_tensors(zeros).repeat()


def _epochs(records, count, epoch_seed, start, num_epochs, shuffle_buffer):
  """The undecoded records of every epoch from stream position `start` on: epoch e is
  `records` shuffled with a seed drawn from (epoch_seed, e), so any epoch can be rebuilt
  without reading the ones before it."""
  epoch, skip = divmod(start, count)
  if num_epochs is None:
    epochs = tf.data.Dataset.counter(start=epoch)
  else:
    epochs = tf.data.Dataset.range(epoch, max(epoch, num_epochs))

  def shuffled(e):
    key = tf.random.experimental.stateless_fold_in(epoch_seed, e)
    seed = tf.random.stateless_uniform([], key, minval=None, maxval=None, dtype=tf.int64)
    return records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=False)

  return epochs.flat_map(shuffled).skip(skip)


def create_dataset(data_dir, name, split, *, global_batch_size, train, seed=0,
                   crop_size=176, aligned_size=None, process_index=0,
                   process_count=1, num_epochs=None, shuffle_buffer=10_000,
                   prefetch=2, cache=False, start_step=0, threads=None):
  """Batches of a prepared data set for this host (see the module docstring).

  Args:
    data_dir, name: DATA_DIR and NAME given to `au-jax prepare`.
    split: 'train', 'validation', 'test', 'fold0', 'fold1+fold2', 'train[:50%]', ...
    global_batch_size: batch over all hosts; each host gets // process_count.
    train: random crop + flip, shuffle, repeat, drop remainder; else centre crop,
      one pass, padded last batch (`valid` marks real examples).
    seed: int; the same seed gives the same batches.
    crop_size: side of the crops (paper 176).
    aligned_size: expected side of the stored images; checked against the metadata.
    process_index, process_count: this host and the number of hosts (default: one
      host; multi-host training passes jax.process_index() and jax.process_count()).
    num_epochs: training passes (None = forever, reshuffled each pass).
    shuffle_buffer: examples in the shuffle buffer.
    prefetch: batches to prefetch.
    cache: keep the undecoded-record stream in memory (small data sets).
    start_step: training only: the first batch is the one an uninterrupted stream
      yields at this step (see the module docstring).
    threads: tf.data's private thread pool size (None: tf.data's shared pool).
  """
  process_index, process_count = _host(process_index, process_count)
  info = meta.load_metadata(data_dir, name)
  if aligned_size is not None and aligned_size != info.aligned_size:
    raise DataError(f'{name} is aligned to {info.aligned_size} pixels, but the config '
                    f'asks for {aligned_size}; prepare it again with --aligned-size '
                    f'{aligned_size}')
  aligned_size = info.aligned_size
  if not 0 < crop_size <= aligned_size:
    raise DataError(f'crop_size {crop_size} must be in 1..{aligned_size} (aligned size)')
  if global_batch_size % process_count:
    raise DataError(f'global_batch_size {global_batch_size} is not divisible by '
                    f'{process_count} hosts')
  batch_size = global_batch_size // process_count
  total = num_examples(data_dir, name, split)
  if train and total < global_batch_size:
    raise DataError(f'split {split!r} of {name} has {total} examples, fewer than one '
                    f'batch of {global_batch_size}')

  builder = _builder(data_dir, name)
  host_split = tfds.split_for_jax_process(
      split, process_index=process_index, process_count=process_count)
  ds = builder.as_dataset(
      split=host_split, shuffle_files=False,
      decoders={'image': tfds.decode.SkipDecoding()},
      read_config=tfds.ReadConfig(interleave_cycle_length=1, skip_prefetch=True))
  ds = ds.map(lambda x: {k: x[k] for k in ('image', 'landmarks', 'au', 'au_mask',
                                           'pseudo_au', 'pseudo_mask')})
  if cache:
    ds = ds.cache()
  host_seed = tf.random.experimental.stateless_fold_in(
      tf.constant([seed, 0], tf.int64), process_index)
  first = start_step * batch_size  # the first element's position in this host's stream
  if train:
    epoch_seed = tf.random.experimental.stateless_fold_in(
        tf.constant([seed, 1], tf.int64), process_index)
    ds = _epochs(ds, builder.info.splits[host_split].num_examples, epoch_seed, first,
                 num_epochs, shuffle_buffer)
  elif start_step:
    raise ValueError('start_step is for training streams only')
  ds = ds.enumerate(start=first).map(
      lambda i, x: _preprocess(
          x, tf.random.experimental.stateless_fold_in(host_seed, i), train=train,
          crop_size=crop_size, aligned_size=aligned_size),
      num_parallel_calls=tf.data.AUTOTUNE)
  if train:
    ds = ds.batch(batch_size, drop_remainder=True)
  else:
    steps = eval_steps(data_dir, name, split, global_batch_size, process_count)
    ds = ds.concatenate(_padding(ds.element_spec)).take(steps * batch_size)
    ds = ds.batch(batch_size, drop_remainder=True)
  options = tf.data.Options()
  options.deterministic = True
  if threads:
    options.threading.private_threadpool_size = threads
  ds = ds.with_options(options)
  return ds.prefetch(prefetch)


def target_iterator(data_dir, name, split='train', *, global_batch_size, seed=0, **kwargs):
  """Endless numpy batches of the target domain: reshuffled and restarted when used up.

  docs/method.md §4: one epoch is one pass over the source set; the target set just keeps coming.
  """
  ds = create_dataset(data_dir, name, split, global_batch_size=global_batch_size,
                      train=True, seed=seed, num_epochs=None, **kwargs)
  return ds.as_numpy_iterator()
