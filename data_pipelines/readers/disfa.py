"""DISFA in its distributed layout (`--input DISFA_ROOT`); left camera only.

  ActionUnit_Labels/<SN>/<SN>_au<k>.txt  one `frame,intensity` line per frame, frames
                                         1-based; intensity 0-5, >= 2 is an occurrence.
  Videos_LeftCamera/LeftVideo<SN>*.avi   the left-camera video (any file of that folder
                                         whose name holds <SN>), read with OpenCV.
  Landmark_Points/<SN>/**/<...><n>.mat   one file per frame (any depth); n, the last
     (or .txt / .csv)                    number of the name, is the frame (1-based, or
                                         0-based when a file numbered 0 exists). .mat
                                         holds `pts` (66x2 or 68x2); text holds 2N numbers.
  Or no landmark files, with `prepare --detect-landmarks`.
<SN> is the subject (SN001). Subject folds follow JAA-Net/ADLD (FOLDS below).
"""

import glob
import os
import re

import numpy as np

from data_pipelines import records as rec
from au_jax.errors import DataError
from data_pipelines.readers import Source

FOLDS = [
    ['SN002', 'SN010', 'SN001', 'SN026', 'SN027', 'SN032', 'SN030', 'SN009', 'SN016'],
    ['SN013', 'SN018', 'SN011', 'SN028', 'SN012', 'SN006', 'SN031', 'SN021', 'SN024'],
    ['SN003', 'SN029', 'SN023', 'SN025', 'SN008', 'SN005', 'SN007', 'SN017', 'SN004'],
]
DEFAULT_AUS = [4, 6, 12, 25, 26]
POSITIVE_INTENSITY = 2
_VIDEO_SUFFIXES = ('.avi', '.mp4', '.mov', '.mkv', '.wmv')


def read_intensity(path):
  """{frame (1-based): 0/1} of one `<SN>_au<k>.txt` file (intensity >= 2 -> 1)."""
  out = {}
  with open(path, encoding='utf-8') as f:
    for line_number, line in enumerate(f, start=1):
      if not line.strip():
        continue
      parts = re.split(r'[,\s]+', line.strip())
      try:
        frame, value = int(parts[0]), int(float(parts[1]))
      except (ValueError, IndexError):
        raise DataError(f'{rec.where(path, line_number)}: expected `frame,intensity`, '
                        f'got {line.strip()!r}') from None
      if not 0 <= value <= 5:
        raise DataError(f'{rec.where(path, line_number)}: intensity {value} is not in 0..5')
      out[frame] = int(value >= POSITIVE_INTENSITY)
  return out


def _read_landmark_file(path):
  if path.lower().endswith('.mat'):
    from scipy import io as sio  # pylint: disable=g-import-not-at-top
    try:
      data = sio.loadmat(path)
    except Exception as e:  # scipy raises several types for a bad file.
      raise DataError(f'{path}: cannot read the MATLAB file ({e})') from None
    arrays = [v for k, v in data.items() if not k.startswith('__')]
    points = data.get('pts', arrays[0] if len(arrays) == 1 else None)
    if points is None:
      raise DataError(f'{path}: expected a variable `pts` with 66x2 or 68x2 landmarks')
    values = np.asarray(points, dtype=np.float64).reshape(-1)
  else:
    with open(path, encoding='utf-8') as f:
      values = re.split(r'[,\s]+', f.read().strip())
  return rec.parse_landmarks(values, path, None)


def _landmark_files(folder):
  """{frame (1-based): path} of the per-frame landmark files under `folder`."""
  files = {}
  for path in glob.glob(os.path.join(folder, '**', '*'), recursive=True):
    if path.lower().endswith(('.mat', '.txt', '.csv')):
      number = rec.last_int(path)
      if number is not None:
        files[number] = path
  if files and min(files) == 0:
    files = {n + 1: p for n, p in files.items()}
  return files


def _find_video(folder, subject):
  if not os.path.isdir(folder):
    return None
  for name in sorted(os.listdir(folder)):
    if subject.lower() in name.lower() and name.lower().endswith(_VIDEO_SUFFIXES):
      return os.path.join(folder, name)
  return None


def read(inputs, options):
  if len(inputs) != 1:
    raise DataError('--format disfa takes one --input folder (the DISFA root)')
  root = inputs[0]
  label_root = os.path.join(root, 'ActionUnit_Labels')
  if not os.path.isdir(label_root):
    raise DataError(f'{root}: no ActionUnit_Labels/<SN>/<SN>_au<k>.txt folder')
  video_root = os.path.join(root, 'Videos_LeftCamera')
  subjects = sorted(d for d in os.listdir(label_root)
                    if os.path.isdir(os.path.join(label_root, d)))
  if not subjects:
    raise DataError(f'{label_root}: no subject folders (SN001, ...)')
  records, all_aus = [], set()
  for subject in subjects:
    label_files = glob.glob(os.path.join(label_root, subject, f'{subject}_au*.txt'))
    labels = {}
    for path in label_files:
      match = re.search(r'_au(\d+)\.txt$', path, flags=re.IGNORECASE)
      if match:
        labels[int(match.group(1))] = read_intensity(path)
    if not labels:
      raise DataError(f'{os.path.join(label_root, subject)}: no {subject}_au<k>.txt files')
    all_aus.update(labels)
    video = _find_video(video_root, subject)
    if video is None:
      raise DataError(f'{video_root}: no left-camera video for {subject} '
                      f'(expected e.g. LeftVideo{subject}_comp.avi)')
    landmark_files = _landmark_files(os.path.join(root, 'Landmark_Points', subject))
    if not landmark_files and options.need_landmarks:
      raise DataError(f'{root}: no landmark files under Landmark_Points/{subject}/; '
                      f'or use --detect-landmarks')
    frames = sorted(set().union(*(set(v) for v in labels.values())))
    for position, frame in enumerate(frames):
      if position % options.frame_step:
        continue
      frame_labels = {au: v[frame] for au, v in labels.items() if frame in v}
      landmark_path = landmark_files.get(frame)
      records.append(rec.Record(
          key=f'{subject}/{frame:06d}', source=f'{os.path.relpath(video, root)}#{frame}',
          image_path=video, frame=frame - 1, subject=subject,
          landmarks=_LazyLandmarks(landmark_path) if landmark_path else None,
          labels=frame_labels, domain='lab'))
  return Source(records=records, au_ids=sorted(all_aus), fold_lists=FOLDS)


class _LazyLandmarks:
  """Reads a per-frame landmark file only when the frame is processed."""

  def __init__(self, path):
    self.path = path

  def load(self):
    return _read_landmark_file(self.path)
