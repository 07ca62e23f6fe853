"""A generator run on a background thread: how video frames are read, detected and
aligned while the network runs on earlier frames.

The thread stays a bounded queue ahead, so memory stays bounded on long videos; an
error on that thread is raised in the consumer, and closing the generator stops the
thread before its video is released.
"""

import queue
import threading

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
