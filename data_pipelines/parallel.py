"""Processes prepare's chunks on every core of the host while they are written.

`--workers N` starts N processes, each with its own detector and its own video
capture. dlib's HOG detector releases the GIL while it scans (a Python thread kept
running through its calls, benchmarks/prepare_scaling.py), but a detector keeps
per-call state, and the rest of a record's work (the 68 points as Python objects, the
alignment's numpy, the landmark files) holds the GIL; processes share none of it, and
also spread the decoding of videos and of BP4D's JPEGs. A worker takes a second or two
to start (imports, the 68-point model).

Each chunk is one task. Videos are read forward (seeking is unreliable), so all the
chunks of one video go to one worker, in order, and the videos are spread over the
workers; chunks of image files go to the least loaded worker. Chunks are written as
they finish: TFDS orders the examples by a hash of their keys, so the written bytes do
not depend on N or on the order chunks finish in.
"""

import collections
import concurrent.futures
import concurrent.futures.process
import dataclasses
import multiprocessing
import os

from data_pipelines import process
from au_jax.errors import DataError
from data_pipelines.records import ImageLoader

AHEAD = 2  # chunks in flight per worker: one to work on, one waiting


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


def video_of(chunk):
  """The video a chunk's frames come from, or None for image files."""
  return chunk[0].image_path if chunk and chunk[0].frame is not None else None


_WORKER = {}  # this worker process's options, detector and video capture


def _start_worker(options, detect):
  import cv2  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  cv2.setNumThreads(1)  # One core per worker: OpenCV's own threads would compete.
  process.keep_freed_memory()
  _WORKER.update(options=options, loader=ImageLoader(),
                 detect=detect.build() if isinstance(detect, DetectorSpec) else detect)
  # OpenCV sets up its codecs on first use (a third of a 64-record chunk's time): do it
  # now, while the main process is still reading the input.
  frame = np.zeros((64, 64, 3), np.uint8)
  jpeg = cv2.imencode('.jpg', frame)[1]
  cv2.imdecode(jpeg, cv2.IMREAD_REDUCED_COLOR_2)
  cv2.imencode('.png', cv2.warpAffine(frame, np.eye(2, 3), (32, 32)))


def _ready():
  return os.getpid()


def _run_task(records):
  return process.process_chunk(records, _WORKER['options'], _WORKER['detect'],
                               _WORKER['loader'])


def worker_count(workers, splits):
  """The workers worth starting for a plan's `splits` ({split: records}): a chunk is a
  worker's task and starting a worker takes a second or two, so an input of one chunk
  is done in this process."""
  return min(workers, sum(len(process.chunks(records)) for records in splits.values()))


def make_runner(options, detect, workers, splits):
  """The ChunkRunner of a plan's `splits`, with worker_count(workers, splits) workers
  (with one, ChunkRunner builds a DetectorSpec here)."""
  return ChunkRunner(options, detect, worker_count(workers, splits))


class ChunkRunner:
  """Gives each chunk's results, from the cache or computed.

  workers=1 processes in this process, in order (and so can use any `detect`
  callable); more start that many processes, which need a DetectorSpec or a picklable
  `detect`, and give chunks as they finish.
  """

  def __init__(self, options, detect=None, workers=1):
    self.options, self.workers = options, max(1, int(workers))
    self._pools = []
    if self.workers > 1:
      context = multiprocessing.get_context('spawn')
      # One single-process pool per worker: a video's chunks must reach one worker.
      self._pools = [concurrent.futures.ProcessPoolExecutor(
          1, mp_context=context, initializer=_start_worker, initargs=(options, detect))
                     for _ in range(self.workers)]
    else:
      if isinstance(detect, DetectorSpec):
        detect = detect.build()
      self._detect, self._loader = detect, ImageLoader()

  def start(self):
    """Starts the worker processes now rather than at the first chunk, so that they
    start (imports, models) while this process reads the input and sets up TFDS."""
    for pool in self._pools:
      pool.submit(_ready)
    return self

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close(cancel=exc[0] is not None)

  def close(self, cancel=False):
    for pool in self._pools:
      pool.shutdown(wait=True, cancel_futures=cancel)
    self._pools = []
    if self.workers == 1:
      self._loader.close()

  def run(self, chunks, cache):
    """Yields (chunk, results) for each (chunk, cache path) of `chunks`; computed
    chunks are saved to `cache` before they are given out."""
    if not self._pools:
      for chunk, path in chunks:
        results = cache.load(path)
        if results is None:
          results = process.process_chunk(chunk, self.options, self._detect,
                                          self._loader)
          cache.save(path, results)
        yield chunk, results
      return
    yield from self._run_parallel(chunks, cache)

  def _run_parallel(self, chunks, cache):
    queues = [collections.deque() for _ in self._pools]
    assigned, owner, cached = [0] * len(self._pools), {}, []
    for chunk, path in chunks:
      if cache.exists(path):
        cached.append((chunk, path))
        continue
      video = video_of(chunk)
      worker = owner.get(video) if video is not None else None
      if worker is None:
        worker = min(range(len(self._pools)), key=assigned.__getitem__)
        if video is not None:
          owner[video] = worker
      queues[worker].append((chunk, path))
      assigned[worker] += len(chunk)
    running, busy = {}, [0] * len(self._pools)
    def top_up(worker):
      while queues[worker] and busy[worker] < AHEAD:
        chunk, path = queues[worker].popleft()
        future = self._pools[worker].submit(_run_task, chunk)
        running[future], busy[worker] = (chunk, path, worker), busy[worker] + 1
    for worker in range(len(self._pools)):
      top_up(worker)
    for chunk, path in cached:  # Written while the workers start on the rest.
      yield chunk, cache.load(path)
    while running:
      done, _ = concurrent.futures.wait(
          running, return_when=concurrent.futures.FIRST_COMPLETED)
      for future in done:
        chunk, path, worker = running.pop(future)
        busy[worker] -= 1
        try:
          results = future.result()
        except concurrent.futures.process.BrokenProcessPool:
          raise DataError('a prepare worker process stopped (out of memory?); the '
                          'finished chunks are kept: run again to resume, with '
                          'fewer --workers') from None
        cache.save(path, results)
        top_up(worker)
        yield chunk, results
