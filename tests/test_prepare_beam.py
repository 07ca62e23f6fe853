"""`prepare --beam` (data_pipelines/beam.py): the DirectRunner in multi-processing mode
writes the same records, splits and metadata as the local path, skips counted by Beam
counters, a detector built in each Beam worker."""

import os

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

from data_pipelines import fakes
from au_jax import metadata as meta
from data_pipelines import prepare
from data_pipelines import process

BEAM_OPTIONS = 'direct_num_workers=2,direct_running_mode=multi_processing'


def _records(folder):
  """{split: {source: example}} of a prepared data set, every feature as numpy."""
  builder = tfds.builder_from_directory(folder)
  out = {}
  for split in builder.info.splits:
    examples = tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False,
                                                decoders={'image': tfds.decode.SkipDecoding()}))
    out[split] = {e['source'].decode(): e for e in examples}
  return out


def _photos(folder):
  """Five photos for --detect-landmarks, the astronaut in four, none in the third."""
  from skimage import data as skdata  # pylint: disable=g-import-not-at-top
  astronaut = cv2.resize(skdata.astronaut(), (200, 200), interpolation=cv2.INTER_AREA)
  rows = []
  for i in range(5):
    image = np.full((240, 320, 3), 90 + 20 * i, np.uint8)
    if i != 2:
      image[20 + 4 * i:220 + 4 * i, 30 + 10 * i:230 + 10 * i] = (
          astronaut[:, ::-1] if i % 2 else astronaut)
    fakes.write_image(os.path.join(folder, f'{i}.jpg'), image)
    rows.append([f'{i}.jpg', 's1', 'train' if i < 3 else 'test', str(i % 2)])
  return fakes.write_csv(os.path.join(folder, 'manifest.csv'),
                         ['image', 'subject', 'split', 'AU1'], rows)


@pytest.mark.needs('apache_beam')
@pytest.mark.parametrize('detect', [False, True], ids=['given-landmarks', 'dlib'])
def test_beam_direct_runner_writes_the_records_of_the_local_path(tmp_path, monkeypatch,
                                                                 detect):
  if detect:
    inputs = [_photos(os.fspath(tmp_path / 'photos'))]
  else:
    inputs = [fakes.write_manifest(tmp_path / 'm', n=14, splits=['train', 'test'],
                                   aus=(4, 6, 12))]
    (tmp_path / 'm' / 'images' / '0003.png').write_bytes(b'not a png')  # a skip
  monkeypatch.setattr(process, 'CHUNK', 2)  # several chunks, so both Beam workers, a split
  folders, infos = {}, {}
  for route, beam_options in (('local', None), ('beam', BEAM_OPTIONS)):
    folders[route], infos[route], _ = prepare.prepare(
        'manifest', inputs, os.fspath(tmp_path / route), 'same', aligned_size=40,
        detect_landmarks=detect, progress=False, beam_options=beam_options)
  assert infos['beam'] == infos['local']  # counts, skips by reason, rates, the rest
  assert (meta.load_metadata(folders['beam']).raw ==
          meta.load_metadata(folders['local']).raw)
  skipped = [c['skipped'] for c in infos['beam']['counts'].values() if c['skipped']]
  assert skipped == [{'no face': 1} if detect else {'unreadable image': 1}]
  local, beam = _records(folders['local']), _records(folders['beam'])
  assert set(local) == set(beam) and all(local.values())
  for split in local:
    assert sorted(local[split]) == sorted(beam[split]), split
    for source, example in local[split].items():
      other = beam[split][source]
      assert set(example) == set(other)
      for feature, value in example.items():
        np.testing.assert_array_equal(value, other[feature], err_msg=f'{source} {feature}')
  # The same files, each with the same tf.train.Examples in the same order. (The bytes
  # differ only in the order protobuf writes the entries of an Example's feature map.)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  files = {route: sorted(n for n in os.listdir(folder) if '.tfrecord' in n)
           for route, folder in folders.items()}
  assert files['beam'] == files['local']
  for name in files['local']:
    examples = {route: [tf.train.Example.FromString(r.numpy()) for r in
                        tf.data.TFRecordDataset(os.path.join(folder, name))]
                for route, folder in folders.items()}
    assert examples['beam'] == examples['local'], name
  assert not os.path.exists(os.path.join(tmp_path, 'beam', '.prepare_cache'))
