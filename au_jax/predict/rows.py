"""The CSV of `au-jax predict`: its columns, in order, and the row of a face or a frame.

One place for the schema that docs/inference.md and `au-jax predict --help` describe
(and OpenFace's column names it follows), so that a face row and a face-less row always
have the header's width.
"""

import numpy as np


def header(au_ids):
  """The CSV's column names, in order, for a model of these AUs."""
  names = ['file', 'frame', 'timestamp', 'face', 'track', 'success', 'confidence',
           'face_x', 'face_y', 'face_w', 'face_h', 'pose_yaw', 'pose_pitch', 'pose_roll']
  names += [f'x_{i}' for i in range(68)] + [f'y_{i}' for i in range(68)]
  names += [f'model_x_{i}' for i in range(49)] + [f'model_y_{i}' for i in range(49)]
  names += [f'AU{a:02d}_prob' for a in au_ids] + [f'AU{a:02d}_c' for a in au_ids]
  return names


def _coords(values):
  return [f'{v:.2f}' for v in values]


def face_row(file, frame, timestamp, index, face, threshold, track=0, pose=None):
  """One face's CSV row; the model landmark columns stay empty without model landmarks,
  the pose columns without a pose (or where its fit failed)."""
  probs = np.asarray(face.au_probs, np.float64)
  model = (['', ''] * 49 if face.landmarks is None else
           _coords(face.landmarks[:, 0]) + _coords(face.landmarks[:, 1]))
  angles = ['' if a is None or not np.isfinite(a) else f'{a:.1f}'
            for a in (pose if pose is not None else (None,) * 3)]
  return ([file, frame, timestamp, index, track, 1, f'{face.score:.3f}']
          + _coords(face.box) + angles
          + _coords(face.landmarks68[:, 0]) + _coords(face.landmarks68[:, 1]) + model
          + [f'{p:.4f}' for p in probs] + [int(p >= threshold) for p in probs])


def empty_row(file, frame, timestamp, width):
  """The row of a frame without a face: success=0, every value column empty."""
  return [file, frame, timestamp, 0, '', 0] + [''] * (width - 6)
