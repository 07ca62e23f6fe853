"""Faces in the wild: photos, folders and videos → faces → batches → CSV rows and overlays.

Each image or video frame: the detector finds the faces and their 68 landmarks
(`au_jax.geometry.faces`), each face is aligned exactly as training data were
(docs/method.md §5), the faces of many frames go through the network in fixed-size jitted
batches (`au_jax.inference.Predictor`), and one CSV row per face is written
(docs/method.md §8), with `success=0` rows for frames without a face. `au-jax predict`
is a thin command over `predict_files`.
"""

import collections
import dataclasses
import os
import sys
import time

import cv2
import numpy as np

from au_jax.geometry import faces as faces_lib
from au_jax.inference import InputError

IMAGE_EXTENSIONS = frozenset((
    '.jpg', '.jpeg', '.jpe', '.png', '.bmp', '.tif', '.tiff', '.webp', '.pgm', '.ppm',
    '.pbm', '.pnm', '.jp2', '.sr', '.ras'))
VIDEO_EXTENSIONS = frozenset((
    '.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv', '.flv',
    '.3gp', '.mts', '.ts', '.ogv'))


class Unreadable(Exception):
  """An input file that is neither a readable image nor a readable video."""


# -- inputs --------------------------------------------------------------------------------

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
      raise InputError(f'{item} does not exist')
  if not found:
    raise InputError(f'no image or video found in {" ".join(inputs)}')
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


# -- rows ----------------------------------------------------------------------------------

def header(au_ids):
  names = ['file', 'frame', 'timestamp', 'face', 'success', 'confidence',
           'face_x', 'face_y', 'face_w', 'face_h']
  names += [f'x_{i}' for i in range(68)] + [f'y_{i}' for i in range(68)]
  names += [f'model_x_{i}' for i in range(49)] + [f'model_y_{i}' for i in range(49)]
  names += [f'AU{a:02d}_prob' for a in au_ids] + [f'AU{a:02d}_c' for a in au_ids]
  return names


def _coords(values):
  return [f'{v:.2f}' for v in values]


def face_row(file, frame, timestamp, index, face, threshold):
  """One face's CSV row; the model landmark columns stay empty without model landmarks."""
  probs = np.asarray(face.au_probs, np.float64)
  model = (['', ''] * 49 if face.landmarks is None else
           _coords(face.landmarks[:, 0]) + _coords(face.landmarks[:, 1]))
  return ([file, frame, timestamp, index, 1, f'{face.score:.3f}'] + _coords(face.box)
          + _coords(face.landmarks68[:, 0]) + _coords(face.landmarks68[:, 1]) + model
          + [f'{p:.4f}' for p in probs] + [int(p >= threshold) for p in probs])


def empty_row(file, frame, timestamp, width):
  return [file, frame, timestamp, 0, 0] + [''] * (width - 5)


# -- the run -------------------------------------------------------------------------------

@dataclasses.dataclass
class Frame:
  """One image or video frame waiting for the network."""
  file: str
  index: int
  timestamp: str
  faces: list
  shown: np.ndarray = None      # display-size copy for the overlay
  original_size: tuple = None
  overlay: object = None        # a PNG path (str) or an overlays.VideoOverlay


@dataclasses.dataclass
class Summary:
  images: int = 0
  frames: int = 0               # video frames processed
  faces: int = 0
  without_face: int = 0
  unreadable: list = dataclasses.field(default_factory=list)  # (path, reason)
  seconds: float = 0.0
  timer: dict = dataclasses.field(default_factory=lambda: collections.defaultdict(float))
  detector_note: str = ''       # e.g. how often auto's CNN stage ran

  def report(self):
    n, t = self.images + self.frames, self.seconds
    share = {k: 100 * self.timer[k] / t if t > 0 else 0.0 for k in ('detection', 'network')}
    rest = max(0.0, 100 - share['detection'] - share['network'])
    rate = n / t if t > 0 else float('nan')
    lines = [f'{self.images} images and {self.frames} video frames, {self.faces} faces '
             f'({self.without_face} without a face) in {t:.1f}s: {rate:.1f} frames/s; '
             f'face detection {share["detection"]:.0f}%, network {share["network"]:.0f}%, '
             f'reading/alignment/writing {rest:.0f}% (compilation '
             f'{self.timer["compile"]:.1f}s before, not counted)']
    if self.detector_note:
      lines.append(self.detector_note)
    if self.unreadable:
      lines.append(f'could not read {len(self.unreadable)} file(s): ' + '; '.join(
          f'{p} ({why})' for p, why in self.unreadable))
    return '\n'.join(lines)


