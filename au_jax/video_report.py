"""`au-jax predict --plot DIR`: one picture per video and a summary of all videos.

For each video, `DIR/<video name>.png` draws each track's AU probabilities over time, one
lane per AU, with the threshold as a dashed line and the frames without a face shaded.
`DIR/SUMMARY.csv` has one row per video and track: the frames it was seen in and, per
AU, the mean probability and the share of those frames at or above the threshold (a
video without any face gets one row with an empty track and 0 frames).

`--smooth SECONDS` averages each track's probabilities over a centred window of that
length (the frames of the track within +-SECONDS/2) before drawing and summarising; the
CSV of predictions stays frame by frame.
"""

import csv
import os

import numpy as np

from au_jax import overlays

SUMMARY = 'SUMMARY.csv'


class Series:
  """The AU probabilities of one video's tracks over its frames."""

  def __init__(self, file, fps, frame_step=1):
    self.file, self.fps, self.frame_step = file, fps, frame_step
    self.frames = []        # frame indices processed
    self.without_face = []  # frame indices without a face
    self.tracks = {}        # id -> ([frame indices], [probability arrays])

  def add(self, frame, faces):
    """faces: [(track id, (n_au,) probabilities)] of one frame."""
    self.frames.append(frame)
    if not faces:
      self.without_face.append(frame)
    for track, probs in faces:
      indices, values = self.tracks.setdefault(track, ([], []))
      indices.append(frame)
      values.append(np.asarray(probs, np.float64))

  def time(self, frames):
    """Seconds of frame indices (frame indices if the video has no frame rate)."""
    frames = np.asarray(frames, np.float64)
    return frames / self.fps if self.fps and self.fps > 0 else frames

  @property
  def unit(self):
    return 'seconds' if self.fps and self.fps > 0 else 'frame'

  def track(self, track, smooth=0.0):
    """(frame indices, (n, n_au) probabilities) of one track, smoothed over `smooth`
    seconds if > 0."""
    indices, values = self.tracks[track]
    values = np.stack(values)
    if smooth > 0:
      values = moving_average(self.time(indices), values, smooth)
    return np.asarray(indices), values


def moving_average(times, values, window):
  """Centred moving average: each row the mean of the rows within +-window/2 of its time
  (times sorted ascending)."""
  times = np.asarray(times, np.float64)
  start = np.searchsorted(times, times - window / 2, side='left')
  stop = np.searchsorted(times, times + window / 2, side='right')
  total = np.concatenate([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
  return (total[stop] - total[start]) / (stop - start)[:, None]


def summary_header(au_ids):
  return (['file', 'track', 'frames', 'first_frame', 'last_frame', 'video_frames']
          + [f'AU{a:02d}_mean' for a in au_ids] + [f'AU{a:02d}_present' for a in au_ids])


def summary_rows(series, au_ids, threshold=0.5, smooth=0.0):
  """SUMMARY.csv rows of one video: one per track, or one empty-track row."""
  total = len(series.frames)
  if not series.tracks:
    return [[series.file, '', 0, '', '', total] + [''] * (2 * len(au_ids))]
  rows = []
  for track in sorted(series.tracks):
    indices, values = series.track(track, smooth)
    mean = values.mean(0)
    present = (values >= threshold).mean(0)
    rows.append([series.file, track, len(indices), int(indices[0]), int(indices[-1]), total]
                + [f'{m:.4f}' for m in mean] + [f'{p:.4f}' for p in present])
  return rows


def write_summary(path, au_ids, rows):
  with open(path, 'w', newline='', encoding='utf-8') as f:
    writer = csv.writer(f)
    writer.writerow(summary_header(au_ids))
    writer.writerows(rows)


def _runs(frames, step):
  """[(first, last)] of consecutive runs (by `step`) in sorted frame indices."""
  runs = []
  for f in frames:
    if runs and f - runs[-1][1] <= step:
      runs[-1][1] = f
    else:
      runs.append([f, f])
  return runs


def track_colour(track):
  """The track's colour in the overlays, as matplotlib's RGB in [0, 1]."""
  return tuple(c / 255 for c in overlays.PALETTE[track % len(overlays.PALETTE)])


def plot(series, path, au_ids, threshold=0.5, smooth=0.0, max_legend=12):
  """Writes the video's picture (PNG) to `path`."""
  # The figure API without pyplot: no global backend, safe in threads and notebooks.
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  lanes = len(au_ids)
  figure = Figure(figsize=(10, 0.75 * lanes + 1.5), dpi=100)
  FigureCanvasAgg(figure)
  axes = figure.subplots(lanes, 1, sharex=True, squeeze=False)[:, 0]
  half = 0.5 * series.frame_step
  gaps = [(series.time(a - half), series.time(b + half))
          for a, b in _runs(series.without_face, series.frame_step)]
  end = series.time(max(series.frames) + half) if series.frames else 1.0
  start = series.time(min(series.frames) - half) if series.frames else 0.0
  for lane, (ax, au) in enumerate(zip(axes, au_ids)):
    for a, b in gaps:
      ax.axvspan(a, b, color='0.85', lw=0, label='no face' if lane == 0 and a == gaps[0][0]
                 else None)
    for track in sorted(series.tracks):
      indices, values = series.track(track, smooth)
      # Break the line where the track was not seen.
      breaks = np.flatnonzero(np.diff(indices) > series.frame_step) + 1
      t = np.insert(series.time(indices), breaks, np.nan)
      v = np.insert(values[:, lane], breaks, np.nan)
      ax.plot(t, v, color=track_colour(track), lw=1.2,
              marker='.' if len(indices) < 30 else None, ms=3,
              label=f'track {track} ({len(indices)} frames)'
              if lane == 0 and track in sorted(series.tracks)[:max_legend] else None)
    ax.axhline(threshold, color='0.3', lw=0.8, ls='--')
    ax.set_ylim(-0.03, 1.03)
    ax.set_yticks([0, threshold, 1] if threshold not in (0, 1) else [0, 1])
    ax.set_ylabel(f'AU{au:02d}', rotation=0, ha='right', va='center')
    ax.set_xlim(start, end)
    ax.tick_params(labelsize=7)
  axes[-1].set_xlabel(series.unit)
  title = (f'{os.path.basename(series.file)}: {len(series.frames)} frames, '
           f'{len(series.tracks)} track(s), {len(series.without_face)} without a face; '
           f'dashed: threshold {threshold:g}')
  if smooth > 0:
    title += f'; smoothed over {smooth:g} s'
  axes[0].set_title(title, fontsize=9)
  handles, labels = axes[0].get_legend_handles_labels()
  if handles:
    figure.legend(handles, labels, loc='upper center', ncol=min(4, len(handles)),
                  fontsize=8, frameon=False, bbox_to_anchor=(0.5, 1.0))
  figure.tight_layout(rect=(0, 0, 1, 1 - 0.35 / figure.get_figheight()))
  figure.savefig(path, format='png')
  return path
