"""Each reader on a small fake of its layout, and its errors on bad input."""

import csv
import os

import numpy as np
import pytest

from data_pipelines import plan as plan_lib
from data_pipelines import records as rec
from data_pipelines import fakes
from au_jax.errors import DataError
from data_pipelines.errors import SkipRecord
from data_pipelines.readers import ReadOptions, get_reader, pseudo


def read(fmt, inputs, **kwargs):
  return get_reader(fmt)(inputs, ReadOptions(**kwargs))


def rewrite_csv(path, edit):
  """Reads a CSV, lets `edit(rows)` change it, writes it back."""
  with open(path, newline='') as f:
    rows = list(csv.reader(f))
  edit(rows)
  with open(path, 'w', newline='') as f:
    csv.writer(f).writerows(rows)


# Manifest.

def test_manifest_reads_columns(tmp_path):
  path = fakes.write_manifest(tmp_path, n=6, splits=['train', 'val', 'test'],
                                pseudo=True)
  source = read('manifest', [path])
  assert len(source.records) == 6 and source.au_ids == [1, 2, 4]
  first = source.records[0]
  assert first.image_path == os.path.join(tmp_path, 'images', '0000.png')
  assert first.landmarks.shape == (68, 2) and first.subject == 's1'
  assert [r.split for r in source.records[:3]] == ['train', 'validation', 'test']
  assert first.domain == 'lab' and set(first.labels) == {1, 2, 4}
  assert set(first.pseudo) == {1, 2, 4}
  assert first.labels[1] == 0 and source.records[1].labels[1] == 1


def test_manifest_empty_cells_are_unknown_and_openface_columns_are_pseudo(tmp_path):
  path = fakes.write_manifest(tmp_path, n=3)
  def edit(rows):
    rows[0].append('AU12_c')
    for row in rows[1:]:
      row.append('1.00')
    rows[1][rows[0].index('AU2')] = ''
  rewrite_csv(path, edit)
  source = read('manifest', [path])
  assert 2 not in source.records[0].labels and 1 in source.records[0].labels
  assert source.records[0].pseudo == {12: 1}
  assert 12 not in source.au_ids  # Pseudo labels stay apart from true labels.


@pytest.mark.parametrize('count', [66, 49])
def test_manifest_accepts_66_and_49_points(tmp_path, count):
  rng = np.random.default_rng(0)
  image, points = fakes.fake_face(rng, landmarks=count)
  fakes.write_image(os.fspath(tmp_path / 'a.png'), image)
  header = ['image', 'subject'] + [f'{a}{i}' for i in range(1, count + 1) for a in 'xy']
  path = fakes.write_csv(os.fspath(tmp_path / 'm.csv'), header,
                           [['a.png', 's'] + [str(v) for v in points.reshape(-1)]])
  source = read('manifest', [path])
  assert source.records[0].landmarks.shape == (count, 2)
  assert source.au_ids == []


def test_manifest_bad_au_value_names_file_and_row(tmp_path):
  path = fakes.write_manifest(tmp_path, n=3)
  rewrite_csv(path, lambda rows: rows[2].__setitem__(rows[0].index('AU4'), '2'))
  with pytest.raises(DataError, match=r'manifest\.csv, row 3: column AU4 holds .2.'):
    read('manifest', [path])


def test_manifest_partial_landmark_row(tmp_path):
  path = fakes.write_manifest(tmp_path, n=3)
  rewrite_csv(path, lambda rows: rows[3].__setitem__(rows[0].index('y68'), ''))
  with pytest.raises(DataError, match=r'row 4: 135 of 136 landmark cells'):
    read('manifest', [path])


def test_manifest_wrong_landmark_count_in_header(tmp_path):
  path = fakes.write_csv(os.fspath(tmp_path / 'm.csv'),
                           ['image', 'subject'] + [f'{a}{i}' for i in range(1, 51)
                                                   for a in 'xy'],
                           [['a.png', 's'] + ['1'] * 100])
  with pytest.raises(DataError, match='N = 68, 66 or 49; found 50 x'):
    read('manifest', [path])


def test_manifest_non_number_landmark(tmp_path):
  path = fakes.write_manifest(tmp_path, n=2)
  rewrite_csv(path, lambda rows: rows[1].__setitem__(rows[0].index('x5'), 'abc'))
  with pytest.raises(DataError, match=r"row 2: landmark value 'abc' is not a number"):
    read('manifest', [path])


def test_manifest_nan_landmarks_are_kept_for_a_counted_skip(tmp_path):
  path = fakes.write_manifest(tmp_path, n=2)
  rewrite_csv(path, lambda rows: rows[1].__setitem__(rows[0].index('x20'), 'nan'))
  source = read('manifest', [path])
  assert np.isnan(source.records[0].landmarks).any()


