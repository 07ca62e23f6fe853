"""Faces in the wild: photos, folders and videos → faces → batches → CSV rows and overlays.

Each image or video frame: the detector finds the faces and their 68 landmarks
(`au_jax.faces`), each face is aligned exactly as training data were
(docs/method.md §5), the faces of many frames go through the network in fixed-size jitted
batches (`au_jax.inference.Predictor`), and one CSV row per face is written
(docs/method.md §8), with `success=0` rows for frames without a face. `au-jax predict`
is a thin command over `predict_files`.

Videos: each face gets a track id (`au_jax.tracking`), the same person keeping the same
id across frames, and a head pose (`au_jax.geometry.pose`). A reader thread decodes
frames, finds, follows and aligns the faces while the network runs on earlier frames.
With `detect_every` K > 1 the detector runs on every K-th frame only; in between, each
face's landmarks are placed in a box seeded from its landmarks in the last frame, and
the face is kept if the detector confirms it in a small window around that box
(otherwise the frame gets a full detection). `plot_dir` writes a picture and a summary
per video (`au_jax.video_report`).
"""

import collections
import dataclasses
import os
import queue
import sys
import threading
import time

import cv2
import numpy as np

from au_jax import tracking
from au_jax import faces as faces_lib
from au_jax.geometry import pose as pose_lib
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
  names = ['file', 'frame', 'timestamp', 'face', 'track', 'success', 'confidence',
           'face_x', 'face_y', 'face_w', 'face_h', 'pose_yaw', 'pose_pitch', 'pose_roll']
  names += [f'x_{i}' for i in range(68)] + [f'y_{i}' for i in range(68)]
  names += [f'model_x_{i}' for i in range(49)] + [f'model_y_{i}' for i in range(49)]
  names += [f'AU{a:02d}_prob' for a in au_ids] + [f'AU{a:02d}_c' for a in au_ids]
  return names


def _coords(values):
  return [f'{v:.2f}' for v in values]


def face_row(file, frame, timestamp, index, face, threshold, track=0, pose=None):
  """One face's CSV row; the model landmark columns stay empty without model landmarks,
  the pose columns without a pose (or where its fit failed)."""
  probs = np.asarray(face.au_probs, np.float64)
  model = (['', ''] * 49 if face.landmarks is None else
           _coords(face.landmarks[:, 0]) + _coords(face.landmarks[:, 1]))
  angles = ['' if a is None or not np.isfinite(a) else f'{a:.1f}'
            for a in (pose if pose is not None else (None,) * 3)]
  return ([file, frame, timestamp, index, track, 1, f'{face.score:.3f}']
          + _coords(face.box) + angles
          + _coords(face.landmarks68[:, 0]) + _coords(face.landmarks68[:, 1]) + model
          + [f'{p:.4f}' for p in probs] + [int(p >= threshold) for p in probs])


def empty_row(file, frame, timestamp, width):
  return [file, frame, timestamp, 0, '', 0] + [''] * (width - 6)


# -- the run -------------------------------------------------------------------------------

@dataclasses.dataclass
class Frame:
  """One image or video frame waiting for the network."""
  file: str
  index: int
  timestamp: str
  faces: list
  tracks: list = None           # track id per face (the face index in photos)
  poses: list = None            # (yaw, pitch, roll) per face
  shown: np.ndarray = None      # display-size copy for the overlay
  original_size: tuple = None
  overlay: object = None        # a PNG path (str) or an overlays.VideoOverlay
  series: object = None         # its video's video_report.Series (--plot)


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
  detected: int = 0             # video frames the detector ran on
  followed: int = 0             # faces followed between detections (--detect-every)
  detect_every: int = 1
  plots: str = ''               # where --plot wrote

  def report(self):
    n, t = self.images + self.frames, self.seconds
    share = {k: 100 * self.timer[k] / t if t > 0 else 0.0 for k in ('detection', 'network')}
    rate = n / t if t > 0 else float('nan')
    lines = [f'{self.images} images and {self.frames} video frames, {self.faces} faces '
             f'({self.without_face} without a face) in {t:.1f}s: {rate:.1f} frames/s; '
             f'face detection and landmarks {share["detection"]:.0f}%, network '
             f'{share["network"]:.0f}% of the time (in videos the two overlap; '
             f'compilation {self.timer["compile"]:.1f}s before, not counted)']
    if self.detect_every > 1 and self.frames:
      lines.append(f'--detect-every {self.detect_every}: the detector ran on '
                   f'{self.detected} of {self.frames} video frames; {self.followed} faces '
                   'were followed from the frame before')
    if self.detector_note:
      lines.append(self.detector_note)
    if self.plots:
      lines.append(self.plots)
    if self.unreadable:
      lines.append(f'could not read {len(self.unreadable)} file(s): ' + '; '.join(
          f'{p} ({why})' for p, why in self.unreadable))
    return '\n'.join(lines)


