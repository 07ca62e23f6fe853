"""`au-jax predict`: AUs and landmarks of the faces in photos, folders and videos.

Each image or video frame: dlib finds the faces and their 68 landmarks, each face is
aligned exactly as training data were (docs/method.md §5), the faces of many frames go through the
network in fixed-size jitted batches, and one CSV row per face is written (docs/method.md §8), with
`success=0` rows for frames without a face. The library side is
`au_jax.inference.find_faces` and `Predictor`; this module walks files, batches, writes.
"""

import argparse
import collections
import csv
import dataclasses
import os
import sys
import time

import numpy as np

HELP = """Predicts AU probabilities and landmarks for every face in photos, folders
(searched recursively for images and videos) and videos (read with OpenCV).

CHECKPOINT is a training workdir or one of its checkpoint folders (see
au_jax.inference.load). Faces are found with dlib's HOG detector and 68-point model
(pip install -e ".[faces]").

CSV columns: file, frame, timestamp (video seconds), face, success, confidence (the
detector's score), face_x, face_y, face_w, face_h, x_0..x_67 and y_0..y_67 (dlib's
landmarks, as OpenFace names them), model_x_0..model_x_48 and model_y_0..model_y_48
(the model's 49 landmarks), then AU01_prob... and AU01_c... (occurrence at --threshold).
Every coordinate is in the original image's pixels. A frame without a face gets one row
with success=0 and empty values.

Files that cannot be read are reported and skipped; the exit status is then 1.
"""

IMAGE_EXTENSIONS = frozenset((
    '.jpg', '.jpeg', '.jpe', '.png', '.bmp', '.tif', '.tiff', '.webp', '.pgm', '.ppm',
    '.pbm', '.pnm', '.jp2', '.sr', '.ras'))
VIDEO_EXTENSIONS = frozenset((
    '.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv', '.flv',
    '.3gp', '.mts', '.ts', '.ogv'))


