"""Processes prepare's chunks on every core of the host, in order, while they are written.

`--workers N` starts N processes, each with its own detector and its own video
capture. dlib's HOG detector releases the GIL while it scans (a Python thread kept
running through its calls, benchmarks/prepare_scaling.py), but a detector keeps
per-call state, and the rest of a record's work (the 68 points as Python objects, the
alignment's numpy, the landmark files) holds the GIL; processes share none of it, and
also spread the decoding of videos and of BP4D's JPEGs. A worker takes a second or two
to start (imports, the 68-point model). A chunk is cut into tasks (a video's frames stay in one task, read forward from
one capture); the next chunks are processed while the current one is written. The
results, and so the written bytes, do not depend on N: every record goes through the
same process.process_record, and chunks come back in their order.
"""

import collections
import concurrent.futures
import dataclasses
import multiprocessing
import os

from data_pipelines import process
from data_pipelines.records import ImageLoader

TASK = 16  # records of image files per task: small enough to share a chunk out


def available_cores():
  """The cores this process may run on (its CPU affinity), the default of --workers."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:  # Not on Linux.
    return os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class DetectorSpec:
  """A face detector by name and constructor options, built where it runs: once in
  each worker process."""
  name: str
  options: tuple = ()  # sorted (name, value) pairs

  def build(self):
    from au_jax import faces  # pylint: disable=g-import-not-at-top
    return faces.make_detector(self.name, **dict(self.options))


def split_tasks(records, size=TASK):
  """Consecutive records cut into tasks: frames of one video together, files by `size`."""
  tasks = []
  for r in records:
    video = r.image_path if r.frame is not None else None
    last = tasks[-1][-1] if tasks else None
    same = last is not None and (
        (last.image_path if last.frame is not None else None) == video)
    if same and (video is not None or len(tasks[-1]) < size):
      tasks[-1].append(r)
    else:
      tasks.append([r])
  return tasks


_WORKER = {}  # this worker process's options, detector and video capture


def _start_worker(options, detect):
  import cv2  # pylint: disable=g-import-not-at-top
  cv2.setNumThreads(1)  # One core per worker: OpenCV's own threads would compete.
  _WORKER.update(options=options, loader=ImageLoader(),
                 detect=detect.build() if isinstance(detect, DetectorSpec) else detect)


def _run_task(records):
  return process.process_chunk(records, _WORKER['options'], _WORKER['detect'],
                               _WORKER['loader'])


class ChunkRunner:
  """Gives each chunk's results in chunk order, from the cache or computed.

  workers=1 processes in this process (and so can use any `detect` callable); more
  start that many processes, which need a DetectorSpec or a picklable `detect`.
  `ahead` chunks are submitted beyond the one being written.
  """

  def __init__(self, options, detect=None, workers=1, ahead=None):
    self.options, self.workers = options, max(1, int(workers))
    self.ahead = max(2, self.workers) if ahead is None else ahead
    self._pool = None
    if self.workers > 1:
      self._pool = concurrent.futures.ProcessPoolExecutor(
          self.workers, mp_context=multiprocessing.get_context('spawn'),
          initializer=_start_worker, initargs=(options, detect))
    else:
      if isinstance(detect, DetectorSpec):
        detect = detect.build()
      self._detect, self._loader = detect, ImageLoader()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close(cancel=exc[0] is not None)

  def close(self, cancel=False):
    if self._pool is not None:
      self._pool.shutdown(wait=True, cancel_futures=cancel)
      self._pool = None
    elif self.workers == 1:
      self._loader.close()

  def _submit(self, records):
    if self._pool is None:
      return None  # Computed in _finish, in this process.
    return [self._pool.submit(_run_task, task) for task in split_tasks(records)]

  def _finish(self, records, futures):
    if futures is None:
      return process.process_chunk(records, self.options, self._detect, self._loader)
    return [result for future in futures for result in future.result()]

  def run(self, chunks, cache):
    """Yields (chunk, results) for each (chunk, cache path) of `chunks`, in order;
    computed chunks are saved to `cache` before they are given out."""
    pending = collections.deque()
    def finish():
      chunk, path, cached, futures = pending.popleft()
      if cached is not None:
        return chunk, cached
      results = self._finish(chunk, futures)
      cache.save(path, results)
      return chunk, results
    for chunk, path in chunks:
      cached = cache.load(path)
      pending.append((chunk, path, cached, None if cached is not None
                      else self._submit(chunk)))
      while len(pending) > self.ahead:
        yield finish()
    while pending:
      yield finish()