# A followed face must stay within this many inter-ocular distances of where its track
# predicted it, at 0.8-1.25 times its size; else the frame gets a full detection.
FOLLOW_DISTANCE, FOLLOW_SCALE = 0.5, 1.25
# Followed landmarks farther than this from the prediction are placed a second time.
REFINE_DISTANCE = 0.1


def confirm(detector, image, box, side=160, margin=0.35):
  """Whether `detector` (with a .boxes method) finds a face overlapping `box` (x, y, w,
  h) in a window `margin` box sizes larger on each side, shrunk so that the box is at
  most `side` pixels wide: a check that costs a fraction of a full detection."""
  x, y, w, h = box
  height, width = image.shape[:2]
  x0, y0 = max(0, int(x - margin * w)), max(0, int(y - margin * h))
  x1 = min(width, int(np.ceil(x + (1 + margin) * w)))
  y1 = min(height, int(np.ceil(y + (1 + margin) * h)))
  if x1 - x0 < 8 or y1 - y0 < 8:
    return False
  window = image[y0:y1, x0:x1]
  s = min(1.0, side / max(w, 1.0))
  if s < 1.0:
    window = cv2.resize(window, (max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s))),
                        interpolation=cv2.INTER_AREA)
  for left, top, right, bottom, _ in detector.boxes(np.ascontiguousarray(window)):
    found = (x0 + left / s, y0 + top / s, (right - left) / s, (bottom - top) / s)
    if tracking.iou(found, box) >= 0.3:
      return True
  return False


