"""Landmark conventions shared by the models, the losses and the data pipelines
(docs/method.md §3.2, §5).

All indices here are 0-based; the 1-based lists of docs/method.md §5 are converted once, below.
"""

import numpy as np

NUM_LANDMARKS = 49

# 68 -> 49: drop the contour (1-17) and the inner-mouth corners 61 and 65 (1-based).
_DROP_68 = set(range(0, 17)) | {60, 64}
INDICES_68_TO_49 = np.array([i for i in range(68) if i not in _DROP_68])
# 66 -> 49 (DISFA): drop the contour (1-17) only.
INDICES_66_TO_49 = np.arange(17, 66)

# Horizontal flip reorders the 49 points (docs/method.md §5, 1-based reflect list).
_REFLECT_49_ONE_BASED = (
    10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 11, 12, 13, 14, 19, 18, 17, 16, 15, 29, 28, 27, 26, 31,
    30, 23, 22, 21, 20, 25, 24, 38, 37, 36, 35, 34, 33, 32, 43, 42, 41, 40, 39, 46, 45, 44,
    49, 48, 47)
REFLECT_49 = np.array(_REFLECT_49_ONE_BASED) - 1

# Eye centres: means of 49-point landmarks 20-25 and 26-31 (1-based), as in JAA-Net.
LEFT_EYE = np.arange(19, 25)
RIGHT_EYE = np.arange(25, 31)

# The 49 points by face part (0-based): what `loss.target_landmark_groups` names.
GROUPS_49 = {'brows': np.arange(0, 10), 'nose': np.arange(10, 19),
             'eyes': np.arange(19, 31), 'mouth': np.arange(31, 49)}


def group_weights(groups):
  """(49,) float32: 1 on the points of the named GROUPS_49 entries, 0 elsewhere."""
  unknown = set(groups) - set(GROUPS_49)
  if unknown:
    raise ValueError(f'unknown landmark groups {sorted(unknown)}; the groups are '
                     f'{", ".join(GROUPS_49)}')
  weights = np.zeros(NUM_LANDMARKS, np.float32)
  for g in groups:
    weights[GROUPS_49[g]] = 1.0
  return weights


def to_49(landmarks):
  """Converts (..., N, 2) landmarks with N in {68, 66, 49} to the 49 inner points."""
  landmarks = np.asarray(landmarks)
  n = landmarks.shape[-2]
  if n == 49:
    return landmarks
  if n == 68:
    return landmarks[..., INDICES_68_TO_49, :]
  if n == 66:
    return landmarks[..., INDICES_66_TO_49, :]
  raise ValueError(f'expected 68, 66 or 49 landmarks, got {n}')


# Where the 49 points start in the 68- and 66-point schemes (INDICES_*_TO_49).
_FIRST_OF_49 = {NUM_LANDMARKS: 0, 68: int(INDICES_68_TO_49[0]), 66: int(INDICES_66_TO_49[0])}


def eye_centres(landmarks, xp=np):
  """Left and right eye centres of (..., N, 2) landmarks, N in {49, 66, 68} (the same
  points in each scheme); `xp` is numpy or jax.numpy."""
  n = landmarks.shape[-2]
  if n not in _FIRST_OF_49:
    raise ValueError(f'expected 68, 66 or 49 landmarks, got {n}')
  first = _FIRST_OF_49[n]
  left = xp.mean(landmarks[..., LEFT_EYE + first, :], axis=-2)
  right = xp.mean(landmarks[..., RIGHT_EYE + first, :], axis=-2)
  return left, right


def inter_ocular_distance(landmarks, xp=np):
  """Distance between the eye centres of (..., N, 2) landmarks, N in {49, 66, 68}: the
  one normaliser of Eq. 1, of the NME (docs/method.md §6), of face tracks and head pose."""
  left, right = eye_centres(landmarks, xp)
  return xp.sqrt(xp.sum((left - right) ** 2, axis=-1))


def flip_horizontal(landmarks, width, xp=np):
  """Mirrors (..., 49, 2) landmarks of an image `width` pixels wide and reorders them.

  Pixel-centre convention: column j maps to width - 1 - j, as cv2.flip does.
  """
  flipped = landmarks[..., REFLECT_49, :]
  x = (width - 1) - flipped[..., 0]
  return xp.stack([x, flipped[..., 1]], axis=-1)


def refine_au_centres(landmarks, xp=np):
  """Moves 12 of the 49 points to AU centres, as ADLD does before building heat maps.

  ruler = |x_22 - x_25| (0-based, the inner eye corners); then y_4, y_5 -= ruler/2;
  y_1, y_8 -= ruler/3; y_2, y_7 += ruler/3; y_24, y_29 += ruler; y_15, y_17 -= ruler/2;
  y_39, y_41 += ruler/2 (docs/method.md §3, Eq. 2 notes).
  """
  ruler = xp.abs(landmarks[..., 22, 0] - landmarks[..., 25, 0])
  moves = ((4, -0.5), (5, -0.5), (1, -1 / 3), (8, -1 / 3), (2, 1 / 3), (7, 1 / 3),
           (24, 1.0), (29, 1.0), (15, -0.5), (17, -0.5), (39, 0.5), (41, 0.5))
  index = np.array([i for i, _ in moves])
  factor = np.zeros(landmarks.shape[-2], dtype=np.float32)
  factor[index] = [f for _, f in moves]
  shift = ruler[..., None] * xp.asarray(factor)
  y = landmarks[..., 1] + shift
  return xp.stack([landmarks[..., 0], y], axis=-1)


def heatmap_cells(landmarks, crop_size, map_size, refine=True, xp=np):
  """Eq. 2, fixed (docs/method.md §3.2): the flat cell index row·d + col of each landmark.

  col = round(x·d/l), row = round(y·d/l), clipped to [0, d−1], from (..., n, 2)
  landmarks in crop pixels after crop and flip; with `refine` 12 points first move to
  AU centres. Integer array (..., n); `xp` is numpy or jax.numpy.
  """
  if refine:
    landmarks = refine_au_centres(landmarks, xp=xp)
  cell = xp.clip(xp.round(landmarks * (map_size / crop_size)), 0, map_size - 1)
  cell = cell.astype(xp.int32)
  return cell[..., 1] * map_size + cell[..., 0]
