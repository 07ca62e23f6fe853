"""Turns one record into an aligned example: load, (detect,) 68->49, align, PNG-encode.

Per-record problems raise SkipRecord with one of the REASONS, which `prepare` counts.
Results are cached per chunk of records on disk, so that an interrupted `prepare`
resumes where it stopped instead of aligning everything again.
"""

import concurrent.futures
import dataclasses
import hashlib
import io
import json
import os

import cv2
from etils import epath
import numpy as np

from au_jax.geometry import landmarks as lm
from au_jax.geometry import align
from data_pipelines.errors import SkipRecord
from data_pipelines.records import ImageLoader

REASONS = ('missing image', 'unreadable image', 'no face', 'no landmarks',
           'NaN landmarks', 'degenerate alignment')
CHUNK = 256
_CACHE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class ProcessOptions:
  """aligned_size: side of the aligned square; detect_landmarks: use dlib's 68 points."""
  aligned_size: int = 200
  detect_landmarks: bool = False


def landmarks_of(record, image, options, detect):
  """The record's original-pixel landmarks as (49, 2), from the record or detection."""
  if options.detect_landmarks:
    faces = detect(image)
    if not faces:
      raise SkipRecord('no face', record.source)
    points = faces[0].landmarks68  # the largest face
  else:
    points = record.landmarks
    if hasattr(points, 'load'):
      points = points.load()
    if points is None:
      raise SkipRecord('no landmarks', record.source)
  points = lm.to_49(np.asarray(points, dtype=np.float64))
  if not np.all(np.isfinite(points)):
    raise SkipRecord('NaN landmarks', record.source)
  return points


def process_record(record, loader, options, detect=None):
  """Returns (PNG bytes of the aligned RGB face, (49, 2) float32 aligned landmarks)."""
  image = loader.load(record)
  points = landmarks_of(record, image, options, detect)
  if record.aligned:
    aligned, aligned_points = align.resize_aligned(image, points, options.aligned_size)
  else:
    try:
      aligned, aligned_points = align.align_face(image, points, options.aligned_size)
    except align.AlignmentError as e:
      raise SkipRecord('degenerate alignment', f'{record.source}: {e}') from None
  ok, png = cv2.imencode('.png', cv2.cvtColor(aligned, cv2.COLOR_RGB2BGR))
  if not ok:
    raise SkipRecord('unreadable image', record.source)
  return png.tobytes(), aligned_points


def _process_safe(record, loader, options, detect):
  try:
    return process_record(record, loader, options, detect)
  except SkipRecord as e:
    return e.reason


def process_chunk(records, options, detect=None, workers=1):
  """Processes records; returns per record (png, landmarks) or a skip reason (str)."""
  if workers <= 1 or any(r.frame is not None for r in records) or options.detect_landmarks:
    # Video frames are read in order from one capture; dlib is not thread-safe.
    loader = ImageLoader()
    try:
      return [_process_safe(r, loader, options, detect) for r in records]
    finally:
      loader.close()
  with concurrent.futures.ThreadPoolExecutor(workers) as pool:
    return list(pool.map(lambda r: _process_safe(r, ImageLoader(), options, detect), records))


class ChunkCache:
  """Finished chunks as .npz files named by a hash of their inputs."""

  def __init__(self, folder, options):
    self.folder = folder
    self.options = options

  def _fingerprint(self, split, records):
    digest = hashlib.sha1(json.dumps(
        [_CACHE_VERSION, split, dataclasses.asdict(self.options)]).encode())
    for r in records:
      try:
        stat = os.stat(r.image_path)
        stamp = (stat.st_size, stat.st_mtime_ns)
      except OSError:
        stamp = None
      points = r.landmarks
      points = getattr(points, 'path', None) if hasattr(points, 'load') else (
          None if points is None else np.asarray(points, np.float64).tobytes().hex())
      digest.update(json.dumps([r.key, r.image_path, r.frame, r.aligned, stamp,
                                points]).encode())
    return digest.hexdigest()

  def path(self, split, records):
    return os.path.join(self.folder, f'{split}-{self._fingerprint(split, records)}.npz')

  def load(self, path):
    path = epath.Path(path)  # a local file or a URL (gs://...)
    if not path.is_file():
      return None
    with np.load(io.BytesIO(path.read_bytes())) as data:
      status = json.loads(data['status'].tobytes().decode())
      png, offsets, points = data['png'], data['offsets'], data['landmarks']
    out = []
    for i, reason in enumerate(status):
      out.append(reason or (png[offsets[i]:offsets[i + 1]].tobytes(), points[i]))
    return out

  def save(self, path, results):
    epath.Path(self.folder).mkdir(parents=True, exist_ok=True)
    status = [r if isinstance(r, str) else '' for r in results]
    blobs = [b'' if isinstance(r, str) else r[0] for r in results]
    points = np.stack([np.zeros((lm.NUM_LANDMARKS, 2), np.float32) if isinstance(r, str)
                       else r[1] for r in results])
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    # Built in memory (a zip needs a seekable file; a bucket's object is not one).
    data = io.BytesIO()
    np.savez(data, png=np.frombuffer(b''.join(blobs), np.uint8), offsets=offsets,
             landmarks=points, status=np.frombuffer(json.dumps(status).encode(), np.uint8))
    tmp = epath.Path(path + '.tmp.npz')
    tmp.write_bytes(data.getvalue())
    tmp.replace(path)  # Atomic: a chunk is either whole or absent.
