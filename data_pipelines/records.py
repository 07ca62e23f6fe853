"""The common record every reader yields, and the small parsers the readers share."""

import dataclasses
import math
import os
import re

import cv2
from etils import epath
import numpy as np

from au_jax import paths
from au_jax.errors import DataError
from data_pipelines.errors import SkipRecord

LANDMARK_COUNTS = (68, 66, 49)
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


@dataclasses.dataclass
class Record:
  """One face image (a file or one video frame) with what is known about it.

  `labels` and `pseudo` map AU ids to 0/1; an AU that is absent (or None) is unknown.
  `landmarks` are (N, 2) original image pixels with N in LANDMARK_COUNTS, or None when
  they must come from face detection. `aligned` marks images that are already aligned
  (ADLD list files): their landmarks are aligned coordinates and they skip alignment.
  """
  key: str
  source: str
  image_path: str
  subject: str = ''
  landmarks: np.ndarray | None = None
  labels: dict = dataclasses.field(default_factory=dict)
  pseudo: dict = dataclasses.field(default_factory=dict)
  split: str | None = None
  domain: str = ''
  frame: int | None = None
  aligned: bool = False


def where(path, row=None):
  """'file' or 'file, row N' for error messages."""
  return f'{path}, row {row}' if row is not None else str(path)


def parse_binary(text, path, row, column, missing=('',)):
  """Parses an AU occurrence cell: 0 or 1 (also '0.0'/'1.0'); `missing` values -> None."""
  text = str(text).strip()
  if text in missing:
    return None
  try:
    value = float(text)
  except ValueError:
    value = math.nan
  if value == 0 or value == 1:
    return int(value)
  raise DataError(f'{where(path, row)}: column {column} holds {text!r}; '
                  f'expected 0, 1 or empty')


def parse_landmarks(values, path, row):
  """Parses 2N numbers (x1 y1 x2 y2 ...) into an (N, 2) array, N in LANDMARK_COUNTS.

  Non-numbers are an error; the string 'nan' is kept (the record is skipped later).
  """
  try:
    numbers = np.array([float(v) for v in values], dtype=np.float64)
  except ValueError:
    bad = next(v for v in values if not _is_float(v))
    raise DataError(f'{where(path, row)}: landmark value {bad!r} is not a number') from None
  if numbers.size % 2 or numbers.size // 2 not in LANDMARK_COUNTS:
    raise DataError(f'{where(path, row)}: found {numbers.size} landmark values; expected '
                    f'2 x 68, 66 or 49 (x1 y1 x2 y2 ...)')
  return numbers.reshape(-1, 2)


def _is_float(text):
  try:
    float(text)
    return True
  except ValueError:
    return False


def au_column_id(name, prefix='AU'):
  """AU id of a column named like 'AU1', 'AU01', 'AU 1' (with `prefix`), else None."""
  match = re.fullmatch(rf'{prefix}\s*0*(\d+)', name.strip(), flags=re.IGNORECASE)
  return int(match.group(1)) if match else None


def last_int(name):
  """The last group of digits in a file name stem, e.g. 'l0012_lm' -> 12, else None."""
  groups = re.findall(r'\d+', os.path.splitext(os.path.basename(name))[0])
  return int(groups[-1]) if groups else None


def index_frames(folder):
  """Maps frame numbers to image files of a folder, whatever their zero padding."""
  frames = {}
  if os.path.isdir(folder):
    for name in os.listdir(folder):
      if name.lower().endswith(IMAGE_SUFFIXES):
        number = last_int(name)
        if number is not None:
          frames[number] = os.path.join(folder, name)
  return frames


def resolve(path, base):
  """`path` if absolute or a URL (gs://...), else relative to `base` (a folder or URL)."""
  if os.path.isabs(path) or paths.is_url(path):
    return path
  if paths.is_url(base):
    return paths.join(base, path)
  return os.path.normpath(os.path.join(base, path))


class ImageLoader:
  """Loads record images as RGB uint8; video frames come from one open capture.

  Videos are read forward (seeking is unreliable for many codecs), so records of a
  video should arrive in frame order; going back reopens the video.
  """

  def __init__(self):
    self._video_path = None
    self._capture = None
    self._next_frame = 0

  def load(self, record):
    if record.frame is None:
      return load_image_file(record.image_path)
    return self._load_frame(record.image_path, record.frame)

  def _load_frame(self, path, frame):
    if path != self._video_path or frame < self._next_frame:
      self.close()
      if not os.path.isfile(path):
        raise SkipRecord('missing image', path)
      self._capture = cv2.VideoCapture(path)
      self._video_path, self._next_frame = path, 0
      if not self._capture.isOpened():
        self.close()
        raise SkipRecord('unreadable image', path)
    while self._next_frame < frame:
      if not self._capture.grab():
        raise SkipRecord('unreadable image', f'{path} has no frame {frame}')
      self._next_frame += 1
    ok, image = self._capture.read()
    if not ok or image is None:
      self.close()
      raise SkipRecord('unreadable image', f'{path} has no frame {frame}')
    self._next_frame += 1
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

  def close(self):
    if self._capture is not None:
      self._capture.release()
    self._capture, self._video_path, self._next_frame = None, None, 0


_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
            4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def load_image_file(path, reduce=1):
  """Reads an image file as RGB uint8, or raises SkipRecord (missing / unreadable).

  reduce: 2, 4 or 8 decode at 1/reduce of the size (a JPEG's DCT scaling, several
  times faster than the full decode); pixel i then covers the full image's pixels
  reduce * i .. reduce * i + reduce - 1.
  """
  # A URL (gs://..., Beam workers reading a bucket) is read through etils.epath.
  file = epath.Path(path) if paths.is_url(path) else None
  if not (file.is_file() if file else os.path.isfile(path)):
    raise SkipRecord('missing image', path)
  try:
    data = (np.frombuffer(file.read_bytes(), np.uint8) if file
            else np.fromfile(path, dtype=np.uint8))
  except OSError as e:
    raise SkipRecord('unreadable image', f'{path} ({e})') from None
  image = cv2.imdecode(data, _REDUCED[reduce]) if data.size else None
  if image is None:
    raise SkipRecord('unreadable image', path)
  return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
