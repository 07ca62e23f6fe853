"""SynthAU: determinism, manifests, landmark geometry, AU locality, label rates, CLI."""

import argparse
import csv
import json
import os

import cv2
import numpy as np
import pytest

from au_jax.geometry import landmarks as lm
from data_pipelines import synthau
from data_pipelines.synthau import cli, dataset as gen, domains, face, labels, shape
from data_pipelines.synthau.shape import AU_GROUPS, GROUPS

TINY = dict(lab_subjects=(2, 1, 1), lab_images=(6, 3, 3), wild_images=(6, 3, 3))


def read_manifest(path):
  with open(path, newline='') as f:
    rows = list(csv.reader(f))
  return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def points_of(row):
  return np.array([float(row[f'{c}{i}']) for i in range(1, 69) for c in 'xy']).reshape(68, 2)


def all_files(root):
  found = {}
  for folder, _, names in os.walk(root):
    for name in names:
      path = os.path.join(folder, name)
      with open(path, 'rb') as f:
        found[os.path.relpath(path, root)] = f.read()
  return found


@pytest.fixture(scope='module')
def tiny_set(tmp_path_factory):
  out = tmp_path_factory.mktemp('synthau') / 'set'
  result = synthau.generate(out, seed=3, **TINY)
  return out, result


def one_hot(au, value=1.0):
  vector = np.zeros(len(labels.AUS))
  vector[labels.INDEX[au]] = value
  return vector


def front_scene(size=128):
  """A lab scene without jitter, for pixel comparisons."""
  return domains.Scene('lab', size, scale=size * 0.27)


# Determinism and files.

def test_same_seed_same_bytes_any_worker_count(tmp_path, tiny_set):
  out, _ = tiny_set
  synthau.generate(tmp_path / 'again', seed=3, workers=2, **TINY)  # 2 processes
  first, second = all_files(out), all_files(tmp_path / 'again')
  assert sorted(first) == sorted(second)
  assert all(first[k] == second[k] for k in first)
  synthau.generate(tmp_path / 'other', seed=4, **TINY)
  assert all_files(tmp_path / 'other')['lab/manifest.csv'] != first['lab/manifest.csv']


def test_manifests_have_the_promised_columns_and_counts(tiny_set):
  out, result = tiny_set
  for domain, images in (('lab', TINY['lab_images']), ('wild', TINY['wild_images'])):
    header, rows = read_manifest(out / domain / 'manifest.csv')
    assert header == ['image', 'subject', 'split', 'domain'] + [
        f'{c}{i}' for i in range(1, 69) for c in 'xy'] + [
            f'AU{a}' for a in (1, 2, 4, 6, 9, 12, 15, 17, 25, 26)]
    assert [sum(r['split'] == s for r in rows) for s in gen.SPLITS] == list(images)
    assert {r['domain'] for r in rows} == {domain}
    for row in rows:
      path = out / domain / row['image']
      assert path.suffix == ('.png' if domain == 'lab' else '.jpg')
      image = cv2.imread(str(path))
      assert image.shape == (96, 96, 3)
      cells = {row[a] for a in labels.AU_NAMES}
      if domain == 'wild' and row['split'] == 'train':
        assert cells == {''}  # unlabelled
      else:
        assert cells <= {'0', '1'}
  info = json.loads((out / 'synthau.json').read_text())
  assert info['seed'] == 3 and info['preset'] == 'small'
  assert info['counts']['wild']['train'] == TINY['wild_images'][0]
  assert set(info['occurrence']['lab']['test']) == set(labels.AU_NAMES)
  assert result['counts'] == info['counts']


def test_splits_are_subject_disjoint(tiny_set):
  out, _ = tiny_set
  _, rows = read_manifest(out / 'lab' / 'manifest.csv')
  subjects = {s: {r['subject'] for r in rows if r['split'] == s} for s in gen.SPLITS}
  assert [len(subjects[s]) for s in gen.SPLITS] == list(TINY['lab_subjects'])
  assert not subjects['train'] & subjects['validation']
  assert not subjects['train'] & subjects['test']
  assert not subjects['validation'] & subjects['test']
  _, rows = read_manifest(out / 'wild' / 'manifest.csv')
  assert len({r['subject'] for r in rows}) == len(rows)
  assert len({r['image'] for r in rows}) == len(rows)