def add_parser(subparsers):
  p = subparsers.add_parser('predict', help='AUs and landmarks of faces in photos/videos',
                            description=HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('checkpoint', metavar='CHECKPOINT',
                 help='a training workdir or checkpoint folder')
  p.add_argument('inputs', nargs='+', metavar='INPUT',
                 help='image files, video files or folders')
  p.add_argument('--output', '-o', default='predictions.csv',
                 help='the CSV to write, or - for standard output (default: %(default)s)')
  p.add_argument('--save-overlays', metavar='DIR',
                 help='write an overlay per image (PNG) and per video (MP4): landmarks '
                      'and an AU bar chart per face')
  p.add_argument('--path', choices=('source', 'target'),
                 help='the inference path (default: target, the reconstruction path for '
                      'faces in the wild; source for a source-only model)')
  p.add_argument('--step', type=int,
                 help='checkpoint step (default: the best by validation F1)')
  p.add_argument('--batch-size', type=int, default=32,
                 help='faces per network call (default: %(default)s)')
  p.add_argument('--upsample', type=int, default=0,
                 help='dlib upsampling: 0 finds faces of ~80 px and more, 1 of ~40 px '
                      '(4x slower) (default: %(default)s)')
  p.add_argument('--min-score', type=float, default=0.3,
                 help='dlib detector score threshold; lower finds harder faces and more '
                      "false ones (dlib's own is 0) (default: %(default)s)")
  p.add_argument('--max-size', type=int, default=1600,
                 help='larger images are shrunk to this side for detection and alignment '
                      '(default: %(default)s)')
  p.add_argument('--frame-step', type=int, default=1,
                 help='process every N-th video frame (default: %(default)s)')
  p.add_argument('--threshold', type=float, default=0.5,
                 help='probability at which AUxx_c is 1 (default: %(default)s)')
  p.add_argument('--quiet', '-q', action='store_true', help='no progress bars')
  p.set_defaults(func=run)


class Unreadable(Exception):
  """An input file that is neither a readable image nor a readable video."""


# -- inputs --------------------------------------------------------------------------------

def collect_inputs(inputs):
  """[(path, kind)] with kind 'image', 'video' or 'unknown' (named explicitly, odd
  extension); folders are walked in sorted order. InputError for missing paths."""
  from au_jax.inference import InputError  # pylint: disable=g-import-not-at-top
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
  import cv2  # pylint: disable=g-import-not-at-top
  from au_jax.inference import as_rgb  # pylint: disable=g-import-not-at-top
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
  return as_rgb(image)


def open_video(path):
  """(capture, fps, frame count or 0); Unreadable if OpenCV cannot read a frame."""
  import cv2  # pylint: disable=g-import-not-at-top
  capture = cv2.VideoCapture(path)
  if not capture.isOpened():
    capture.release()
    raise Unreadable('not a video OpenCV can open')
  fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
  count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
  return capture, fps, max(count, 0)


def video_frames(capture, frame_step=1):
  """(index, RGB frame) of every `frame_step`-th frame until the video ends."""
  import cv2  # pylint: disable=g-import-not-at-top
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
  probs = np.asarray(face.au_probs, np.float64)
  return ([file, frame, timestamp, index, 1, f'{face.score:.3f}'] + _coords(face.box)
          + _coords(face.landmarks68[:, 0]) + _coords(face.landmarks68[:, 1])
          + _coords(face.landmarks[:, 0]) + _coords(face.landmarks[:, 1])
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
    if self.unreadable:
      lines.append(f'could not read {len(self.unreadable)} file(s): ' + '; '.join(
          f'{p} ({why})' for p, why in self.unreadable))
    return '\n'.join(lines)


class Run:
  """Feeds frames to the network in batches and writes rows (and overlays) in order."""

  def __init__(self, predictor, detector, writer, *, path=None, batch_size=32,
               max_size=1600, threshold=0.5, overlay_dir=None):
    self.predictor, self.detector, self.writer = predictor, detector, writer
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
    from au_jax import inference, overlays  # pylint: disable=g-import-not-at-top
    faces = inference.find_faces(image, self.detector, self.predictor.crop_size,
                                 self.predictor.aligned_size, self.max_size,
                                 timer=self.summary.timer)
    frame = Frame(file, index, timestamp, faces, overlay=overlay)
    if overlay is not None:
      import cv2  # pylint: disable=g-import-not-at-top
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
                                           self.batch_size, self.path)
      self.summary.timer['network'] += time.perf_counter() - start
      for face, probs, points in zip(faces, out.au_probs, out.landmarks):
        face.set_prediction(probs, points)
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
                  progress=True):
  """Runs every input through detection, alignment and the network; writes the CSV
  header and rows with `writer` (a csv.writer); returns a Summary."""
  if overlay_dir:
    os.makedirs(overlay_dir, exist_ok=True)
  run_ = Run(predictor, detector, writer, path=path, batch_size=batch_size,
             max_size=max_size, threshold=threshold, overlay_dir=overlay_dir)
  writer.writerow(header(predictor.au_ids))
  files = collect_inputs(inputs)
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


def warm_up(predictor, batch_size, path):
  """Compiles the network for the batch size now, so the rates exclude compilation."""
  start = time.perf_counter()
  size = predictor.crop_size
  predictor.predict_batches(np.zeros((1, size, size, 3), np.uint8), batch_size, path)
  return time.perf_counter() - start


def run(args):
  from au_jax import inference  # pylint: disable=g-import-not-at-top
  for name in ('batch_size', 'frame_step', 'max_size'):
    if getattr(args, name) < 1:
      raise inference.InputError(f'--{name.replace("_", "-")} must be at least 1')
  if args.upsample < 0:
    raise inference.InputError('--upsample must be 0 or more')
  collect_inputs(args.inputs)  # fail on a typo before loading anything
  detector = inference.DlibDetector(args.upsample, args.min_score)
  predictor = inference.load(args.checkpoint, step=args.step, path=args.path)
  compile_seconds = warm_up(predictor, args.batch_size, args.path)
  to_stdout = args.output == '-'
  if not to_stdout and os.path.dirname(args.output):
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
  stream = sys.stdout if to_stdout else open(args.output, 'w', newline='',
                                             encoding='utf-8')
  try:
    summary = predict_files(
        predictor, args.inputs, csv.writer(stream), detector=detector, path=args.path,
        batch_size=args.batch_size, max_size=args.max_size, frame_step=args.frame_step,
        threshold=args.threshold, overlay_dir=args.save_overlays,
        progress=not args.quiet)
  finally:
    if not to_stdout:
      stream.close()
  summary.timer['compile'] = compile_seconds
  print(f'{predictor}\n{summary.report()}', file=sys.stderr)
  if not to_stdout:
    print(f'wrote {args.output}', file=sys.stderr)
  return 1 if summary.unreadable else 0
