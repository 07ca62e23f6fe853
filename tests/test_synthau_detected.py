"""SynthAU's detector-grade wild landmarks: the manifest, its statistics, the measurement."""

import csv
import json
import os

import numpy as np
import pytest

from data_pipelines import synthau
from data_pipelines.synthau import cli, detected

pytest.importorskip('dlib', reason='the faces extra (dlib) is part of the test extra')

# Large enough faces that HOG finds most of them, few enough images to stay fast.
TINY = dict(lab_subjects=(1, 1, 1), lab_images=(2, 1, 1), wild_images=(12, 6, 6))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rows_of(path):
  with open(path, newline='') as f:
    rows = list(csv.reader(f))
  return rows[0], rows[1:]


@pytest.fixture(scope='module')
def detected_set(tmp_path_factory):
  out = tmp_path_factory.mktemp('synthau_detected')
  synthau.generate(out, seed=5, **TINY)
  return out, detected.detect_wild(str(out))


def test_detected_manifest_replaces_every_split_and_keeps_an_exact_test_control(
    detected_set):
  out, info = detected_set
  header, exact = rows_of(out / 'wild' / 'manifest.csv')
  header2, found = rows_of(out / 'wild' / 'manifest_detected.csv')
  first, split = header.index('x1'), header.index('split')
  test = [r for r in exact if r[split] == 'test']
  assert header == header2 and len(found) == len(exact) + len(test)
  # The control: the same test faces, exact landmarks, under their own split name.
  control = found[len(exact):]
  assert [r[split] for r in control] == [detected.CONTROL] * len(test)
  assert [r[:split] + r[split + 1:] for r in control] == \
      [r[:split] + r[split + 1:] for r in test]
  counted = {s: 0 for s in detected.SPLITS}
  for a, b in zip(exact, found):
    # Everything but the landmark cells is unchanged (labels stay exact).
    assert a[:first] == b[:first] and a[first + 136:] == b[first + 136:]
    cells = b[first:first + 136]
    assert all(cells) or not any(cells)  # a row has all landmark cells or none
    if all(cells):
      counted[a[split]] += 1
      truth = np.asarray(a[first:first + 136], float).reshape(68, 2)
      points = np.asarray(cells, float).reshape(68, 2)
      assert not np.allclose(points, truth, atol=0.01)  # a detector's, not the truth
      # ... but on the same face: within a third of the face's size on average.
      size = np.ptp(truth, axis=0).max()
      assert np.linalg.norm(points - truth, axis=1).mean() < size / 3
  for s in detected.SPLITS:
    stats = info['splits'][s]
    assert stats['faces'] == TINY['wild_images'][detected.SPLITS.index(s)]
    assert stats['found'] == counted[s]
    assert stats['recall'] == pytest.approx(counted[s] / stats['faces'], abs=1e-4)
  assert sum(counted.values()) > 0  # HOG finds some drawn faces
  assert info['exact_splits'] == []
  assert info['control'] == {'split': 'test_exact', 'of': 'test', 'faces': len(test),
                             'landmarks': 'exact'}
  saved = json.load(open(out / 'wild' / 'detected.json'))
  assert saved['splits'] == info['splits'] and saved['control'] == info['control']


def test_prepare_drops_the_undetected_faces_and_keeps_the_whole_control(detected_set,
                                                                         tmp_path):
  from data_pipelines import prepare  # pylint: disable=import-outside-toplevel
  out, info = detected_set
  _, metadata, _ = prepare.prepare(
      'manifest', [str(out / 'wild' / 'manifest_detected.csv')], str(tmp_path), 'wild_det',
      aligned_size=72, progress=False)
  for s in detected.SPLITS:
    counts = metadata['counts'][s]
    assert counts['examples'] == info['splits'][s]['found']
    missed = info['splits'][s]['faces'] - info['splits'][s]['found']
    assert counts['skipped'].get('no landmarks', 0) == missed
  assert metadata['counts']['test_exact']['examples'] == TINY['wild_images'][2]


