"""Face tracks: ids across frames on drawn boxes (crossing, gaps, newcomers), and on a
video of two real faces that swap sizes, through `au-jax predict`."""

import csv
import types

import cv2
import numpy as np
import pytest
from skimage import data as skdata

import _trained
from au_jax import tracking
from au_jax.geometry import pose


def face_at(x, y, eyes=40.0):
  """A stand-in face: the generic 68 points, eye midpoint at (x, y), and its box."""
  points = pose.project(0, 0, 0, (x, y), eyes, 480, 640)
  (x0, y0), (x1, y1) = points.min(0), points.max(0)
  return types.SimpleNamespace(box=(x0, y0, x1 - x0, y1 - y0), landmarks68=points,
                               score=1.0)


def test_two_faces_that_cross_keep_their_ids():
  """A walks right, B walks left at the same height; they overlap in the middle, where
  B is hidden behind A for three frames; both keep their ids all the way."""
  tracker = tracking.Tracker(patience=5)
  first = None
  for frame in range(21):
    a = face_at(100 + 22 * frame, 200)
    b = face_at(540 - 22 * frame, 210)
    hidden = 9 <= frame <= 11
    faces = [a] if hidden else [a, b]
    ids = tracker.update(frame, faces)
    if first is None:
      first = ids
    assert ids[0] == first[0], frame
    if not hidden:
      assert ids[1] == first[1], frame
  assert tracker.next_id == 2


def test_patience_and_newcomers():
  tracker = tracking.Tracker(patience=2)
  assert tracker.update(0, [face_at(100, 100)]) == [0]
  assert tracker.update(1, []) == []
  assert tracker.update(2, []) == []
  assert tracker.update(3, [face_at(102, 100)]) == [0]  # 2 frames missed: same id
  for frame in (4, 5, 6):
    tracker.update(frame, [])
  assert tracker.update(7, [face_at(104, 100)]) == [1]  # 3 missed: a new id
  # Someone far away is someone else, even while track 1 is live.
  assert tracker.update(8, [face_at(104, 100), face_at(500, 300)]) == [1, 2]


def test_largest_first_order_does_not_change_ids():
  """The faces come largest first (predict's `face` order); ids follow the person."""
  tracker = tracking.Tracker()
  for frame in range(11):
    left, right = face_at(150, 200, 30 + 3 * frame), face_at(450, 200, 60 - 3 * frame)
    faces = [right, left] if frame < 5 else [left, right]  # largest first
    ids = tracker.update(frame, faces)
    assert ids == ([0, 1] if frame < 5 else [1, 0]), frame


def test_seeds_follow_the_motion():
  tracker = tracking.Tracker()
  for frame in range(3):
    face = face_at(100 + 10 * frame, 100)
    tracker.update(frame, [face])
  (track, box, score), = tracker.seeds(3)
  expected = face_at(130, 100).box
  assert track == 0 and score == 1.0
  np.testing.assert_allclose(box, expected, atol=1.0)


def write_swap_video(path, frames=8, size=(640, 360)):
  """Two faces (the astronaut, and her mirror image in grey) that swap sizes: the left
  one grows from 170 to 270 pixels while the right one shrinks from 270 to 170."""
  a = skdata.astronaut()[50:210, 145:300]
  b = cv2.cvtColor(cv2.cvtColor(np.ascontiguousarray(a[:, ::-1]), cv2.COLOR_RGB2GRAY),
                   cv2.COLOR_GRAY2RGB)
  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10, size)
  assert writer.isOpened()
  for i in range(frames):
    t = i / (frames - 1)
    frame = np.full((size[1], size[0], 3), 100, np.uint8)
    for image, left, side in ((a, True, 170 + 100 * t), (b, False, 270 - 100 * t)):
      side = int(side)
      x = 20 if left else size[0] - 20 - side
      y = (size[1] - side) // 2
      frame[y:y + side, x:x + side] = cv2.resize(image, (side, side))
    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
  writer.release()
  return str(path)


def test_two_people_swap_sizes_in_a_video(tmp_path):
  """`face` (largest first) swaps halfway; `track` stays with each person."""
  run = _trained.trained()
  video = write_swap_video(tmp_path / 'swap.avi')
  out = tmp_path / 'swap.csv'
  assert _trained.cli(None, 'predict', run.workdir, video, '--output', out,
                      '--quiet') == 0
  with open(out, newline='', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
  assert all(r['success'] == '1' for r in rows) and len(rows) == 16
  side = lambda r: 'left' if float(r['face_x']) < 320 else 'right'
  tracks = {s: {r['track'] for r in rows if side(r) == s} for s in ('left', 'right')}
  assert all(len(t) == 1 for t in tracks.values()), tracks
  assert tracks['left'] != tracks['right']
  faces = {s: [r['face'] for r in rows if side(r) == s] for s in ('left', 'right')}
  assert faces['left'][0] == '1' and faces['left'][-1] == '0'  # the largest-first swap
  assert faces['right'][0] == '0' and faces['right'][-1] == '1'