def test_paper_preset_and_bad_counts(tmp_path):
  result = synthau.generate(tmp_path, preset='paper', lab_subjects=(1, 0, 0),
                            lab_images=(1, 0, 0), wild_images=(0, 1, 0))
  _, rows = read_manifest(result['wild_manifest'])
  assert cv2.imread(str(tmp_path / 'wild' / rows[0]['image'])).shape == (256, 256, 3)
  with pytest.raises(ValueError, match='subject'):
    synthau.generate(tmp_path, lab_subjects=(0, 1, 1), lab_images=(2, 1, 1))
  with pytest.raises(ValueError, match='preset'):
    synthau.generate(tmp_path, preset='huge')


# Landmarks are where the drawing is.

def axes(points):
  """Unit vectors along the eye line (towards image right) and down the face."""
  right, left = lm.eye_centres(lm.to_49(points))
  across = (left - right) / np.linalg.norm(left - right)
  return across, np.array([-across[1], across[0]])


@pytest.mark.parametrize('size', [96, 256])
def test_landmarks_inside_and_in_anatomical_order_after_wild_transforms(size):
  rng = np.random.default_rng(0)
  for _ in range(300):
    ident = shape.sample_identity(rng)
    _, intensity, _ = labels.sample_labels(rng, 'wild')
    scene = domains.sample_scene(rng, 'wild', size)
    matrix = domains.face_matrix(scene, ident)
    points = shape.landmarks(ident, intensity) @ matrix[:, :2].T + matrix[:, 2]
    assert points.min() >= 0 and points.max() <= size - 1
    across, down = axes(points)
    x, y = points @ across, points @ down
    eye_r, eye_l = lm.eye_centres(points)
    assert eye_r[0] < eye_l[0]  # the subject's right eye is on the image left
    assert max(eye_r[1], eye_l[1]) < points[48:68, 1].min()  # eyes above the mouth
    assert y[17:27].max() < y[36:48].mean()  # brows above the eyes
    assert y[36:48].max() < y[30] < y[33] < y[51] < y[57] < y[8]
    assert x[0] < x[17] < x[21] < x[22] < x[26] < x[16]
    assert x[36] < x[39] < x[42] < x[45] and x[31] < x[33] < x[35] and x[48] < x[54]


@pytest.mark.parametrize('size', [96, 256])
def test_drawn_eye_centres_and_mouth_match_the_landmarks(size):
  rng = np.random.default_rng(1)
  for _ in range(10):
    ident = shape.sample_identity(rng)
    image, points = domains.render(ident, one_hot(25), front_scene(size))
    for centre in lm.eye_centres(lm.to_49(points)):
      x, y = np.round(centre).astype(int)
      assert image[y, x].max() < 60  # the pupil
    if size == 256:  # parted lips show teeth between points 62 and 66
      x, y = np.round((points[62] + points[66]) / 2).astype(int)
      assert np.abs(image[y, x] - np.array(face.TEETH)).max() < 30
    skin = np.array(ident['skin'])
    cheek = np.round((points[2] + points[31]) / 2).astype(int)
    assert np.abs(image[cheek[1], cheek[0]] - skin).max() < 6


def test_alignment_keeps_the_face_inside():
  from au_jax.geometry import align  # pylint: disable=import-outside-toplevel
  for preset, sizes in gen.PRESETS.items():
    for domain in ('lab', 'wild'):
      for i in range(20):
        ex = gen.render_example(0, domain, 'test', i, subject=0, size=sizes['image_size'])
        _, points = align.align_face(ex['image'], lm.to_49(ex['landmarks']),
                                     sizes['aligned_size'])
        crop = sizes['crop_size']
        margin = (sizes['aligned_size'] - crop) / 2
        assert points.min() > margin and points.max() < margin + crop - 1, (preset, domain)


# Each AU does what FACS says, and nothing else.

def test_each_au_moves_only_its_landmark_groups():
  rng = np.random.default_rng(2)
  for _ in range(5):
    ident = shape.sample_identity(rng)
    base = shape.landmarks(ident, np.zeros(10))
    for au in labels.AUS:
      moved = np.abs(shape.landmarks(ident, one_hot(au)) - base).max(1)
      groups = {g for g, idx in GROUPS.items() if moved[list(idx)].max() > 1e-9}
      assert groups == AU_GROUPS[au], au


