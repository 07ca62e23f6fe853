"""The run of `au-jax predict`: inputs in, faces through the network in batches, rows out.

A `Session` takes each photo or video frame, has its faces found (`follow.FaceFinder`),
collects them until a batch is full, runs the network on the batch and writes the rows
(`rows`), overlays and `--plot` series of those frames in input order. Batches span
frames and files, so a photo with one face does not cost a network call of its own.
`PredictOptions` holds the settings of one run; `predict_files` is the whole run.
"""

import collections
import dataclasses
import os
import sys
import time

import cv2
import numpy as np

from au_jax import overlays
from au_jax import tracking
from au_jax import video_report
from au_jax import faces as faces_lib
from au_jax.geometry import pose as pose_lib
from au_jax.predict import follow
from au_jax.predict import inputs as inputs_lib
from au_jax.predict import progress as progress_lib
from au_jax.predict import rows
from au_jax.predict import threads


@dataclasses.dataclass(frozen=True)
class PredictOptions:
  """The settings of one run; `au-jax predict` builds it from its options (named after
  them in the comments)."""
  path: str = None              # --path: 'source' or 'target' (None: the checkpoint's)
  batch_size: int = 32          # --batch-size: faces per network call
  max_size: int = 1600          # --max-size: larger images are shrunk for detection
  frame_step: int = 1           # --frame-step: every N-th video frame
  threshold: float = 0.5        # --threshold: probability at which AUxx_c is 1
  overlay_dir: str = None       # --save-overlays: a PNG per image, an MP4 per video
  landmarks: bool = True        # not --no-model-landmarks: the model's landmark branch
  detect_every: int = 1         # --detect-every: detect on every K-th video frame
  track_patience: int = 10      # --track-patience: frames a track survives unseen
  plot_dir: str = None          # --plot: a PNG per video and SUMMARY.csv there
  smooth: float = 0.0           # --smooth: seconds the --plot series are averaged over
  progress: bool = True         # not --quiet: progress bars
  overlap: bool = True          # read and detect video frames on a thread beside the network


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