class Run:
  """Feeds frames to the network in batches and writes rows (and overlays) in order."""

  def __init__(self, predictor, detector, writer, *, path=None, batch_size=32,
               max_size=1600, threshold=0.5, overlay_dir=None, landmarks=True,
               detect_every=1, track_patience=10, plot_dir=None, smooth=0.0,
               overlap=True):
    self.predictor, self.detector, self.writer = predictor, detector, writer
    self.landmarks = landmarks
    self.path, self.batch_size, self.max_size = path, batch_size, max_size
    self.threshold, self.overlay_dir = threshold, overlay_dir
    self.detect_every, self.track_patience = detect_every, track_patience
    self.plot_dir, self.smooth, self.overlap = plot_dir, smooth, overlap
    self.width = len(header(predictor.au_ids))
    self.pending, self.pending_faces = [], 0
    self.summary = Summary(detect_every=detect_every)
    self.summary_rows = []   # SUMMARY.csv rows (--plot)
    self._names = collections.defaultdict(set)

  def stem(self, file, folder):
    """folder/<file's name>, numbered when another input had the same name."""
    stem = os.path.splitext(os.path.basename(file))[0]
    name, k = stem, 1
    while name in self._names[folder]:
      name, k = f'{stem}_{k}', k + 1
    self._names[folder].add(name)
    return os.path.join(folder, name)

  def overlay_stem(self, file):
    return self.stem(file, self.overlay_dir)

  # -- finding faces (in videos, on the reader thread) ------------------------------------

  def _find(self, image, **kw):
    return faces_lib.find_faces(image, self.detector, self.predictor.crop_size,
                                self.predictor.aligned_size, self.max_size,
                                timer=self.summary.timer, **kw)

  def find(self, image, tracker=None, n=0):
    """(faces, track ids) of a photo (tracker None: ids are the face indices) or of the
    n-th processed frame of a video."""
    if tracker is None:
      faces = self._find(image)
      return faces, list(range(len(faces)))
    if self.detect_every > 1 and n % self.detect_every:
      seeds = tracker.seeds(n)
      if not seeds:  # nobody to follow: new faces wait for the next detection
        tracker.follow(n, [])
        return [], []
      pairs = self._follow(image, tracker, n, seeds)
      if pairs is not None:
        self.summary.followed += len(pairs)
        return [f for _, f in pairs], [t for t, _ in pairs]
    faces = self._find(image)
    self.summary.detected += 1
    return faces, tracker.update(n, faces)

  def _follow(self, image, tracker, n, seeds):
    """[(track id, face)] placed at the seeds, or None when one of them is lost (not
    where its track predicted it, or not confirmed by the detector)."""
    faces = self._find(image, boxes=[(*box, score) for _, box, score in seeds])
    predicted = {t.id: t.predicted(n)[1] for t in tracker.tracks}
    # Far from the prediction (fast motion): once more in the box the detector would
    # place on these landmarks; dlib's model lands closer from a closer box.
    offsets = {t.id: t.box_offset for t in tracker.tracks}
    if all(f is not None for f in faces) and any(
        tracking.landmark_distance(predicted[track], face.landmarks68) > REFINE_DISTANCE
        for (track, _, _), face in zip(seeds, faces)):
      faces = self._find(image, boxes=[
          (*tracking.place_box(offsets[track], face.landmarks68), score)
          for (track, _, score), face in zip(seeds, faces)])
    start = time.perf_counter()
    try:
      for (track, box, _), face in zip(seeds, faces):
        if face is None:
          return None
        ratio = (tracking.eye_distance(face.landmarks68)
                 / max(tracking.eye_distance(predicted[track]), 1e-6))
        if (tracking.landmark_distance(predicted[track], face.landmarks68) > FOLLOW_DISTANCE
            or not 1 / FOLLOW_SCALE <= ratio <= FOLLOW_SCALE):
          return None
        if hasattr(self.detector, 'boxes') and not confirm(self.detector, image, face.box):
          return None
    finally:
      self.summary.timer['detection'] += time.perf_counter() - start
    pairs = [(track, face) for (track, _, _), face in zip(seeds, faces)]
    tracker.follow(n, pairs)
    return pairs

  def prepare(self, file, index, timestamp, image, tracker=None, n=0, overlay=None,
              series=None):
    """The Frame of one photo or video frame: faces, tracks, poses, overlay copy."""
    from au_jax import overlays  # pylint: disable=g-import-not-at-top
    faces, tracks = self.find(image, tracker, n)
    height, width = image.shape[:2]
    poses = [pose_lib.head_pose(f.landmarks68, height, width) for f in faces]
    frame = Frame(file, index, timestamp, faces, tracks, poses, overlay=overlay,
                  series=series)
    if overlay is not None:
      s = overlays.display_scale(height, width)
      frame.shown = cv2.resize(faces_lib.as_rgb(image),
                               (max(1, round(width * s)), max(1, round(height * s))),
                               interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
      frame.original_size = (height, width)
    return frame

  # -- the network and the rows (main thread) ---------------------------------------------

  def add(self, frame):
    self.pending.append(frame)
    self.pending_faces += len(frame.faces)
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
        for i, (face, track, pose) in enumerate(zip(frame.faces, frame.tracks,
                                                    frame.poses)):
          self.writer.writerow(face_row(frame.file, frame.index, frame.timestamp, i, face,
                                        self.threshold, track, pose))
      else:
        self.writer.writerow(empty_row(frame.file, frame.index, frame.timestamp,
                                       self.width))
      self.summary.faces += len(frame.faces)
      self.summary.without_face += not frame.faces
      if frame.series is not None:
        frame.series.add(frame.index, [(t, f.au_probs)
                                       for t, f in zip(frame.tracks, frame.faces)])
      if frame.overlay is not None:
        video = not isinstance(frame.overlay, str)
        picture = overlays.draw(frame.shown, frame.faces, self.predictor.au_ids,
                                self.threshold, original_size=frame.original_size,
                                tracks=frame.tracks if video else None)
        if video:
          frame.overlay.write(picture)
        else:
          overlays.save_png(frame.overlay, picture)
    self.pending, self.pending_faces = [], 0

  def image(self, file):
    image = read_image(file)
    overlay = self.overlay_stem(file) + '.png' if self.overlay_dir else None
    self.add(self.prepare(file, 0, '', image, overlay=overlay))
    self.summary.images += 1

  def _frames(self, file, capture, fps, frame_step, overlay, series):
    """Frames of a video, ready for the network; read, detected and aligned on a
    background thread (unless overlap=False) so that this runs beside the network."""
    tracker = tracking.Tracker(patience=self.track_patience)

    def read():
      for n, (index, image) in enumerate(video_frames(capture, frame_step)):
        stamp = f'{index / fps:.3f}' if fps > 0 else ''
        yield self.prepare(file, index, stamp, image, tracker, n, overlay, series)

    return in_thread(read(), 2 * self.batch_size) if self.overlap else read()

  def video(self, file, frame_step=1, progress=True):
    from au_jax import overlays  # pylint: disable=g-import-not-at-top
    from au_jax import video_report  # pylint: disable=g-import-not-at-top
    capture, fps, count = open_video(file)
    writer = overlays.VideoOverlay(self.overlay_stem(file), fps / frame_step) \
        if self.overlay_dir else None
    series = video_report.Series(file, fps, frame_step) if self.plot_dir else None
    bar = _bar(progress, -(-count // frame_step) if count else None, file, 'frame')
    frames = 0
    reader = self._frames(file, capture, fps, frame_step, writer, series)
    try:
      for frame in reader:
        self.add(frame)
        frames += 1
        bar.update(1)
      self.flush()
    finally:
      reader.close()  # stops the reader thread before the capture goes
      bar.close()
      capture.release()
      if writer is not None:
        writer.close()
    if not frames:
      raise Unreadable('no frame could be read')
    self.summary.frames += frames
    if series is not None:
      video_report.plot(series, self.stem(file, self.plot_dir) + '.png',
                        self.predictor.au_ids, self.threshold, self.smooth)
      self.summary_rows += video_report.summary_rows(series, self.predictor.au_ids,
                                                     self.threshold, self.smooth)


_END = object()


def in_thread(items, maxsize):
  """A generator of `items` (an iterator) produced on a background thread, at most
  `maxsize` ahead; an exception there is raised here; closing it stops the thread."""
  q = queue.Queue(maxsize)
  stop = threading.Event()

  def put(item):
    while not stop.is_set():
      try:
        q.put(item, timeout=0.1)
        return True
      except queue.Full:
        pass
    return False

  def work():
    try:
      for item in items:
        if not put((item, None)):
          return
      put((_END, None))
    except BaseException as e:  # pylint: disable=broad-except
      put((_END, e))            # raised in the consumer

  thread = threading.Thread(target=work, name='au-jax-reader', daemon=True)

  def consume():
    thread.start()
    try:
      while True:
        item, error = q.get()
        if error is not None:
          raise error
        if item is _END:
          return
        yield item
    finally:
      stop.set()
      thread.join()

  return consume()


def _bar(progress, total, description, unit):
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  return tqdm(total=total, desc=os.path.basename(description), unit=unit,
              disable=not progress, dynamic_ncols=True, leave=False, file=sys.stderr)


def predict_files(predictor, inputs, writer, *, detector, path=None, batch_size=32,
                  max_size=1600, frame_step=1, threshold=0.5, overlay_dir=None,
                  progress=True, landmarks=True, detect_every=1, track_patience=10,
                  plot_dir=None, smooth=0.0, overlap=True):
  """Runs every input through detection, alignment and the network; writes the CSV
  header and rows with `writer` (a csv.writer); returns a Summary.

  detect_every: in videos, run the detector on every K-th frame and follow the faces in
  between; track_patience: frames a track id survives without its face; plot_dir: a
  PNG per video and SUMMARY.csv there, smoothed over `smooth` seconds if > 0; overlap:
  read and detect video frames on a thread beside the network.
  """
  from au_jax import video_report  # pylint: disable=g-import-not-at-top
  for folder in (overlay_dir, plot_dir):
    if folder:
      os.makedirs(folder, exist_ok=True)
  run_ = Run(predictor, detector, writer, path=path, batch_size=batch_size,
             max_size=max_size, threshold=threshold, overlay_dir=overlay_dir,
             landmarks=landmarks, detect_every=detect_every,
             track_patience=track_patience, plot_dir=plot_dir, smooth=smooth,
             overlap=overlap)
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
  if plot_dir:
    video_report.write_summary(os.path.join(plot_dir, video_report.SUMMARY),
                               predictor.au_ids, run_.summary_rows)
    videos = len({row[0] for row in run_.summary_rows})
    run_.summary.plots = (f'--plot: {videos} video picture(s) and {video_report.SUMMARY} '
                          f'in {plot_dir}' if videos else
                          f'--plot: no video among the inputs; {video_report.SUMMARY} in '
                          f'{plot_dir} has no rows')
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
