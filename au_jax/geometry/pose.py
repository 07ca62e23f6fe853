"""Head pose (yaw, pitch, roll in degrees) from the 68 landmarks: OpenCV's solvePnP on a
generic 3-D face.

The camera is unknown, so it is taken as a pinhole with focal length max(H, W) pixels and
its centre in the image centre, the usual assumption without calibration. The fit uses
the points that expressions hardly move: the four eye corners and the nine nose points
(`RIGID`); brows, lids, lips and jaw move with AUs and would bias the angles.

Angles, seen from the camera (x right, y down in the image):
- yaw > 0: the face turns towards the image's right (the person turns to their left);
- pitch > 0: the face turns up;
- roll > 0: the head tilts clockwise in the image.
They compose as R = Rz(roll) Rx(-pitch) Ry(-yaw) in camera axes (yaw first), and a
frontal face gives (0, 0, 0). A generic face and an unknown focal length make them
approximate: expect a few degrees of bias on a given person, and use changes over time
rather than absolute values for small angles.
"""

import cv2
import numpy as np

from au_jax.geometry import landmarks as lm

# The generic face, in inter-ocular distances (eye centres at x = -0.5 and +0.5, y = 0):
# x to the image right, y down, z away from the camera (the nose tip at 0). x and y are
# dlib's 68 points on scikit-image's astronaut() made symmetric (SynthAU's mean shape,
# data_pipelines/synthau/shape.py, agrees within 0.05 on the eyes and nose); z follows
# the usual generic-head proportions (eye corners 0.43 and mouth corners 0.40 behind the
# nose tip, the chin 0.21, the jaw's ends 1.2).
MODEL_68 = np.array([
    (-1.06, +0.07, 1.20), (-1.04, +0.35, 1.12), (-1.01, +0.61, 1.00), (-0.96, +0.89, 0.85),
    (-0.86, +1.14, 0.68), (-0.71, +1.36, 0.50), (-0.49, +1.54, 0.35), (-0.26, +1.69, 0.25),
    (+0.00, +1.72, 0.21), (+0.26, +1.69, 0.25), (+0.49, +1.54, 0.35), (+0.71, +1.36, 0.50),
    (+0.86, +1.14, 0.68), (+0.96, +0.89, 0.85), (+1.01, +0.61, 1.00), (+1.04, +0.35, 1.12),
    (+1.06, +0.07, 1.20), (-0.90, -0.15, 0.50), (-0.78, -0.29, 0.40), (-0.60, -0.32, 0.34),
    (-0.41, -0.29, 0.31), (-0.23, -0.24, 0.30), (+0.23, -0.24, 0.30), (+0.41, -0.29, 0.31),
    (+0.60, -0.32, 0.34), (+0.78, -0.29, 0.40), (+0.90, -0.15, 0.50), (+0.00, +0.01, 0.30),
    (+0.00, +0.19, 0.21), (+0.00, +0.37, 0.12), (+0.00, +0.55, 0.00), (-0.23, +0.66, 0.27),
    (-0.11, +0.68, 0.18), (+0.00, +0.71, 0.15), (+0.11, +0.68, 0.18), (+0.23, +0.66, 0.27),
    (-0.69, -0.01, 0.43), (-0.57, -0.07, 0.37), (-0.42, -0.07, 0.35), (-0.30, +0.04, 0.33),
    (-0.43, +0.05, 0.35), (-0.58, +0.06, 0.37), (+0.30, +0.04, 0.33), (+0.42, -0.07, 0.35),
    (+0.57, -0.07, 0.37), (+0.69, -0.01, 0.43), (+0.58, +0.06, 0.37), (+0.43, +0.05, 0.35),
    (-0.50, +0.86, 0.40), (-0.32, +0.84, 0.30), (-0.13, +0.84, 0.24), (+0.00, +0.88, 0.22),
    (+0.13, +0.84, 0.24), (+0.32, +0.84, 0.30), (+0.50, +0.86, 0.40), (+0.33, +1.09, 0.32),
    (+0.15, +1.20, 0.26), (+0.00, +1.22, 0.24), (-0.15, +1.20, 0.26), (-0.33, +1.09, 0.32),
    (-0.45, +0.89, 0.38), (-0.14, +0.92, 0.27), (+0.00, +0.94, 0.25), (+0.14, +0.92, 0.27),
    (+0.45, +0.89, 0.38), (+0.14, +1.08, 0.27), (+0.00, +1.08, 0.26), (-0.14, +1.08, 0.27),
])
# Eye corners and the nose: the points expressions hardly move.
RIGID = (36, 39, 42, 45, 27, 28, 29, 30, 31, 32, 33, 34, 35)
# The index of each point's mirror image (left <-> right) in the 68-point scheme.
MIRROR = (list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30]
          + [35, 34, 33, 32, 31] + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
          + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65])


