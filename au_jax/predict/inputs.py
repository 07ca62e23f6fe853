"""The inputs of `au-jax predict`: which files to read, and their images and frames.

Folders are walked in sorted order, so that the CSV's rows come in the same order on
every machine; a file that OpenCV cannot read raises `Unreadable`, which the run reports
and skips, while a path that does not exist is the user's typo (`InputError`), raised
before anything is loaded.
"""

import os

import cv2
import numpy as np

from au_jax import errors
from au_jax import faces as faces_lib

IMAGE_EXTENSIONS = frozenset((
    '.jpg', '.jpeg', '.jpe', '.png', '.bmp', '.tif', '.tiff', '.webp', '.pgm', '.ppm',
    '.pbm', '.pnm', '.jp2', '.sr', '.ras'))
VIDEO_EXTENSIONS = frozenset((
    '.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv', '.flv',
    '.3gp', '.mts', '.ts', '.ogv'))


class Unreadable(Exception):
  """An input file that is neither a readable image nor a readable video."""


def collect_inputs(inputs):
  """[(path, kind)] with kind 'image', 'video' or 'unknown' (named explicitly, odd
  extension); folders are walked in sorted order. InputError for missing paths."""
  found = []
  for item in inputs:
    if os.path.isdir(item):
      for folder, dirs, files in os.walk(item):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        for name in sorted(files):
          kind = _kind(name)
          if kind != 'unknown' and not name.startswith('.'):
            found.append((os.path.join(folder, name), kind))
    elif os.path.isfile(item):
      found.append((item, _kind(item)))
    else:
      raise errors.InputError(f'{item} does not exist')
  if not found:
    raise errors.InputError(f'no image or video found in {" ".join(inputs)}')
  return found


def _kind(name):
  ext = os.path.splitext(name)[1].lower()
  return 'image' if ext in IMAGE_EXTENSIONS else 'video' if ext in VIDEO_EXTENSIONS \
      else 'unknown'


# Formats that may carry alpha or 16 bits: decoded unchanged, then made RGB by as_rgb.
# Others (JPEG above all) go through IMREAD_COLOR, which also applies EXIF orientation.
_KEEP_CHANNELS = (b'\x89PNG', b'RIFF', b'II*\x00', b'MM\x00*')


def read_image(path):
  """RGB uint8 image of a file; greyscale, RGBA and 16-bit images are converted."""
  try:
    data = np.fromfile(path, dtype=np.uint8)
  except OSError as e:
    raise Unreadable(str(e)) from None
  if not data.size:
    raise Unreadable('empty file')
  keep = bytes(data[:4]) in _KEEP_CHANNELS
  image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED if keep else cv2.IMREAD_COLOR)
  if image is None:
    raise Unreadable('not an image OpenCV can decode')
  if image.ndim == 3 and image.shape[2] == 3:
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
  elif image.ndim == 3 and image.shape[2] == 4:
    image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
  return faces_lib.as_rgb(image)


def open_video(path):
  """(capture, fps, frame count or 0); Unreadable if OpenCV cannot read a frame."""
  capture = cv2.VideoCapture(path)
  if not capture.isOpened():
    capture.release()
    raise Unreadable('not a video OpenCV can open')
  fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
  count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
  return capture, fps, max(count, 0)


def video_frames(capture, frame_step=1):
  """(index, RGB frame) of every `frame_step`-th frame until the video ends."""
  index = 0
  while True:
    if index % frame_step:
      if not capture.grab():
        return
    else:
      ok, frame = capture.read()
      if not ok or frame is None:
        return
      yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    index += 1