@pytest.mark.parametrize('content, message', [
    ('', 'the manifest is empty'),
    ('image,subject\n', 'header but no rows'),
    ('file,subject\na.png,s\n', 'no `image` column'),
    ('image,subject,split\na.png,s,\n', 'empty `split` cell'),
    ('image,subject,split\na.png,s,tr ain\n', 'is not a split name'),
    ('image,subject\na.png\n', '1 cells, but the header has 2'),
])
def test_manifest_structure_errors(tmp_path, content, message):
  path = tmp_path / 'm.csv'
  path.write_text(content)
  with pytest.raises(DataError, match=message):
    read('manifest', [os.fspath(path)])


def test_manifest_missing_file(tmp_path):
  with pytest.raises(DataError, match='manifest CSV not found'):
    read('manifest', [os.fspath(tmp_path / 'nope.csv')])


# ADLD / JAA-Net list files.

def test_adld_lists(tmp_path):
  prefix = fakes.write_adld(os.fspath(tmp_path), n=5)
  source = read('adld', [f'train={prefix}'], image_root=os.fspath(tmp_path / 'imgs'),
                aus=[1, 2, 4, 6, 12, 17])
  assert len(source.records) == 5 and source.au_ids == [1, 2, 4, 6, 12, 17]
  first = source.records[0]
  assert first.aligned and first.split == 'train' and first.subject == 'F001'
  assert first.landmarks.shape == (49, 2) and os.path.isfile(first.image_path)
  assert 17 not in first.labels  # 999 = missing.
  assert source.extra['adld_weights']['train'] == [1.0] * 6


def test_adld_needs_aus_and_matching_lines(tmp_path):
  prefix = fakes.write_adld(os.fspath(tmp_path), n=3)
  with pytest.raises(DataError, match='pass --aus'):
    read('adld', [prefix])
  with pytest.raises(DataError, match='6 values, but --aus names 2 AUs'):
    read('adld', [prefix], aus=[1, 2])
  with open(prefix + '_land.txt', 'a') as f:
    f.write('1 2 3\n')
  with pytest.raises(DataError, match='_land.txt has 4 lines but .*_path.txt has 3'):
    read('adld', [prefix], aus=[1, 2, 4, 6, 12, 17])


def test_adld_bad_landmark_line(tmp_path):
  prefix = fakes.write_adld(os.fspath(tmp_path), n=2)
  lines = open(prefix + '_land.txt').read().splitlines()
  lines[1] = ' '.join(lines[1].split()[:-2])
  open(prefix + '_land.txt', 'w').write('\n'.join(lines) + '\n')
  with pytest.raises(DataError, match=r'_land\.txt, row 2: found 96 landmark values'):
    read('adld', [prefix], aus=[1, 2, 4, 6, 12, 17])


# BP4D.

@pytest.mark.parametrize('landmark_format', ['csv', 'mat'])
def test_bp4d_layout(tmp_path, landmark_format):
  root = fakes.write_bp4d(os.fspath(tmp_path), frames=3, landmark_format=landmark_format)
  source = read('bp4d', [root])
  assert len(source.records) == 9
  assert source.au_ids == [1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24]
  first = source.records[0]
  assert first.subject == 'F001' and first.key == 'F001_T1/000100'
  assert first.image_path.endswith(os.path.join('F001', 'T1', '0100.jpg'))
  assert first.landmarks.shape == (49, 2)
  assert 24 not in first.labels  # 9 = unknown.
  folds = plan_lib.assign_folds(source.records, 3, source.fold_lists)
  assert folds == {'fold0': ['F001'], 'fold1': ['M011'], 'fold2': ['F007']}


def test_bp4d_frame_step_and_errors(tmp_path):
  root = fakes.write_bp4d(os.fspath(tmp_path), subjects=('F001',), frames=4)
  assert len(read('bp4d', [root], frame_step=2).records) == 2
  os.remove(os.path.join(root, 'Landmarks', 'F001_T1.csv'))
  with pytest.raises(DataError, match='no landmarks for F001_T1'):
    read('bp4d', [root])
  assert read('bp4d', [root], need_landmarks=False).records[0].landmarks is None
  rewrite_csv(os.path.join(root, 'AUCoding', 'AU_OCC', 'F001_T1.csv'),
              lambda rows: rows[2].__setitem__(3, '5'))
  with pytest.raises(DataError, match=r'F001_T1\.csv, row 3: column AU4 holds .5.'):
    read('bp4d', [root], need_landmarks=False)
  with pytest.raises(DataError, match='no AUCoding/AU_OCC'):
    read('bp4d', [os.fspath(tmp_path / 'empty')])


