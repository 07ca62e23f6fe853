"""Overlays for `au-jax predict`: each face's box and landmarks on the image, and its AU
probabilities as a bar chart on a panel to the right.

Drawn with OpenCV rather than matplotlib so that videos can get an overlay per frame at
a small fraction of the network's cost. `draw` returns an RGB array, which a notebook can
show with `plt.imshow`.
"""

import cv2
import numpy as np

PANEL_WIDTH = 260
# One colour per face (RGB), cycled.
PALETTE = ((230, 80, 60), (60, 160, 230), (250, 190, 40), (150, 90, 220), (60, 200, 120))
DETECTOR_COLOUR = (80, 255, 80)   # the 68 detector points
FONT = cv2.FONT_HERSHEY_SIMPLEX


def display_scale(height, width, min_height=360, max_height=960, max_width=1600):
  """The resize factor of an overlay: small images grow so the text stays readable, large
  ones shrink. Depends only on the size, so a video's frames all get one size."""
  s = min(max(height, min_height), max_height) / height
  return min(s, max_width / width)


def draw(image, faces, au_ids, threshold=0.5, original_size=None, tracks=None):
  """RGB uint8 overlay of `faces` (objects with box, landmarks68, landmarks, au_probs in
  the original image's pixels, as `au_jax.faces.Face`) on `image` (H, W, 3) RGB.

  original_size: (H, W) of the original when `image` is already a display-size copy
  (what `au-jax predict` keeps while frames wait for the network).
  tracks: a track id per face (videos): faces are then labelled and coloured by track,
  so a person keeps a colour, else by their index.
  """
  if original_size is None:
    height, width = image.shape[:2]
    s = display_scale(height, width)
    size = (max(1, round(width * s)), max(1, round(height * s)))
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if s < 1 else
                       cv2.INTER_LINEAR)
  else:
    s = image.shape[1] / original_size[1]
  shown = np.array(image, np.uint8)  # a copy to draw on
  to_shown = lambda p: (np.asarray(p, np.float64) + 0.5) * s - 0.5
  labels = list(range(len(faces))) if tracks is None else list(tracks)
  for i, face in zip(labels, faces):
    colour = PALETTE[i % len(PALETTE)]
    x, y, w, h = face.box
    (x0, y0), (x1, y1) = to_shown([[x, y], [x + w, y + h]])
    cv2.rectangle(shown, (round(x0), round(y0)), (round(x1), round(y1)), colour, 2)
    cv2.putText(shown, str(i), (round(x0) + 3, round(y0) + 16), FONT, 0.5, colour, 1,
                cv2.LINE_AA)
    for points, c in ((face.landmarks68, DETECTOR_COLOUR), (face.landmarks, colour)):
      if points is None:
        continue
      for px, py in to_shown(points):
        cv2.circle(shown, (round(px), round(py)), 2, c, -1, cv2.LINE_AA)
  panel = au_panel(shown.shape[0], faces, au_ids, threshold, tracks)
  return np.concatenate([shown, panel], axis=1)


def au_panel(height, faces, au_ids, threshold=0.5, tracks=None):
  """A dark panel with one horizontal bar chart of AU probabilities per face ('face i',
  or 'track t' when `tracks` are given)."""
  panel = np.full((height, PANEL_WIDTH, 3), 32, np.uint8)
  if not faces:
    cv2.putText(panel, 'no face', (12, 28), FONT, 0.6, (220, 220, 220), 1, cv2.LINE_AA)
    return panel
  rows_per_face = len(au_ids) + 1.5
  row = int(np.clip((height - 8) / (rows_per_face * len(faces)), 9, 22))
  font = row / 40
  label_w, bar_w = 52, PANEL_WIDTH - 52 - 46
  y = 4
  for i, face in enumerate(faces):
    if y + row * rows_per_face > height:
      cv2.putText(panel, f'+{len(faces) - i} more', (8, height - 6), FONT, font,
                  (220, 220, 220), 1, cv2.LINE_AA)
      break
    label = i if tracks is None else tracks[i]
    colour = PALETTE[label % len(PALETTE)]
    cv2.putText(panel, f'face {i}' if tracks is None else f'track {label}',
                (8, y + row - 4), FONT, font * 1.1, colour, 1, cv2.LINE_AA)
    y += row
    probs = face.au_probs if face.au_probs is not None else np.full(len(au_ids), np.nan)
    for au, p in zip(au_ids, probs):
      cv2.putText(panel, f'AU{au:02d}', (8, y + row - 4), FONT, font, (220, 220, 220), 1,
                  cv2.LINE_AA)
      top, bottom = y + 2, y + row - 2
      cv2.rectangle(panel, (label_w, top), (label_w + bar_w, bottom), (70, 70, 70), -1)
      if np.isfinite(p):
        end = label_w + round(bar_w * float(np.clip(p, 0, 1)))
        fill = colour if p >= threshold else tuple(c // 2 for c in colour)
        cv2.rectangle(panel, (label_w, top), (end, bottom), fill, -1)
        cv2.putText(panel, f'{p:.2f}', (label_w + bar_w + 4, y + row - 4), FONT, font,
                    (220, 220, 220), 1, cv2.LINE_AA)
      tick = label_w + round(bar_w * threshold)
      cv2.line(panel, (tick, top - 1), (tick, bottom + 1), (200, 200, 200), 1)
      y += row
    y += row // 2
  return panel


def save_png(path, overlay):
  """Writes an RGB overlay as PNG; False if OpenCV could not write it."""
  return cv2.imwrite(path, cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))


class VideoOverlay:
  """Writes overlay frames of one video to an .mp4 (mp4v), or MJPG .avi if the OpenCV
  build cannot write mp4; opened on the first frame, which fixes the size."""

  def __init__(self, stem, fps):
    self.stem, self.fps = stem, fps if fps and fps > 0 else 25.0
    self.writer, self.path = None, None

  def write(self, overlay):
    if self.writer is None:
      size = (overlay.shape[1], overlay.shape[0])
      for ext, codec in (('.mp4', 'mp4v'), ('.avi', 'MJPG')):
        writer = cv2.VideoWriter(self.stem + ext, cv2.VideoWriter_fourcc(*codec),
                                 self.fps, size)
        if writer.isOpened():
          self.writer, self.path = writer, self.stem + ext
          break
      else:
        raise OSError(f'OpenCV cannot write a video at {self.stem}.mp4 or .avi')
    self.writer.write(cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))

  def close(self):
    if self.writer is not None:
      self.writer.release()
