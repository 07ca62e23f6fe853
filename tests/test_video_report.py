"""The per-video picture and SUMMARY.csv of `predict --plot`, on made-up series."""

import csv

import cv2
import numpy as np
import pytest

from au_jax import video_report


def two_tracks():
  """10 frames at 5 fps: track 0 in frames 0-5 (AU probabilities rising), track 3 in
  frames 4-9, no face in none; then frames 10-11 without a face."""
  series = video_report.Series('clip.mp4', fps=5.0)
  for f in range(12):
    faces = []
    if f <= 5:
      faces.append((0, [0.1 * f, 0.9, 0.2]))
    if 4 <= f <= 9:
      faces.append((3, [0.6, 0.1 * f, 0.4]))
    series.add(f, faces)
  return series


def test_moving_average_is_a_centred_window():
  rng = np.random.default_rng(0)
  times = np.sort(rng.uniform(0, 10, 40))
  values = rng.uniform(0, 1, (40, 3))
  got = video_report.moving_average(times, values, 2.0)
  for i, t in enumerate(times):
    near = np.abs(times - t) <= 1.0
    np.testing.assert_allclose(got[i], values[near].mean(0))


def test_summary_rows_per_track():
  rows = video_report.summary_rows(two_tracks(), (1, 2, 4), threshold=0.5)
  header = video_report.summary_header((1, 2, 4))
  a, b = (dict(zip(header, map(str, r))) for r in rows)
  assert (a['track'], a['frames'], a['first_frame'], a['last_frame'], a['video_frames']) \
      == ('0', '6', '0', '5', '12')
  assert (b['track'], b['frames'], b['first_frame'], b['last_frame']) == ('3', '6', '4', '9')
  assert float(a['AU01_mean']) == pytest.approx(0.25, abs=1e-4)
  assert float(a['AU01_present']) == pytest.approx(1 / 6, abs=1e-4)  # only 0.5 reaches 0.5
  assert float(a['AU02_present']) == 1.0 and float(a['AU04_present']) == 0.0
  assert float(b['AU02_present']) == pytest.approx(5 / 6, abs=1e-4)  # 0.5 ... 0.9


def test_smoothing_changes_the_summary_not_the_frames():
  raw = video_report.summary_rows(two_tracks(), (1, 2, 4), 0.5)
  smooth = video_report.summary_rows(two_tracks(), (1, 2, 4), 0.5, smooth=1.0)
  assert [r[:6] for r in raw] == [r[:6] for r in smooth]
  # Track 0's AU1 rises 0.0 ... 0.5: one frame at 0.5 raw, none after a 1 s average.
  assert float(raw[0][9]) > 0 and float(smooth[0][9]) == 0.0


def test_a_video_without_faces_has_one_row():
  series = video_report.Series('empty.avi', fps=0.0)
  for f in range(3):
    series.add(f, [])
  rows = video_report.summary_rows(series, (1, 2), 0.5)
  assert rows == [['empty.avi', '', 0, '', '', 3, '', '', '', '']]


def test_plot_and_summary_files(tmp_path):
  series = two_tracks()
  path = video_report.plot(series, str(tmp_path / 'clip.png'), (1, 2, 4), 0.5)
  picture = cv2.imread(path)
  assert picture.shape[1] == 1000 and picture.shape[0] > 300
  # The frames without a face (10-11, the right end) are shaded light grey (0.85).
  grey = np.all(np.abs(picture.astype(int) - 217) <= 2, axis=-1)
  columns = np.flatnonzero(grey.sum(0) > 100)
  assert len(columns) > 50 and columns.min() > 0.7 * picture.shape[1], columns
  seen = video_report.Series('clip.mp4', fps=5.0)
  for f in range(10):
    seen.add(f, [(0, [0.5, 0.5, 0.5])])
  other = cv2.imread(video_report.plot(seen, str(tmp_path / 'seen.png'), (1, 2, 4)))
  assert not (np.all(np.abs(other.astype(int) - 217) <= 2, axis=-1).sum(0) > 100).any()
  empty = video_report.Series('empty.avi', fps=0.0)
  empty.add(0, [])
  assert cv2.imread(video_report.plot(empty, str(tmp_path / 'empty.png'), (1,))) is not None
  out = tmp_path / 'SUMMARY.csv'
  video_report.write_summary(out, (1, 2, 4), video_report.summary_rows(series, (1, 2, 4)))
  with open(out, newline='', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
  assert [r['track'] for r in rows] == ['0', '3']