class Session:
  """Feeds frames to the network in batches and writes rows (and overlays) in order."""

  def __init__(self, predictor, detector, writer, options):
    self.predictor, self.detector, self.writer = predictor, detector, writer
    self.options = options
    self.width = len(rows.header(predictor.au_ids))
    self.pending, self.pending_faces = [], 0
    self.summary = progress_lib.Summary(detect_every=options.detect_every)
    self.summary_rows = []   # SUMMARY.csv rows (--plot)
    self.finder = follow.FaceFinder(detector, predictor, options.max_size,
                                    options.detect_every, self.summary)
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
    return self.stem(file, self.options.overlay_dir)

  def prepare(self, file, index, timestamp, image, tracker=None, n=0, overlay=None,
              series=None):
    """The Frame of one photo or video frame: faces, tracks, poses, overlay copy."""
    faces, tracks = self.finder.find(image, tracker, n)
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
    if self.pending_faces >= self.options.batch_size:
      self.flush()

  def flush(self):
    options = self.options
    faces = [f for frame in self.pending for f in frame.faces]
    if faces:
      start = time.perf_counter()
      out = self.predictor.predict_batches(np.stack([f.crop for f in faces]),
                                           options.batch_size, options.path,
                                           options.landmarks)
      self.summary.timer['network'] += time.perf_counter() - start
      points = out.landmarks if options.landmarks else [None] * len(faces)
      for face, probs, p in zip(faces, out.au_probs, points):
        face.set_prediction(probs, p)
    for frame in self.pending:
      if frame.faces:
        for i, (face, track, pose) in enumerate(zip(frame.faces, frame.tracks,
                                                    frame.poses)):
          self.writer.writerow(rows.face_row(frame.file, frame.index, frame.timestamp, i,
                                             face, options.threshold, track, pose))
      else:
        self.writer.writerow(rows.empty_row(frame.file, frame.index, frame.timestamp,
                                            self.width))
      self.summary.faces += len(frame.faces)
      self.summary.without_face += not frame.faces
      if frame.series is not None:
        frame.series.add(frame.index, [(t, f.au_probs)
                                       for t, f in zip(frame.tracks, frame.faces)])
      if frame.overlay is not None:
        video = not isinstance(frame.overlay, str)
        picture = overlays.draw(frame.shown, frame.faces, self.predictor.au_ids,
                                options.threshold, original_size=frame.original_size,
                                tracks=frame.tracks if video else None)
        if video:
          frame.overlay.write(picture)
        else:
          overlays.save_png(frame.overlay, picture)
    self.pending, self.pending_faces = [], 0

  # -- one input file ---------------------------------------------------------------------

  def image(self, file):
    image = inputs_lib.read_image(file)
    overlay = self.overlay_stem(file) + '.png' if self.options.overlay_dir else None
    self.add(self.prepare(file, 0, '', image, overlay=overlay))
    self.summary.images += 1

  def _frames(self, file, capture, fps, overlay, series):
    """Frames of a video, ready for the network; read, detected and aligned on a
    background thread (unless overlap=False) so that this runs beside the network."""
    tracker = tracking.Tracker(patience=self.options.track_patience)

    def read():
      for n, (index, image) in enumerate(inputs_lib.video_frames(
          capture, self.options.frame_step)):
        stamp = f'{index / fps:.3f}' if fps > 0 else ''
        yield self.prepare(file, index, stamp, image, tracker, n, overlay, series)

    if self.options.overlap:
      return threads.in_thread(read(), 2 * self.options.batch_size)
    return read()

  def video(self, file):
    options, au_ids = self.options, self.predictor.au_ids
    frame_step = options.frame_step
    capture, fps, count = inputs_lib.open_video(file)
    writer = overlays.VideoOverlay(self.overlay_stem(file), fps / frame_step) \
        if options.overlay_dir else None
    series = video_report.Series(file, fps, frame_step) if options.plot_dir else None
    bar = progress_lib.progress_bar(options.progress,
                                    -(-count // frame_step) if count else None, file,
                                    'frame')
    frames = 0
    reader = self._frames(file, capture, fps, writer, series)
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
      raise inputs_lib.Unreadable('no frame could be read')
    self.summary.frames += frames
    if series is not None:
      video_report.plot(series, self.stem(file, options.plot_dir) + '.png', au_ids,
                        options.threshold, options.smooth)
      self.summary_rows += video_report.summary_rows(series, au_ids, options.threshold,
                                                     options.smooth)

  def image_or_video(self, file):
    """A file named explicitly with an unknown extension: an image, else a video."""
    try:
      self.image(file)
    except inputs_lib.Unreadable:
      try:
        self.video(file)
      except inputs_lib.Unreadable:
        raise inputs_lib.Unreadable(
            'neither an image nor a video OpenCV can read') from None


def predict_files(predictor, inputs, writer, *, detector, options=None):
  """Runs every input through detection, alignment and the network; writes the CSV
  header and rows with `writer` (a csv.writer); returns a progress.Summary.

  options: a PredictOptions (None: its defaults), e.g. detect_every: in videos, run the
  detector on every K-th frame and follow the faces in between; plot_dir: a PNG per
  video and SUMMARY.csv there; overlap: read and detect video frames on a thread beside
  the network.
  """
  options = PredictOptions() if options is None else options
  plot_dir = options.plot_dir
  for folder in (options.overlay_dir, plot_dir):
    if folder:
      os.makedirs(folder, exist_ok=True)
  session = Session(predictor, detector, writer, options)
  writer.writerow(rows.header(predictor.au_ids))
  files = inputs_lib.collect_inputs(inputs)
  calls, fallbacks = (getattr(detector, 'calls', 0), getattr(detector, 'fallbacks', None))
  images = sum(kind != 'video' for _, kind in files)
  bar = progress_lib.progress_bar(options.progress and images > 1, images, 'images',
                                  'image')
  start = time.perf_counter()
  for file, kind in files:
    try:
      if kind == 'video':
        session.video(file)
      elif kind == 'image':
        session.image(file)
      else:
        session.image_or_video(file)
    except inputs_lib.Unreadable as e:
      session.summary.unreadable.append((file, str(e)))
      bar.write(f'au-jax predict: warning: cannot read {file}: {e}', file=sys.stderr)
    if kind != 'video':
      bar.update(1)
  session.flush()
  bar.close()
  summary = session.summary
  summary.seconds = time.perf_counter() - start
  if plot_dir:
    video_report.write_summary(os.path.join(plot_dir, video_report.SUMMARY),
                               predictor.au_ids, session.summary_rows)
    videos = len({row[0] for row in session.summary_rows})
    summary.plots = (f'--plot: {videos} video picture(s) and {video_report.SUMMARY} '
                     f'in {plot_dir}' if videos else
                     f'--plot: no video among the inputs; {video_report.SUMMARY} in '
                     f'{plot_dir} has no rows')
  if fallbacks is not None:  # AutoDetector
    summary.detector_note = (
        f'auto detector: the CNN ran on {detector.fallbacks - fallbacks} of '
        f'{detector.calls - calls} images/frames')
  return summary


def warm_up(predictor, options):
  """Compiles the network for the run's batch size, path and landmark branch now, so
  the rates exclude compilation; returns the seconds it took."""
  start = time.perf_counter()
  size = predictor.crop_size
  predictor.predict_batches(np.zeros((1, size, size, 3), np.uint8), options.batch_size,
                            options.path, options.landmarks)
  return time.perf_counter() - start
