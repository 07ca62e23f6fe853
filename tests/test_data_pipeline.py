"""tf.data pipeline: crops, flips, normalisation, determinism, host sharding, eval padding,
resuming at a step."""

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from au_jax import data as data_lib
from au_jax.geometry import landmarks as lm
from au_jax import input_pipeline as ip
from au_jax import metadata as meta
from data_pipelines import prepare
from data_pipelines import fakes
from au_jax.errors import DataError

ALIGNED, CROP = 40, 32


@pytest.fixture(scope='module')
def data(tmp_path_factory):
  """A prepared data set: 14 train, 5 validation examples, aligned to 40 pixels."""
  root = tmp_path_factory.mktemp('pipeline')
  path = fakes.write_manifest(root / 'm', n=19, splits=['train'] * 14 + ['validation'] * 5,
                                pseudo=True)
  prepare.prepare('manifest', [path], os.fspath(root / 'data'), 'tiny',
                  aligned_size=ALIGNED, progress=False)
  return os.fspath(root / 'data')


def stored(data, split):
  builder = tfds.builder_from_directory(meta.dataset_path(data, 'tiny'))
  return list(tfds.as_numpy(builder.as_dataset(split=split)))


def batches(data, split, count=None, **kwargs):
  kwargs.setdefault('process_index', 0)
  kwargs.setdefault('process_count', 1)
  ds = ip.create_dataset(data, 'tiny', split, crop_size=CROP, **kwargs)
  it = ds.as_numpy_iterator()
  return list(it) if count is None else [next(it) for _ in range(count)]


def test_crop_offsets_cover_zero_and_max_at_paper_size():
  seen_rows, seen_cols, flips = set(), set(), set()
  for i in range(400):
    offset, flip = ip.random_crop_and_flip(tf.constant([7, i], tf.int64), 200, 176)
    seen_rows.add(int(offset[0]))
    seen_cols.add(int(offset[1]))
    flips.add(bool(flip))
  assert min(seen_rows) == 0 and max(seen_rows) == 24
  assert min(seen_cols) == 0 and max(seen_cols) == 24
  assert len(seen_rows) == 25 and flips == {True, False}


def test_flip_twice_is_identity_and_matches_au_jax():
  rng = np.random.default_rng(0)
  image = tf.constant(rng.integers(0, 255, (ALIGNED, ALIGNED, 3)), tf.uint8)
  points = tf.constant(rng.uniform(0, ALIGNED - 1, (49, 2)), tf.float32)
  zero = tf.constant([0, 0])
  once_image, once_points = ip.crop_and_flip(image, points, zero, tf.constant(True), ALIGNED)
  np.testing.assert_allclose(once_points, lm.flip_horizontal(points.numpy(), ALIGNED),
                             atol=1e-5)
  np.testing.assert_array_equal(once_image, image.numpy()[:, ::-1])
  twice_image, twice_points = ip.crop_and_flip(once_image, once_points, zero,
                                               tf.constant(True), ALIGNED)
  np.testing.assert_array_equal(twice_image, image)
  np.testing.assert_allclose(twice_points, points, atol=1e-5)


def test_crop_moves_landmarks_with_the_pixels():
  image = np.zeros((ALIGNED, ALIGNED, 3), np.uint8)
  image[10, 25] = 255  # A bright pixel at x=25, y=10, where landmark 0 sits.
  points = np.full((49, 2), 5.0, np.float32)
  points[0] = [25, 10]
  for flip in (False, True):
    out_image, out_points = ip.crop_and_flip(
        tf.constant(image), tf.constant(points), tf.constant([3, 8]), tf.constant(flip),
        CROP)
    y, x = np.argwhere(out_image.numpy()[..., 0] == 255)[0]
    index = lm.REFLECT_49.tolist().index(0) if flip else 0
    np.testing.assert_allclose(out_points[index], [x, y])


def test_batch_contents(data):
  (batch,) = batches(data, 'train', 1, global_batch_size=4, train=True, seed=0)
  assert batch['image'].shape == (4, CROP, CROP, 3) and batch['image'].dtype == np.uint8
  image = np.asarray(data_lib.normalise_images(batch['image']))
  assert image.dtype == np.float32 and -1.0 <= image.min() and image.max() <= 1.0
  assert batch['landmarks'].shape == (4, 49, 2) and batch['landmarks'].dtype == np.float32
  assert batch['au'].shape == (4, 3) and batch['au'].dtype == np.int32
  assert batch['au_mask'].dtype == np.float32 and batch['au_mask'].min() == 1.0
  assert batch['pseudo_au'].shape == (4, 3) and batch['pseudo_mask'].min() == 1.0
  np.testing.assert_array_equal(batch['valid'], np.ones(4))