def test_au_displacements_follow_facs():
  ident = shape.sample_identity(np.random.default_rng(3))
  base = shape.landmarks(ident, np.zeros(10))
  delta = {au: shape.landmarks(ident, one_hot(au)) - base for au in labels.AUS}
  up = lambda d, idx: -d[idx, 1]
  assert up(delta[1], 21) > up(delta[1], 17) + 0.05  # inner brow raised most
  assert up(delta[2], 17) > up(delta[2], 21) + 0.05  # outer brow raised most
  assert up(delta[4], 21) < -0.05 and delta[4][21, 0] > 0.03 > -delta[4][22, 0] - 0.06
  assert up(delta[6], 40) > 0.03 and up(delta[6], 37) == 0  # narrowed from below
  assert up(delta[9], 33) > 0.03 and delta[9][35, 0] > 0  # nostrils up and flared
  assert up(delta[12], 48) > 0.05 and delta[12][48, 0] < -0.04 and delta[12][54, 0] > 0.04
  assert up(delta[15], 48) < -0.04 and up(delta[15], 54) < -0.04
  assert up(delta[17], 57) > 0.03 and up(delta[17], 8) > 0.02
  gap = lambda d: (base[66, 1] + d[66, 1]) - (base[62, 1] + d[62, 1])
  assert gap(delta[25]) > 0.05 and gap(delta[26]) == pytest.approx(0.0)
  assert up(delta[26], 8) < -0.2 and up(delta[26], 57) < -0.05


def test_brow_lift_and_smile_match_motion_capture():
  # At full intensity: brow lift 0.17, lip corner 0.15 inter-ocular distances
  # (docs/synthau.md, measured at maximal effort).
  rng = np.random.default_rng(4)
  moved = {1: [], 2: [], 12: []}
  for _ in range(50):
    ident = shape.sample_identity(rng)
    base = shape.landmarks(ident, np.zeros(10))
    iod = lm.inter_ocular_distance(base)
    for au, point in ((1, 21), (2, 17), (12, 48)):
      step = shape.landmarks(ident, one_hot(au))[point] - base[point]
      moved[au].append(np.linalg.norm(step) / iod)
  assert np.mean(moved[1]) == pytest.approx(0.17, abs=0.01)
  assert np.mean(moved[2]) == pytest.approx(0.17, abs=0.01)
  assert np.mean(moved[12]) == pytest.approx(0.15, abs=0.01)


# Pixel bands (face units below the eye line) an AU may change, from the neutral
# landmarks: AU1/2/4 stay above the eyes, AU6 around the eyes and cheeks, AU9 from the
# nose root to the upper lip, the mouth AUs below the nose bridge.
def _band(au, p):
  eye = p[36:48, 1].mean()
  if au in (1, 2, 4):
    return -np.inf, eye
  if au == 6:
    return p[17:27, 1].max(), p[30, 1]
  if au == 9:
    return p[17:27, 1].max(), p[57, 1]
  return p[29, 1], np.inf


@pytest.mark.parametrize('au', labels.AUS)
def test_each_au_changes_only_the_pixels_near_it(au):
  rng = np.random.default_rng(4)
  scene = front_scene()
  for _ in range(4):
    ident = shape.sample_identity(rng)
    neutral, points = domains.render(ident, np.zeros(10), scene)
    active, _ = domains.render(ident, one_hot(au), scene)
    changed = np.abs(active.astype(int) - neutral).max(2) > 8
    rows = np.nonzero(changed.any(1))[0]
    assert changed.sum() > 15, f'AU{au} is not visible'
    low, high = _band(au, points)
    assert rows.min() >= low - 1 and rows.max() <= high + 1, (au, rows.min(), rows.max())


# Labels.

@pytest.mark.parametrize('domain', ['lab', 'wild'])
def test_occurrence_rates_hit_the_targets(domain):
  matrix = labels.sample_label_matrix(0, domain, 4000)
  rates = matrix.mean(0)
  np.testing.assert_allclose(rates, labels.target_rates(domain), atol=0.03)
  pairs = lambda a, b: (matrix[:, labels.INDEX[a]] & matrix[:, labels.INDEX[b]]).mean()
  rate = lambda a: rates[labels.INDEX[a]]
  for a, b in ((6, 12), (1, 2), (25, 26), (1, 4), (4, 17), (9, 4)):  # expressions
    assert pairs(a, b) > 1.5 * rate(a) * rate(b), (a, b)
  assert rates.min() < 0.08 and rates.max() > 0.4  # imbalanced like BP4D/DISFA