class Run:
  """Feeds frames to the network in batches and writes rows (and overlays) in order."""

  def __init__(self, predictor, detector, writer, *, path=None, batch_size=32,
               max_size=1600, threshold=0.5, overlay_dir=None, landmarks=True):
    self.predictor, self.detector, self.writer = predictor, detector, writer
    self.landmarks = landmarks
    self.path, self.batch_size, self.max_size = path, batch_size, max_size
    self.threshold, self.overlay_dir = threshold, overlay_dir
    self.width = len(header(predictor.au_ids))
    self.pending, self.pending_faces = [], 0
    self.summary = Summary()
    self._names = set()

  def overlay_stem(self, file):
    stem = os.path.splitext(os.path.basename(file))[0]
    name, k = stem, 1
    while name in self._names:
      name, k = f'{stem}_{k}', k + 1
    self._names.add(name)
    return os.path.join(self.overlay_dir, name)

  def add(self, file, index, timestamp, image, overlay=None):
    from au_jax import overlays  # pylint: disable=g-import-not-at-top
    faces = faces_lib.find_faces(image, self.detector, self.predictor.crop_size,
                                 self.predictor.aligned_size, self.max_size,
                                 timer=self.summary.timer)
    frame = Frame(file, index, timestamp, faces, overlay=overlay)
    if overlay is not None:
      height, width = image.shape[:2]
      s = overlays.display_scale(height, width)
      frame.shown = cv2.resize(image, (max(1, round(width * s)), max(1, round(height * s))),
                               interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
      frame.original_size = (height, width)
    self.pending.append(frame)
    self.pending_faces += len(faces)
    if self.pending_faces >= self.batch_size:
      self.flush()

  def flush(self):
    from au_jax import overlays  # pylint: disable=g-import-not-at-top
    faces = [f for frame in self.pending for f in frame.faces]
    if faces:
      start = time.perf_counter()
      out = self.predictor.predict_batches(np.stack([f.crop for f in faces]),
                                           self.batch_size, self.path, self.landmarks)
      self.summary.timer['network'] += time.perf_counter() - start
      points = out.landmarks if self.landmarks else [None] * len(faces)
      for face, probs, p in zip(faces, out.au_probs, points):
        face.set_prediction(probs, p)
    for frame in self.pending:
      if frame.faces:
        for i, face in enumerate(frame.faces):
          self.writer.writerow(face_row(frame.file, frame.index, frame.timestamp, i, face,
                                        self.threshold))
      else:
        self.writer.writerow(empty_row(frame.file, frame.index, frame.timestamp,
                                       self.width))
      self.summary.faces += len(frame.faces)
      self.summary.without_face += not frame.faces
      if frame.overlay is not None:
        picture = overlays.draw(frame.shown, frame.faces, self.predictor.au_ids,
                                self.threshold, original_size=frame.original_size)
        if isinstance(frame.overlay, str):
          overlays.save_png(frame.overlay, picture)
        else:
          frame.overlay.write(picture)
    self.pending, self.pending_faces = [], 0

  def image(self, file):
    image = read_image(file)
    overlay = self.overlay_stem(file) + '.png' if self.overlay_dir else None
    self.add(file, 0, '', image, overlay)
    self.summary.images += 1

  def video(self, file, frame_step=1, progress=True):
    from au_jax import overlays  # pylint: disable=g-import-not-at-top
    capture, fps, count = open_video(file)
    writer = overlays.VideoOverlay(self.overlay_stem(file), fps / frame_step) \
        if self.overlay_dir else None
    bar = _bar(progress, -(-count // frame_step) if count else None, file, 'frame')
    frames = 0
    try:
      for index, frame in video_frames(capture, frame_step):
        stamp = f'{index / fps:.3f}' if fps > 0 else ''
        self.add(file, index, stamp, frame, writer)
        frames += 1
        bar.update(1)
      self.flush()
    finally:
      bar.close()
      capture.release()
      if writer is not None:
        writer.close()
    if not frames:
      raise Unreadable('no frame could be read')
    self.summary.frames += frames


def _bar(progress, total, description, unit):
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  return tqdm(total=total, desc=os.path.basename(description), unit=unit,
              disable=not progress, dynamic_ncols=True, leave=False, file=sys.stderr)


def predict_files(predictor, inputs, writer, *, detector, path=None, batch_size=32,
                  max_size=1600, frame_step=1, threshold=0.5, overlay_dir=None,
                  progress=True, landmarks=True):
  """Runs every input through detection, alignment and the network; writes the CSV
  header and rows with `writer` (a csv.writer); returns a Summary."""
  if overlay_dir:
    os.makedirs(overlay_dir, exist_ok=True)
  run_ = Run(predictor, detector, writer, path=path, batch_size=batch_size,
             max_size=max_size, threshold=threshold, overlay_dir=overlay_dir,
             landmarks=landmarks)
  writer.writerow(header(predictor.au_ids))
  files = collect_inputs(inputs)
  calls, fallbacks = (getattr(detector, 'calls', 0), getattr(detector, 'fallbacks', None))
  images = sum(kind != 'video' for _, kind in files)
  bar = _bar(progress and images > 1, images, 'images', 'image')
  start = time.perf_counter()
  for file, kind in files:
    try:
      if kind == 'video':
        run_.video(file, frame_step, progress)
      elif kind == 'image':
        run_.image(file)
      else:
        _image_or_video(run_, file, frame_step, progress)
    except Unreadable as e:
      run_.summary.unreadable.append((file, str(e)))
      bar.write(f'au-jax predict: warning: cannot read {file}: {e}', file=sys.stderr)
    if kind != 'video':
      bar.update(1)
  run_.flush()
  bar.close()
  run_.summary.seconds = time.perf_counter() - start
  if fallbacks is not None:  # AutoDetector
    run_.summary.detector_note = (
        f'auto detector: the CNN ran on {detector.fallbacks - fallbacks} of '
        f'{detector.calls - calls} images/frames')
  return run_.summary


def _image_or_video(run_, file, frame_step, progress):
  """A file named explicitly with an unknown extension: an image, else a video."""
  try:
    run_.image(file)
  except Unreadable:
    try:
      run_.video(file, frame_step, progress)
    except Unreadable:
      raise Unreadable('neither an image nor a video OpenCV can read') from None


def warm_up(predictor, batch_size, path, landmarks=True):
  """Compiles the network for the batch size now, so the rates exclude compilation."""
  start = time.perf_counter()
  size = predictor.crop_size
  predictor.predict_batches(np.zeros((1, size, size, 3), np.uint8), batch_size, path,
                            landmarks)
  return time.perf_counter() - start
