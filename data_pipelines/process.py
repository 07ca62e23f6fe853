"""Turns one record into an aligned example: load, (detect,) 68->49, align, PNG-encode.

Per-record problems raise SkipRecord with one of the REASONS, which `prepare` counts.
Results are cached per chunk of records on disk, so that an interrupted `prepare`
resumes where it stopped instead of aligning everything again. data_pipelines/parallel.py
runs process_chunk on every core.
"""

import ctypes
import dataclasses
import hashlib
import io
import json
import os

import cv2
from etils import epath
import numpy as np

from au_jax import paths
from au_jax.geometry import landmarks as lm
from au_jax.geometry import align
from data_pipelines.errors import SkipRecord
from data_pipelines.records import ImageLoader, load_image_file

REASONS = ('missing image', 'unreadable image', 'no face', 'no landmarks',
           'NaN landmarks', 'degenerate alignment')
CHUNK = 64  # records; also the task of one worker
_CACHE_VERSION = 3  # 2: every option in the key; 3: reduced JPEG decoding.


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


def decode_reduction(matrix):
  """The largest JPEG decode reduction (1, 2, 4, 8) at which the alignment `matrix`
  still only shrinks: the aligned face then loses no detail (the reduced decode
  averages the pixels that a bilinear shrink by 2 or more would skip)."""
  scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))  # output pixels per input pixel
  return next((f for f in (8, 4, 2) if scale * f <= 1.0), 1)


def _align_reduced(record, options):
  """Aligns a JPEG whose landmarks are known before decoding, decoded at the reduced
  size the alignment allows (BP4D's 1392x1040 frames: half size, 3x faster)."""
  try:
    points = landmarks_of(record, None, options, None)
    matrix = align.alignment_matrix(points, options.aligned_size)
  except (SkipRecord, align.AlignmentError) as e:
    load_image_file(record.image_path)  # A missing or unreadable image counts first.
    if isinstance(e, SkipRecord):
      raise
    raise SkipRecord('degenerate alignment', f'{record.source}: {e}') from None
  f = decode_reduction(matrix)
  image = load_image_file(record.image_path, f)
  # Reduced pixel i is centred on full pixel f * i + (f - 1) / 2.
  to_full = np.array([[f, 0.0, (f - 1) / 2], [0.0, f, (f - 1) / 2], [0.0, 0.0, 1.0]])
  aligned = cv2.warpAffine(image, matrix @ to_full, (options.aligned_size,) * 2,
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=align.BORDER_VALUE)
  return aligned, align.transform_points(points, matrix).astype(np.float32)


def process_record(record, loader, options, detect=None):
  """Returns (PNG bytes of the aligned RGB face, (49, 2) float32 aligned landmarks)."""
  if (not options.detect_landmarks and record.frame is None and not record.aligned
      and record.image_path.lower().endswith(('.jpg', '.jpeg'))):
    return _encode(record, *_align_reduced(record, options))
  image = loader.load(record)
  points = landmarks_of(record, image, options, detect)
  if record.aligned:
    aligned, aligned_points = align.resize_aligned(image, points, options.aligned_size)
  else:
    try:
      aligned, aligned_points = align.align_face(image, points, options.aligned_size)
    except align.AlignmentError as e:
      raise SkipRecord('degenerate alignment', f'{record.source}: {e}') from None
  return _encode(record, aligned, aligned_points)


def _encode(record, aligned, aligned_points):
  ok, png = cv2.imencode('.png', cv2.cvtColor(aligned, cv2.COLOR_RGB2BGR))
  if not ok:
    raise SkipRecord('unreadable image', record.source)
  return png.tobytes(), aligned_points


def _process_safe(record, loader, options, detect):
  try:
    return process_record(record, loader, options, detect)
  except SkipRecord as e:
    return e.reason


def keep_freed_memory():
  """Tells glibc's malloc to keep freed memory in a worker process rather than return
  it to the system after every image: a fresh process does so with each decoded frame
  (about 1 MB), and the page faults of taking it back cost a fifth of a BP4D frame's
  time (measured with benchmarks/prepare_scaling.py). No-op without glibc."""
  try:
    libc = ctypes.CDLL('libc.so.6')
  except OSError:
    return
  m_trim_threshold, m_mmap_threshold = -1, -3  # malloc.h
  libc.mallopt(m_trim_threshold, 64 << 20)  # keep up to 64 MB free at the heap's top
  libc.mallopt(m_mmap_threshold, 32 << 20)  # frames come from the heap, not mmap


def process_chunk(records, options, detect=None, loader=None):
  """Processes records in order; returns per record (png, landmarks) or a skip reason
  (str). `loader` may be kept open across calls (a video read on from where it was)."""
  own = loader is None
  loader = loader or ImageLoader()
  try:
    return [_process_safe(r, loader, options, detect) for r in records]
  finally:
    if own:
      loader.close()


def path_identity(path):
  """What identifies an input path in the chunk-cache key: its size and modification
  time for a file; for a folder, those of the entries directly inside it."""
  if paths.is_url(path):  # gs://...: its name (a bucket's objects are not stat-ed here)
    return [path, None]
  path = os.path.abspath(path)
  try:
    if not os.path.isdir(path):
      stat = os.stat(path)
      return [path, stat.st_size, stat.st_mtime_ns]
    entries = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns)
                     for e in os.scandir(path))
    return [path, entries]
  except OSError:
    return [path, None]


def chunks(records, size=None):
  """Consecutive records cut into chunks of at most `size` (default CHUNK); a chunk
  holds frames of one video or image files, never both."""
  size = size or CHUNK
  out = []
  for r in records:
    video = r.image_path if r.frame is not None else None
    last = out[-1][-1] if out else None
    if (last is not None and len(out[-1]) < size
        and (last.image_path if last.frame is not None else None) == video):
      out[-1].append(r)
    else:
      out.append([r])
  return out


class ChunkCache:
  """Finished chunks as .npz files named by a hash of their inputs.

  `key` holds every option of the run that changes a record (detector, its upsample
  and score threshold, AUs, frame step, pseudo labels, the inputs' identity); with
  the options, the split and each record's own fields and file stamp it names the
  chunk file, so a run resumed with other options recomputes its chunks instead of
  mixing them with the old ones.
  """

  def __init__(self, folder, options, key=None):
    self.folder = folder
    self.options = options
    self.key = key or {}

  def _fingerprint(self, split, records):
    digest = hashlib.sha1(json.dumps(
        [_CACHE_VERSION, split, dataclasses.asdict(self.options), self.key],
        sort_keys=True, default=str).encode())
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
                                points, sorted(r.labels.items()),
                                sorted(r.pseudo.items())], default=str).encode())
    return digest.hexdigest()

  def path(self, split, records):
    return os.path.join(self.folder, f'{split}-{self._fingerprint(split, records)}.npz')

  def exists(self, path):
    return os.path.isfile(path)

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