def test_eval_is_centre_crop_and_normalised(data):
  examples = stored(data, 'validation')
  eval_batches = batches(data, 'validation', global_batch_size=2, train=False)
  by_au_and_points = {}
  for b in eval_batches:
    for i in np.nonzero(b['valid'])[0]:
      by_au_and_points[tuple(np.round(b['landmarks'][i].reshape(-1), 3))] = b['image'][i]
  offset = (ALIGNED - CROP) // 2
  for example in examples:
    key = tuple(np.round((example['landmarks'] - offset).reshape(-1), 3))
    crop = example['image'][offset:offset + CROP, offset:offset + CROP]
    np.testing.assert_array_equal(by_au_and_points[key], crop)  # uint8, as stored
    np.testing.assert_allclose(data_lib.normalise_images(by_au_and_points[key]),
                               (crop / 255.0 - 0.5) / 0.5, atol=1e-6)


def test_eval_pads_the_last_batch(data):
  eval_batches = batches(data, 'validation', global_batch_size=2, train=False)
  assert len(eval_batches) == 3 == ip.eval_steps(data, 'tiny', 'validation', 2)
  valid = np.concatenate([b['valid'] for b in eval_batches])
  np.testing.assert_array_equal(valid, [1, 1, 1, 1, 1, 0])
  assert eval_batches[-1]['image'].shape == (2, CROP, CROP, 3)
  assert eval_batches[-1]['au_mask'][1].sum() == 0  # Padding carries no labels.


def test_same_seed_same_batches(data):
  first = batches(data, 'train', 5, global_batch_size=4, train=True, seed=3)
  again = batches(data, 'train', 5, global_batch_size=4, train=True, seed=3)
  other = batches(data, 'train', 5, global_batch_size=4, train=True, seed=4)
  for a, b in zip(first, again):
    for key in a:
      np.testing.assert_array_equal(a[key], b[key])
  assert any(not np.array_equal(a['image'], b['image']) for a, b in zip(first, other))


def test_train_crops_vary_and_stay_in_range(data):
  got = batches(data, 'train', 6, global_batch_size=4, train=True, seed=1)
  points = np.concatenate([b['landmarks'] for b in got])
  stored_points = {tuple(np.round(e['landmarks'][:, 1], 3)) for e in stored(data, 'train')}
  # y is only shifted by the crop (a flip changes x and the order): shift in 0..8.
  shifts = set()
  for p in points:
    for ys in stored_points:
      for candidate in (np.array(ys), np.array(ys)[lm.REFLECT_49]):
        d = candidate - p[:, 1]
        if np.allclose(d, d[0], atol=1e-3):
          shifts.add(round(float(d[0])))
  assert shifts and shifts <= set(range(0, ALIGNED - CROP + 1))
  assert len(shifts) > 1


def test_two_hosts_get_disjoint_shards_that_cover_the_split(data):
  def keys(process_index, process_count):
    out = []
    for b in batches(data, 'train', global_batch_size=2, train=False,
                     process_index=process_index, process_count=process_count):
      assert b['image'].shape[0] == 2 // process_count
      for i in np.nonzero(b['valid'])[0]:
        out.append(tuple(np.round(b['landmarks'][i].reshape(-1), 3)))
    return out
  host0, host1, single = keys(0, 2), keys(1, 2), keys(0, 1)
  assert len(host0) == len(host1) == 7
  assert not set(host0) & set(host1)
  assert sorted(host0 + host1) == sorted(single) and len(set(single)) == 14
  steps = ip.eval_steps(data, 'tiny', 'train', 2, process_count=2)
  assert steps == 7


def test_two_hosts_in_training(data):
  got = [batches(data, 'train', 2, global_batch_size=4, train=True, seed=0,
                 process_index=i, process_count=2) for i in (0, 1)]
  assert got[0][0]['image'].shape == (2, CROP, CROP, 3)
  assert not np.array_equal(got[0][0]['image'], got[1][0]['image'])


def _assert_same_batches(got, expected):
  assert len(got) == len(expected)
  for a, b in zip(got, expected):
    assert set(a) == set(b)
    for key in a:
      np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize('hosts', [1, 2])
def test_resuming_at_a_step_gives_the_uninterrupted_batches(data, hosts):
  # 14 examples, batches of 4 (one host) or 2 per host (two hosts, 7 examples each):
  # epochs end inside batches 3, 6, 10, ... so the resumes below start in the middle of
  # an epoch, on a batch that spans two epochs, and several epochs on.
  for host in range(hosts):
    kwargs = dict(global_batch_size=4, train=True, seed=5, process_index=host,
                  process_count=hosts)
    stream = batches(data, 'train', 16, **kwargs)
    for k in (1, 3, 7, 12):
      _assert_same_batches(batches(data, 'train', 16 - k, start_step=k, **kwargs),
                           stream[k:])


