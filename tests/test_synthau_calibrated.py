"""SynthAU's calibrated detector: true neutral shape + R x the AU motion + dlib-sized noise."""

import csv
import os

import numpy as np
import pytest

from data_pipelines import synthau
from data_pipelines.synthau import cli, detected

TINY = dict(lab_subjects=(1, 1, 1), lab_images=(2, 1, 1), wild_images=(40, 8, 8))


def rows_of(path):
  with open(path, newline='') as f:
    rows = list(csv.reader(f))
  return rows[0], rows[1:]


def points_of(row, first):
  return np.asarray(row[first:first + 136], np.float64).reshape(68, 2)


def write_detected(out, brow_shift=0.0, miss_every=0):
  """A stand-in for dlib's manifest_detected.csv: the exact points with the brows
  shifted right by `brow_shift` inter-ocular distances, every `miss_every`-th face
  missed, and the exact test control after them."""
  header, body = rows_of(out / 'wild' / 'manifest.csv')
  first, split = header.index('x1'), header.index('split')
  rows = []
  for i, row in enumerate(body):
    row = list(row)
    points = points_of(row, first)
    points[17:27, 0] += brow_shift * detected._iod(points)
    row[first:first + 136] = ([''] * 136 if miss_every and i % miss_every == 0
                              else [f'{v:.3f}' for v in points.reshape(-1)])
    rows.append(row)
  control = [list(r) for r in body if r[split] == 'test']
  for r in control:
    r[split] = detected.CONTROL
  with open(out / 'wild' / 'manifest_detected.csv', 'w', newline='') as f:
    csv.writer(f, lineterminator='\n').writerows([header] + rows + control)
  return header, body


@pytest.fixture(scope='module')
def drawn(tmp_path_factory):
  out = tmp_path_factory.mktemp('synthau_calibrated')
  synthau.generate(out, seed=3, **TINY)
  return out


def test_full_motion_without_noise_is_the_truth_and_no_motion_the_neutral_shape(drawn):
  header, body = write_detected(drawn)  # a perfect "detector": no error, no miss
  first, split = header.index('x1'), header.index('split')
  full = detected.calibrate_wild(str(drawn), 1.0)
  _, calibrated = rows_of(full['manifest'])
  assert len(calibrated) == len(body) + sum(r[split] == 'test' for r in body)
  for a, b in zip(body, calibrated):
    assert a[:first] == b[:first] and a[first + 136:] == b[first + 136:]
    np.testing.assert_allclose(points_of(b, first), points_of(a, first), atol=2e-3)
  assert [r[split] for r in calibrated[len(body):]] == ['test_exact'] * 8
  neutral = detected.calibrate_wild(str(drawn), 0.0)
  _, still = rows_of(neutral['manifest'])
  moved = 0
  for a, b in zip(body, still):
    index = int(os.path.basename(a[0])[:-4])
    shape, expressive = detected.true_shapes(3, a[split], index, 96)
    np.testing.assert_allclose(points_of(b, first), shape, atol=2e-3)
    moved += np.abs(expressive - shape).max() > 0.5  # an AU moved this face's points
  assert moved > len(body) // 2


def test_noise_and_misses_follow_the_measured_detector(drawn):
  header, body = write_detected(drawn, brow_shift=0.1, miss_every=4)
  first, split = header.index('x1'), header.index('split')
  info = detected.calibrate_wild(str(drawn), 1.0)
  train = info['dlib_noise']['train']
  assert train['recall'] == pytest.approx(0.75)
  assert train['groups']['brows']['rms'] == pytest.approx(0.1, abs=2e-3)
  assert train['groups']['brows']['shared'] == pytest.approx(1.0, abs=1e-3)
  assert train['groups']['mouth']['rms'] < 1e-3
  _, calibrated = rows_of(info['manifest'])
  kept = [r for r in calibrated[:len(body)] if r[split] == 'train' and r[first]]
  assert 18 <= len(kept) <= 38  # 75 % of 40 in expectation, drawn per face
  errors = {'brows': [], 'mouth': []}
  for row in kept:
    truth = next(points_of(a, first) for a in body if a[0] == row[0])
    error = np.linalg.norm(points_of(row, first) - truth, axis=1) / detected._iod(truth)
    errors['brows'].append(error[17:27].mean())
    errors['mouth'].append(error[48:68].mean())
  # A shift of 0.1 drawn per face: its mean length is 0.1 * sqrt(pi / 4) ~ 0.089.
  assert 0.05 < np.mean(errors['brows']) < 0.13
  assert np.mean(errors['mouth']) < 5e-3
  assert info['splits']['train']['found'] == len(kept)


def test_synth_cli_calibrates_an_existing_output(drawn, capsys):
  write_detected(drawn)
  code = cli.main(['synth', '--output', str(drawn), '--seed', '3', '--calibrate', '0.5'])
  out = capsys.readouterr().out
  assert code == 0 and 'manifest_calibrated_r0.50.csv' in out
  assert os.path.isfile(drawn / 'wild' / 'manifest_calibrated_r0.50.json')
  for args, message in ((['--calibrate', '1.5'], 'each R is in [0, 1]'),
                        (['--calibrate', '0.5', '--seed', '4'], 'drawn with seed 3')):
    code = cli.main(['synth', '--output', str(drawn), '--seed', '3', *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err


def test_calibrating_without_dlibs_manifest_is_one_line(tmp_path, capsys):
  synthau.generate(tmp_path, seed=3, lab_subjects=(1, 1, 1), lab_images=(1, 1, 1),
                   wild_images=(2, 1, 1))
  code = cli.main(['synth', '--output', str(tmp_path), '--seed', '3', '--calibrate', '0.5'])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(err) == 1 and 'manifest_detected.csv' in err[0], err
