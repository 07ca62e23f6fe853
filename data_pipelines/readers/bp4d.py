"""BP4D-Spontaneous in its distributed layout (`--input BP4D_ROOT`).

  AUCoding/AU_OCC/<S>_<T>.csv   AU occurrence per frame: header `<frame col>,1,2,4,...`
                                (or AU1,...); cells 0/1, 9 = unknown. Also accepted
                                directly under AU_OCC/ or AUCoding/.
  Sequences/<S>/<T>/<frame>.jpg 2D frames, any zero padding (also 2D+3D/ or <S>/<T>
                                directly under the root).
  Landmarks, one of:
    Landmarks/<S>_<T>.csv       header frame,x1,y1,...,xN,yN (N = 68, 66 or 49);
    2DFeatures/<S>_<T>.mat      MATLAB struct array with a `pred` field (49x2 or 68x2 per
                                frame) and optionally `frame`; without `frame` the i-th
                                element belongs to the i-th image of the sequence;
    or none, with `prepare --detect-landmarks`.
S is the subject (F001), T the task (T1..T8). Frames without landmarks are skipped and
counted. Subject folds follow JAA-Net/ADLD (FOLDS below).
"""

import csv
import glob
import os

import numpy as np

from data_pipelines import records as rec
from au_jax.errors import DataError
from data_pipelines.readers import Source

# JAA-Net's subject-independent parts; fold k tests on FOLDS[k], trains on the others.
FOLDS = [
    ['F001', 'M007', 'F018', 'F008', 'F002', 'M004', 'F010', 'F009', 'M012', 'M001',
     'F016', 'M014', 'F023', 'M008'],
    ['M011', 'F003', 'M010', 'M002', 'F005', 'F022', 'M018', 'M017', 'F013', 'M016',
     'F020', 'F011', 'M013', 'M005'],
    ['F007', 'F015', 'F006', 'F019', 'M006', 'M009', 'F012', 'M003', 'F004', 'F021',
     'F017', 'M015', 'F014'],
]
DEFAULT_AUS = [1, 2, 4, 6, 12, 17]


def _first_dir(root, names):
  for name in names:
    if os.path.isdir(os.path.join(root, name)):
      return os.path.join(root, name)
  return None


def read_occurrence(path):
  """{frame: {au: 0/1}} of one AU_OCC CSV (9 = unknown is left out) and its AU ids."""
  with open(path, newline='', encoding='utf-8-sig') as f:
    rows = [row for row in csv.reader(f) if any(c.strip() for c in row)]
  if len(rows) < 2:
    raise DataError(f'{path}: expected a header `frame,1,2,4,...` and one row per frame')
  au_ids = []
  for name in rows[0][1:]:
    name = name.strip()
    au = int(name) if name.isdigit() else rec.au_column_id(name)
    if au is None:
      raise DataError(f'{path}: header cell {name!r} is not an AU number (1, 2, ... or AU1)')
    au_ids.append(au)
  frames = {}
  for row_number, row in enumerate(rows[1:], start=2):
    try:
      frame = int(float(row[0]))
    except ValueError:
      raise DataError(f'{rec.where(path, row_number)}: frame {row[0]!r} is not a '
                      f'number') from None
    labels = {}
    for au, cell in zip(au_ids, row[1:]):
      value = rec.parse_binary(cell, path, row_number, f'AU{au}', missing=('9', ''))
      if value is not None:
        labels[au] = value
    frames[frame] = labels
  return frames, au_ids


def _landmarks_csv(path):
  with open(path, newline='', encoding='utf-8-sig') as f:
    rows = [row for row in csv.reader(f) if any(c.strip() for c in row)]
  out = {}
  for row_number, row in enumerate(rows[1:], start=2):
    out[int(float(row[0]))] = rec.parse_landmarks(row[1:], path, row_number)
  return out


def _landmarks_mat(path, image_frames):
  """Reads a 2DFeatures .mat: a struct array with `pred` (and maybe `frame`)."""
  from scipy import io as sio  # pylint: disable=g-import-not-at-top
  try:
    data = sio.loadmat(path, squeeze_me=True, struct_as_record=False)
  except Exception as e:  # scipy raises several types for a bad file.
    raise DataError(f'{path}: cannot read the MATLAB file ({e})') from None
  structs = [v for k, v in data.items() if not k.startswith('__')]
  structs = [np.atleast_1d(v) for v in structs if isinstance(v, np.ndarray)
             and v.dtype == object and v.size and hasattr(np.atleast_1d(v)[0], 'pred')]
  if not structs:
    raise DataError(f'{path}: expected a struct array with a `pred` field (49x2 or '
                    f'68x2 landmarks per frame)')
  out = {}
  for i, item in enumerate(structs[0]):
    frame = int(item.frame) if hasattr(item, 'frame') else (
        image_frames[i] if i < len(image_frames) else None)
    pred = np.asarray(item.pred, dtype=np.float64)
    if frame is not None and pred.ndim == 2 and pred.shape[1] == 2 and (
        pred.shape[0] in rec.LANDMARK_COUNTS):
      out[frame] = pred
  return out


def read(inputs, options):
  if len(inputs) != 1:
    raise DataError('--format bp4d takes one --input folder (the BP4D root)')
  root = inputs[0]
  occ_dir = _first_dir(root, ['AUCoding/AU_OCC', 'AU_OCC', 'AUCoding'])
  if occ_dir is None:
    raise DataError(f'{root}: no AUCoding/AU_OCC folder of <subject>_<task>.csv files')
  occ_files = sorted(glob.glob(os.path.join(occ_dir, '*_*.csv')))
  if not occ_files:
    raise DataError(f'{occ_dir}: no <subject>_<task>.csv AU occurrence files')
  image_dir = _first_dir(root, ['Sequences', '2D+3D', 'Sequences(2D+3D)']) or root
  records, all_aus = [], set()
  for occ in occ_files:
    name = os.path.splitext(os.path.basename(occ))[0]
    subject, task = name.split('_', 1)
    frames, au_ids = read_occurrence(occ)
    all_aus.update(au_ids)
    images = rec.index_frames(os.path.join(image_dir, subject, task))
    if not images:
      raise DataError(f'{os.path.join(image_dir, subject, task)}: no frame images for {occ}')
    landmarks = {}
    lm_csv = os.path.join(root, 'Landmarks', name + '.csv')
    lm_mat = os.path.join(root, '2DFeatures', name + '.mat')
    if os.path.isfile(lm_csv):
      landmarks = _landmarks_csv(lm_csv)
    elif os.path.isfile(lm_mat):
      landmarks = _landmarks_mat(lm_mat, sorted(images))
    elif options.need_landmarks:
      raise DataError(f'{root}: no landmarks for {name}: expected Landmarks/{name}.csv or '
                      f'2DFeatures/{name}.mat, or use --detect-landmarks')
    for position, frame in enumerate(sorted(frames)):
      if position % options.frame_step:
        continue
      path = images.get(frame, os.path.join(image_dir, subject, task, f'{frame}.jpg'))
      records.append(rec.Record(
          key=f'{name}/{frame:06d}', source=os.path.relpath(path, root),
          image_path=path, subject=subject, landmarks=landmarks.get(frame),
          labels=frames[frame], domain='lab'))
  return Source(records=records, au_ids=sorted(all_aus), fold_lists=FOLDS)