def test_resuming_does_not_decode_the_skipped_records(data, monkeypatch):
  # Step 1000 of batches of 4 is element 4000 of the stream: epoch 285 of 14 examples,
  # 10 records into it. Those records are read, not decoded; the epochs before are not
  # read at all.
  decoded = []
  real = tf.io.decode_png

  def counting_decode(contents, channels):
    def count(x):
      decoded.append(1)
      return x
    return real(tf.py_function(count, [contents], tf.string), channels=channels)
  monkeypatch.setattr(tf.io, 'decode_png', counting_decode)
  (batch,) = batches(data, 'train', 1, global_batch_size=4, train=True, seed=2,
                     start_step=1000, threads=1, prefetch=1)
  assert batch['image'].shape == (4, CROP, CROP, 3)
  assert 4 <= len(decoded) < 40, len(decoded)  # a skip of decoded batches: > 4000


def test_target_iterator_restarts_and_reshuffles(data):
  it = ip.target_iterator(data, 'tiny', 'train', global_batch_size=7, seed=0,
                          crop_size=CROP, process_index=0, process_count=1)
  labels = lambda b: [tuple(a) + tuple(p) for a, p in zip(b['au'], b['pseudo_au'])]
  everything = sorted(tuple(e['au']) + tuple(e['pseudo_au']) for e in stored(data, 'train'))
  orders = []
  for _ in range(3):  # 14 examples = 2 batches a pass.
    epoch = labels(next(it)) + labels(next(it))
    assert sorted(epoch) == everything  # Each pass holds every example once.
    orders.append(epoch)
  assert orders[0] != orders[1] or orders[1] != orders[2]  # Reshuffled.


def test_sizes_and_errors(data):
  assert ip.num_examples(data, 'tiny', 'train') == 14
  assert ip.steps_per_epoch(data, 'tiny', 'train', 4) == 3
  with pytest.raises(DataError, match='aligned to 40 pixels'):
    ip.create_dataset(data, 'tiny', 'train', global_batch_size=2, train=True,
                      crop_size=CROP, aligned_size=200, process_index=0, process_count=1)
  with pytest.raises(DataError, match='crop_size 64'):
    ip.create_dataset(data, 'tiny', 'train', global_batch_size=2, train=True,
                      crop_size=64, process_index=0, process_count=1)
  with pytest.raises(DataError, match="split 'nope'"):
    ip.num_examples(data, 'tiny', 'nope')
  with pytest.raises(DataError, match='fewer than one batch'):
    ip.create_dataset(data, 'tiny', 'validation', global_batch_size=8, train=True,
                      crop_size=CROP, process_index=0, process_count=1)
  with pytest.raises(DataError, match='no prepared data set'):
    ip.create_dataset(data, 'missing', 'train', global_batch_size=2, train=True,
                      process_index=0, process_count=1)


def test_load_metadata(data):
  info = meta.load_metadata(data, 'tiny')
  assert info.au_ids == [1, 2, 4] and info.aligned_size == ALIGNED
  assert info.splits == {'train': 14, 'validation': 5}
  same = meta.load_metadata(meta.dataset_path(data, 'tiny'))
  assert same.occurrence_rates == info.occurrence_rates
  np.testing.assert_allclose(info.rates('train'), info.occurrence_rates)
  assert info.train_split == 'train'


def test_data_seed_sets_the_batches_apart_from_the_seed(data):
  from configs import tiny  # pylint: disable=g-import-not-at-top
  info = meta.load_metadata(data, 'tiny')
  rates = info.rates('train')
  config = tiny.get_config()
  d = config.data
  d.data_dir, d.source, d.target = data, 'tiny', 'tiny'
  d.source_train_split, d.source_eval_splits = 'train', ('validation',)
  d.au_ids = tuple(a for a, r in zip(info.au_ids, rates) if r > 0)
  d.aligned_size, d.crop_size = ALIGNED, CROP

  def first_images(seed, data_seed):
    config.seed, config.data_seed = seed, data_seed
    prepared = data_lib.PreparedData(config)
    return [next(prepared.source_batches(4))['image'],
            next(prepared.target_batches(4))['image']]

  plain = first_images(0, -1)  # -1: the batches follow `seed`
  for a, b in zip(plain, first_images(5, 0)):  # another seed, the same batches
    np.testing.assert_array_equal(a, b)
  assert not np.array_equal(plain[0], first_images(0, 1)[0])
