"""Evaluation metrics of docs/method.md §6, in NumPy (they run on the host after inference)."""

import numpy as np

from au_jax.geometry import landmarks as lm

FAILURE_THRESHOLD = 0.10


def au_scores(probs, labels, mask=None, threshold=0.5):
  """Per-AU F1 and accuracy at `threshold` over labelled frames (Tables 2–5).

  probs, labels, mask: (N, n_au); mask 1 = labelled (labels outside {0, 1} never count).
  Returns dict with 'f1', 'accuracy' (n_au,), their means 'f1_mean', 'accuracy_mean', and
  'count' (labelled frames per AU). An AU with no labelled frame gets NaN and is left out
  of the means; F1 is 0 when an AU has neither predicted nor true positives.
  """
  probs, labels = np.asarray(probs, np.float64), np.asarray(labels)
  valid = (labels == 0) | (labels == 1)
  if mask is not None:
    valid &= np.asarray(mask) > 0
  pred = probs >= threshold
  true = labels == 1
  tp = np.sum(pred & true & valid, axis=0)
  fp = np.sum(pred & ~true & valid, axis=0)
  fn = np.sum(~pred & true & valid, axis=0)
  count = np.sum(valid, axis=0)
  correct = np.sum((pred == true) & valid, axis=0)
  with np.errstate(invalid='ignore', divide='ignore'):
    denom = 2 * tp + fp + fn
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    accuracy = correct / count
  f1 = np.where(count > 0, f1, np.nan)
  return {'f1': f1, 'accuracy': accuracy, 'count': count,
          'f1_mean': float(np.nanmean(f1)) if np.any(count) else float('nan'),
          'accuracy_mean': float(np.nanmean(accuracy)) if np.any(count) else float('nan')}


def landmark_errors(pred, target):
  """Per-image mean point error over the inter-ocular distance of `target` (N,)."""
  pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
  per_point = np.linalg.norm(pred - target, axis=-1).mean(axis=-1)
  return per_point / np.maximum(lm.inter_ocular_distance(target), 1e-6)


def landmark_scores(pred, target):
  """Mean error and failure rate (error > 0.10), Table 6, as fractions."""
  errors = landmark_errors(pred, target)
  return {'mean_error': float(errors.mean()),
          'failure_rate': float(np.mean(errors > FAILURE_THRESHOLD))}
