"""`au-jax landmark-error`: a detector's error per landmark group on a labelled domain."""

import csv
import hashlib
import os

import numpy as np

from au_jax import cli
from au_jax.faces import Detection
from data_pipelines import landmark_error, synthau
from data_pipelines.readers import manifest
from data_pipelines.records import load_image_file


def lab_manifest(tmp_path):
  synthau.generate(tmp_path, seed=2, lab_subjects=(2, 1, 1), lab_images=(6, 1, 1),
                   wild_images=(1, 1, 1))
  return os.fspath(tmp_path / 'lab' / 'manifest.csv')


def shifted_brows(path, shift):
  """A detector that finds each face at its annotated points, brows moved `shift` px."""
  truths = {}
  for r in manifest.read([path], None).records:
    truths[hashlib.sha1(load_image_file(r.image_path).tobytes()).hexdigest()] = r.landmarks
  def detect(image):
    points = np.array(truths[hashlib.sha1(image.tobytes()).hexdigest()], np.float32)
    points[17:27, 0] += shift
    return [Detection((0, 0, 1, 1), 1.0, points)]
  return detect


def frozen_brows(path, aligned_size):
  """A detector exact but for the brows, which it leaves at their subject's mean
  position in the aligned face: no error to speak of, and none of the motion."""
  import cv2
  from au_jax.geometry import align
  from au_jax.geometry import landmarks as lm
  records = manifest.read([path], None).records
  matrices = {r.key: align.alignment_matrix(lm.to_49(r.landmarks), aligned_size)
              for r in records}
  aligned = {r.key: align.transform_points(np.asarray(r.landmarks, np.float64),
                                           matrices[r.key]) for r in records}
  means = {s: np.mean([aligned[r.key] for r in records if r.subject == s], 0)
           for s in {r.subject for r in records}}
  truths = {}
  for r in records:
    points = aligned[r.key].copy()
    points[17:27] = means[r.subject][17:27]
    back = cv2.invertAffineTransform(matrices[r.key])
    truths[hashlib.sha1(load_image_file(r.image_path).tobytes()).hexdigest()] = (
        align.transform_points(points, back))
  return lambda image: [Detection((0, 0, 1, 1), 1.0, np.float32(
      truths[hashlib.sha1(image.tobytes()).hexdigest()]))]


def test_groups_that_do_not_follow_the_motion_are_left_out(tmp_path):
  path = lab_manifest(tmp_path)
  result = landmark_error.measure(path, images=8, aligned_size=72,
                                  detect=frozen_brows(path, 72))
  assert abs(result['retention']['brows']) < 0.02 and result['groups']['brows'] < 1.0
  assert all(result['retention'][g] > 0.98 for g in ('nose', 'eyes', 'mouth'))
  assert result['keep'] == ('nose', 'eyes', 'mouth')
  # Over all 49 points: the brows' 10 points keep nothing, the others all of it.
  assert 0.5 < result['retention_all'] < 0.98


def test_groups_beyond_a_cell_are_left_out(tmp_path):
  path = lab_manifest(tmp_path)
  result = landmark_error.measure(path, images=5, aligned_size=72,
                                  detect=shifted_brows(path, 12.0))
  assert result['measured'] == 5 and result['found'] == 5
  assert result['groups']['brows'] > 1.0
  assert result['retention']['brows'] > 0.5  # a shift in the image still follows the motion
  assert all(result['groups'][g] < 1e-3 for g in ('nose', 'eyes', 'mouth'))
  assert result['keep'] == ('nose', 'eyes', 'mouth')
  small = landmark_error.measure(path, images=5, aligned_size=72,
                                 detect=shifted_brows(path, 1.0))
  assert 0 < small['groups']['brows'] < 1.0 and len(small['keep']) == 4


def test_cli_prints_the_flag_and_one_line_errors(tmp_path, capsys, monkeypatch):
  path = lab_manifest(tmp_path)
  detect = shifted_brows(path, 12.0)
  monkeypatch.setattr('au_jax.faces.make_detector', lambda name, **kw: detect)
  out_json = tmp_path / 'error.json'
  code = cli.main(['landmark-error', '--manifest', path, '--images', '4',
                   '--aligned-size', '72', '--out', os.fspath(out_json)])
  out = capsys.readouterr().out
  assert code == 0 and 'brows' in out and 'leave out' in out
  assert "--config.loss.target_landmark_groups=\"('nose', 'eyes', 'mouth')\"" in out
  assert out_json.is_file()
  bare = tmp_path / 'bare.csv'
  with open(bare, 'w', newline='') as f:
    csv.writer(f).writerows([['image', 'subject'], ['a.png', 's1']])
  for manifest_path, message in ((os.fspath(tmp_path / 'none.csv'), 'not found'),
                                 (os.fspath(bare), 'no row has landmarks')):
    code = cli.main(['landmark-error', '--manifest', manifest_path])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