def camera_matrix(height, width):
  """The assumed pinhole camera of an image: focal max(H, W), centre in the middle."""
  f = float(max(height, width))
  return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]])


def _axis(axis, degrees):
  c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
  if axis == 'x':
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
  if axis == 'y':
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
  return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def rotation(yaw, pitch, roll):
  """The rotation (3, 3) of a head at these angles (degrees; conventions above)."""
  return _axis('z', roll) @ _axis('x', -pitch) @ _axis('y', -yaw)


def angles(matrix):
  """(yaw, pitch, roll) in degrees of a rotation matrix: the inverse of `rotation`."""
  r = np.asarray(matrix, np.float64)
  pitch = -np.degrees(np.arcsin(np.clip(r[2, 1], -1.0, 1.0)))
  yaw = -np.degrees(np.arctan2(-r[2, 0], r[2, 2]))
  roll = np.degrees(np.arctan2(-r[0, 1], r[1, 1]))
  return float(yaw), float(pitch), float(roll)


def project(yaw, pitch, roll, centre, eye_distance, height, width, model=MODEL_68,
            distance=None):
  """(68, 2) image points of the generic face (or `model`) turned by the angles, its eye
  midpoint at `centre` (x, y) pixels and `eye_distance` pixels apart when frontal."""
  camera = camera_matrix(height, width)
  f = camera[0, 0]
  z = distance if distance is not None else f / eye_distance  # in inter-ocular units
  t = np.array([(centre[0] - camera[0, 2]) * z / f, (centre[1] - camera[1, 2]) * z / f, z])
  rvec, _ = cv2.Rodrigues(rotation(yaw, pitch, roll))
  points, _ = cv2.projectPoints(np.asarray(model, np.float64), rvec, t, camera, None)
  return points.reshape(-1, 2)


def head_pose(landmarks68, height, width):
  """(yaw, pitch, roll) in degrees of a face's (68, 2) landmarks in an image of this size;
  NaNs when the fit fails (non-finite or degenerate points)."""
  points = np.asarray(landmarks68, np.float64)
  nan = (float('nan'),) * 3
  if points.shape != (68, 2) or not np.all(np.isfinite(points)):
    return nan
  image = points[list(RIGID)]
  model = MODEL_68[list(RIGID)]
  camera = camera_matrix(height, width)
  left, right = lm.eye_centres(points)
  eyes = lm.inter_ocular_distance(points)
  if eyes < 1e-3:
    return nan
  # Start from a frontal face at the distance its eye spacing implies: the iterative
  # solver then converges to the near-frontal solution, not a mirrored one.
  z = camera[0, 0] / eyes
  middle = (left + right) / 2
  tvec = np.array([(middle[0] - camera[0, 2]) * z / camera[0, 0],
                   (middle[1] - camera[1, 2]) * z / camera[0, 0], z]).reshape(3, 1)
  rvec = np.zeros((3, 1))
  ok, rvec, tvec = cv2.solvePnP(model, image, camera, None, rvec, tvec,
                                useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
  if not ok or not np.all(np.isfinite(rvec)) or tvec[2, 0] <= 0:
    return nan
  return angles(cv2.Rodrigues(rvec)[0])