# DISFA.

def test_disfa_layout_reads_video_frames(tmp_path):
  truth = fakes.write_disfa(os.fspath(tmp_path), frames=4)
  source = read('disfa', [os.fspath(tmp_path)])
  assert len(source.records) == 12 and source.au_ids == [1, 4, 6, 12]
  record = source.records[2]
  assert record.subject == 'SN001' and record.frame == 2
  # Intensity (k + au) % 6 on 1-based frame k + 1, >= 2 positive.
  assert record.labels == {au: int((2 + au) % 6 >= 2) for au in (1, 4, 6, 12)}
  np.testing.assert_allclose(record.landmarks.load(), truth['SN001'][2][1])
  loader = rec.ImageLoader()
  frame = loader.load(record)
  assert frame.shape == (120, 100, 3)
  # MJPG is lossy: the frame is close to the one written, far from another.
  assert np.abs(frame.astype(float) - truth['SN001'][2][0]).mean() < 8
  assert np.abs(frame.astype(float) - truth['SN001'][0][0]).mean() > 8
  assert np.abs(loader.load(source.records[0]).astype(float)
                - truth['SN001'][0][0]).mean() < 8  # Going back reopens the video.
  loader.close()


def test_disfa_folds_follow_jaa_net_lists(tmp_path):
  fakes.write_disfa(os.fspath(tmp_path), subjects=('SN001', 'SN013', 'SN003'), frames=1)
  source = read('disfa', [os.fspath(tmp_path)])
  assert plan_lib.assign_folds(source.records, 3, source.fold_lists) == {
      'fold0': ['SN001'], 'fold1': ['SN013'], 'fold2': ['SN003']}


def test_disfa_errors(tmp_path):
  fakes.write_disfa(os.fspath(tmp_path), subjects=('SN001',), frames=2)
  label = tmp_path / 'ActionUnit_Labels' / 'SN001' / 'SN001_au4.txt'
  label.write_text('1,7\n2,0\n')
  with pytest.raises(DataError, match=r'SN001_au4\.txt, row 1: intensity 7'):
    read('disfa', [os.fspath(tmp_path)])
  label.write_text('1;x\n')
  with pytest.raises(DataError, match='expected `frame,intensity`'):
    read('disfa', [os.fspath(tmp_path)])
  label.write_text('1,0\n2,3\n')
  os.remove(tmp_path / 'Videos_LeftCamera' / 'LeftVideoSN001_comp.avi')
  with pytest.raises(DataError, match='no left-camera video for SN001'):
    read('disfa', [os.fspath(tmp_path)])


def test_missing_video_frame_is_a_skip(tmp_path):
  fakes.write_disfa(os.fspath(tmp_path), subjects=('SN001',), frames=2)
  source = read('disfa', [os.fspath(tmp_path)])
  record = source.records[1]
  record.frame = 50
  with pytest.raises(SkipRecord) as info:
    rec.ImageLoader().load(record)
  assert info.value.reason == 'unreadable image'


# EmotioNet.

def test_emotionet_layout(tmp_path):
  fakes.write_emotionet(os.fspath(tmp_path), train=5, validation=6)
  source = read('emotionet', [os.fspath(tmp_path)], max_train=3)
  splits = [r.split for r in source.records]
  assert splits.count('train') == 3
  assert splits.count('validation') == 3 and splits.count('test') == 3
  assert source.au_ids == [1, 2, 4, 6, 12, 17]
  labelled = [r for r in source.records if r.split != 'train']
  assert all(17 not in r.labels and len(r.labels) == 5 for r in labelled)  # 999.
  assert all(r.landmarks.shape == (68, 2) and r.domain == 'wild' for r in source.records)
  assert all(not r.labels for r in source.records if r.split == 'train')
  again = read('emotionet', [os.fspath(tmp_path)], max_train=3)
  assert [r.key for r in again.records] == [r.key for r in source.records]  # Seeded.


def test_emotionet_errors(tmp_path):
  fakes.write_emotionet(os.fspath(tmp_path), train=1, validation=2)
  os.remove(tmp_path / 'landmarks.csv')
  with pytest.raises(DataError, match='--detect-landmarks or that file'):
    read('emotionet', [os.fspath(tmp_path)])
  assert read('emotionet', [os.fspath(tmp_path)], need_landmarks=False).records
  fakes.write_image(os.fspath(tmp_path / 'validation' / 'extra.jpg'),
                      np.zeros((8, 8, 3), np.uint8))
  with pytest.raises(DataError, match=r'validation\.csv: no row for 1 image'):
    read('emotionet', [os.fspath(tmp_path)], need_landmarks=False)