def test_wild_labels_shift_only_mildly():
  gap = np.abs(labels.target_rates('wild') - labels.target_rates('lab'))
  assert 0 < gap.max() <= 0.1


# Command line, contact sheet, prepare.

def test_cli_help_and_run(tmp_path, capsys):
  parser = argparse.ArgumentParser(prog='au-jax')
  sub = cli.add_parser(parser.add_subparsers(dest='command'))
  text = sub.format_help()
  for option in ('--output', '--preset', '--seed', '--lab-subjects', '--lab-images',
                 '--wild-images', '--workers', '--contact-sheet'):
    assert option in text
  args = parser.parse_args(['synth', '--output', str(tmp_path / 's'), '--quiet',
                            '--workers', '1', '--lab-subjects', '1', '1', '1',
                            '--lab-images', '2', '1', '1', '--wild-images', '2', '1', '1',
                            '--contact-sheet', str(tmp_path / 'sheet.png')])
  assert args.func is cli.run
  assert args.func(args) == 0
  out = capsys.readouterr().out
  assert '| AU1 |' in out and 'images/s' in out
  sheet = cv2.imread(str(tmp_path / 'sheet.png'))
  assert sheet.shape[1] == 8 * 150
  args = parser.parse_args(['synth', '--output', str(tmp_path / 'bad'), '--quiet',
                            '--lab-subjects', '0', '0', '0'])
  assert args.func(args) == 2


def test_contact_sheet(tiny_set, tmp_path):
  out, _ = tiny_set
  path = synthau.make_contact_sheet(out, str(tmp_path / 'sheet.png'), n=4, tile=96)
  sheet = cv2.imread(path)
  assert sheet.shape[1] == 4 * 96 and sheet.shape[0] > 4 * 96


def test_manifest_passes_prepare(tiny_set, tmp_path):
  """`au-jax prepare --format manifest` aligns every image of both domains, skips none."""
  from data_pipelines import prepare  # pylint: disable=import-outside-toplevel
  out, _ = tiny_set
  for domain, images in (('lab', TINY['lab_images']), ('wild', TINY['wild_images'])):
    _, metadata, _ = prepare.prepare('manifest', [str(out / domain / 'manifest.csv')],
                                     str(tmp_path), f'synthau_{domain}', aligned_size=72,
                                     progress=False)
    assert metadata['au_ids'] == list(labels.AUS)
    for split, n in zip(gen.SPLITS, images):
      counts = metadata['counts'][split]
      assert counts['read'] == counts['examples'] == n and not counts['skipped']
      unlabelled = domain == 'wild' and split == 'train'
      assert counts['labelled'] == [0 if unlabelled else n] * len(labels.AUS)


# Pseudo labels of a known quality (benchmarks/pseudo_labels.py).

def test_hidden_wild_train_labels_are_the_drawn_ones(tiny_set):
  out, _ = tiny_set
  _, rows = read_manifest(os.path.join(out, 'wild', 'manifest.csv'))
  validation = [r for r in rows if r['split'] == 'validation']
  drawn = gen.hidden_labels(3, 'validation', len(validation))
  assert drawn.tolist() == [[int(r[a]) for a in labels.AU_NAMES] for r in validation]
  assert all(r[labels.AU_NAMES[0]] == '' for r in rows if r['split'] == 'train')


@pytest.mark.parametrize('rate', [0.0, 1.0])
def test_flipped_pseudo_labels_score_as_flipped(tiny_set, tmp_path, rate):
  from benchmarks import pseudo_labels  # pylint: disable=import-outside-toplevel
  out, _ = tiny_set
  manifest = os.path.join(out, 'wild', 'manifest.csv')
  path = pseudo_labels.flip(manifest, rate, 0, os.fspath(tmp_path / 'p.csv'))
  scored = pseudo_labels.score(manifest, path)
  assert scored['images'] == scored['labelled'] == TINY['wild_images'][0]
  assert set(scored['accuracy'].values()) == {100.0 * (1 - rate)}