def test_a_config_scores_the_detected_test_split_and_the_control_by_name(detected_set,
                                                                         tmp_path):
  from au_jax import config_lib  # pylint: disable=import-outside-toplevel
  from au_jax.data import PreparedData  # pylint: disable=import-outside-toplevel
  from au_jax.evaluate import select_splits  # pylint: disable=import-outside-toplevel
  from data_pipelines import prepare  # pylint: disable=import-outside-toplevel
  out, info = detected_set
  for name, manifest in (('lab', out / 'lab' / 'manifest.csv'),
                         ('wild_det', out / 'wild' / 'manifest_detected.csv')):
    prepare.prepare('manifest', [str(manifest)], str(tmp_path), name, aligned_size=72,
                    progress=False)
  config = config_lib.load_config(os.path.join(REPO, 'configs', 'synthetic.py'))
  config.data.data_dir, config.data.source, config.data.target = str(tmp_path), 'lab', 'wild_det'
  config.data.target_eval_splits = ('validation', 'test', detected.CONTROL)
  config.data.au_ids = (1,)  # one that the two lab training images show
  data = PreparedData(config_lib.prepare_config(config))
  assert select_splits(data.eval_splits, ['target_test', 'test_exact']) == [
      'target_test', 'target_test_exact']
  sizes = {n: int(sum(b['valid'].sum() for b in data.eval_batches(n, 4)))
           for n in ('target_test', 'target_test_exact')}
  assert sizes == {'target_test': info['splits']['test']['found'],
                   'target_test_exact': TINY['wild_images'][2]}


def test_retention_is_the_slope_of_found_against_true_motion():
  true = np.array([[0.0, -0.1], [0.05, 0.0]])
  assert detected.retention([(0.5 * true, true)]) == pytest.approx(0.5)
  assert detected.retention([(-true, true), (true, true)]) == pytest.approx(0.0)
  # Motion across the true direction is not kept motion.
  assert detected.retention([(true[:, ::-1] * [1, -1], true)]) == pytest.approx(0.0)
  assert detected.retention([]) is None


def test_measure_reports_recall_errors_and_retention():
  result = detected.measure(seed=7, preset='small', count=6)
  assert result['faces'] == 6 and 0 <= result['found'] <= 6
  if result['found']:
    assert 0 < result['nme49_mean'] < 1
    assert set(result['group_error']) == set(detected.GROUPS)
  for au, slope in result['retention'].items():
    assert au.startswith('AU') and np.isfinite(slope)


def test_synth_cli_writes_the_detected_manifest(tmp_path, capsys):
  status = cli.main(['synth', '--output', str(tmp_path), '--lab-subjects', '1', '1', '1',
                     '--lab-images', '1', '1', '1', '--wild-images', '4', '2', '2',
                     '--workers', '1', '--quiet', '--detect-wild-landmarks'])
  assert status == 0
  assert (tmp_path / 'wild' / 'manifest_detected.csv').is_file()
  out = capsys.readouterr().out
  assert 'faces found' in out and 'left out' in out and 'test_exact: the 2 test faces' in out


def test_synth_cli_sets_the_wild_test_count(tmp_path):
  status = cli.main(['synth', '--output', str(tmp_path), '--lab-subjects', '1', '1', '1',
                     '--lab-images', '1', '1', '1', '--wild-images', '2', '1', '1',
                     '--wild-test-images', '3', '--workers', '1', '--quiet'])
  assert status == 0
  info = json.load(open(tmp_path / 'synthau.json'))
  assert info['counts']['wild'] == {'train': 2, 'validation': 1, 'test': 3}


def test_detect_wild_without_a_data_set_is_one_line(tmp_path):
  with pytest.raises(FileNotFoundError, match='au-jax synth'):
    detected.detect_wild(str(tmp_path))