# Pseudo labels.

def test_openface_table_and_folder(tmp_path):
  path = fakes.write_manifest(tmp_path / 'm', n=3)
  source = read('manifest', [path])
  table = fakes.write_csv(
      os.fspath(tmp_path / 'of.csv'),
      ['input', ' face', ' confidence', ' success', ' AU01_c', ' AU04_c'],
      [['images/0000.png', '0', '0.9', '1', '1', '0'],
       ['images/0000.png', '1', '0.5', '1', '0', '1'],
       ['0001.png', '0', '0.9', '0', '1', '1']])
  assert pseudo.attach(source.records, pseudo.read_pseudo_labels(table)) == 1
  assert source.records[0].pseudo == {1: 1, 4: 0}  # The most confident face.
  folder = tmp_path / 'openface'
  fakes.write_csv(os.fspath(folder / '0002.csv'),
                    ['face', 'confidence', 'success', 'AU01_c'], [['0', '0.8', '1', '1']])
  assert pseudo.attach(source.records, pseudo.read_pseudo_labels(os.fspath(folder))) == 1
  assert source.records[2].pseudo == {1: 1}


def test_pseudo_rows_match_by_path_not_only_file_name(tmp_path):
  """SynthAU's wild splits reuse file names (train/00001.jpg, test/00001.jpg): a
  prediction CSV with full paths labels only the image it names, and a bare file name
  that would label both is an error, not a guess."""
  records = lambda: [rec.Record(key=s, source=f'images/{s}/00001.jpg', image_path='')
                     for s in ('train', 'test')]
  full = fakes.write_csv(os.fspath(tmp_path / 'full.csv'), ['file', 'success', 'AU01_c'],
                         [['/data/wild/images/train/00001.jpg', '1', '1']])
  train, test = records()
  assert pseudo.attach([train, test], pseudo.read_pseudo_labels(full)) == 1
  assert train.pseudo == {1: 1} and test.pseudo == {}
  bare = fakes.write_csv(os.fspath(tmp_path / 'bare.csv'), ['file', 'AU01_c'],
                         [['00001.jpg', '1']])
  with pytest.raises(DataError, match=r"'00001.jpg' matches 2 images"):
    pseudo.attach(records(), pseudo.read_pseudo_labels(bare))


def test_pseudo_errors(tmp_path):
  bad = fakes.write_csv(os.fspath(tmp_path / 'p.csv'), ['image', 'AU01_c'], [['a', '3']])
  with pytest.raises(DataError, match=r'p\.csv, row 2: column AU01_c holds .3.'):
    pseudo.read_pseudo_labels(bad)
  no_name = fakes.write_csv(os.fspath(tmp_path / 'q.csv'), ['AU01_c'], [['1']])
  with pytest.raises(DataError, match='no image column'):
    pseudo.read_pseudo_labels(no_name)


# Plans.

def test_plan_folds_and_errors(tmp_path):
  path = fakes.write_manifest(tmp_path, n=6, subjects=('a', 'b', 'c', 'd'))
  source = read('manifest', [path])
  plan = plan_lib.make_plan(source, aus=[1, 4])
  assert sorted(plan.splits) == ['fold0', 'fold1', 'fold2'] and plan.au_ids == [1, 4]
  subjects = [{r.subject for r in records} for records in plan.splits.values()]
  assert all(not (a & b) for i, a in enumerate(subjects) for b in subjects[i + 1:])
  assert sum(len(r) for r in plan.splits.values()) == 6
  with pytest.raises(DataError, match='cannot make 5 subject-independent folds'):
    plan_lib.make_plan(source, num_folds=5)
  with pytest.raises(DataError, match='--aus asks for AU6'):
    plan_lib.make_plan(source, aus=[1, 6])
  for record in source.records:
    record.subject = ''
  with pytest.raises(DataError, match='need a subject'):
    plan_lib.make_plan(source)


def test_plan_of_pseudo_labels_only(tmp_path):
  path = fakes.write_csv(
      os.fspath(tmp_path / 'm.csv'), ['image', 'split', 'pseudo_AU12', 'pseudo_AU2'],
      [['a.png', 'train', '1', '0'], ['b.png', 'train', '', '1']])
  source = read('manifest', [path])
  assert source.au_ids == [] and source.records[1].pseudo == {2: 1}
  plan = plan_lib.make_plan(source)
  assert plan.au_ids == [2, 12] and list(plan.splits) == ['train']
