"""Evaluation metrics of docs/method.md §6, in NumPy (they run on the host after inference).

Beside the paper's F1 and accuracy at 0.5: F1 at per-AU thresholds chosen on a
validation split, ROC-AUC and average precision (scikit-learn), which do not depend on
where 0.5 falls, and the paired bootstrap over test images that `au-jax compare` puts
its confidence intervals on.
"""

import numpy as np
from sklearn import metrics as skm

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


def _labelled(labels, mask, j):
  labels = np.asarray(labels)
  keep = (labels[:, j] == 0) | (labels[:, j] == 1)
  if mask is not None:
    keep &= np.asarray(mask)[:, j] > 0
  return keep, labels[keep, j]


def _per_au(score, probs, labels, mask):
  """Per-AU `score(y, p)` over labelled frames; NaN where an AU has one class only."""
  probs = np.asarray(probs, np.float64)
  out = []
  for j in range(probs.shape[1]):
    keep, y = _labelled(labels, mask, j)
    out.append(float(score(y, probs[keep, j])) if len(np.unique(y)) == 2
               else float('nan'))
  return np.array(out)


def roc_auc(probs, labels, mask=None):
  """Per-AU ROC-AUC over labelled frames (NaN when an AU has one class only)."""
  return _per_au(skm.roc_auc_score, probs, labels, mask)


def average_precision(probs, labels, mask=None):
  """Per-AU average precision (area under the precision-recall curve, scikit-learn's
  step-wise sum) over labelled frames (NaN when an AU has one class only)."""
  return _per_au(skm.average_precision_score, probs, labels, mask)


def best_thresholds(probs, labels, mask=None):
  """Per-AU threshold with the highest F1 on these (validation) frames; 0.5 if undefined."""
  probs = np.asarray(probs, np.float64)
  out = []
  for j in range(probs.shape[1]):
    keep, y = _labelled(labels, mask, j)
    if y.sum() == 0:
      out.append(0.5)
      continue
    precision, recall, thresholds = skm.precision_recall_curve(y, probs[keep, j])
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    out.append(float(thresholds[np.argmax(f1[:-1])]))
  return np.array(out)


def f1_at(probs, labels, mask, thresholds):
  """Per-AU F1 with a per-AU threshold (probabilities >= threshold are 'present')."""
  shifted = np.asarray(probs, np.float64) - np.asarray(thresholds)[None] + 0.5
  return au_scores(shifted, labels, mask)['f1']


def _nanmean(v):
  v = np.asarray(v, np.float64)
  return float(np.nanmean(v)) if np.any(np.isfinite(v)) else float('nan')


def ranking_scores(probs, labels, mask=None, thresholds=None):
  """{'auc', 'ap' (per AU), 'auc_mean', 'ap_mean'} and, given validation `thresholds`,
  {'thresholds', 'f1_tuned', 'f1_tuned_mean'}: the scores beside F1 at 0.5."""
  auc = roc_auc(probs, labels, mask)
  ap = average_precision(probs, labels, mask)
  out = {'auc': auc, 'auc_mean': _nanmean(auc), 'ap': ap, 'ap_mean': _nanmean(ap)}
  if thresholds is not None:
    tuned = f1_at(probs, labels, mask, thresholds)
    out.update({'thresholds': np.asarray(thresholds, np.float64), 'f1_tuned': tuned,
                'f1_tuned_mean': _nanmean(tuned)})
  return out


# -- how sure a difference is ------------------------------------------------------------

METRICS = {  # name -> mean over AUs of (probs, labels, mask, thresholds)
    'auc': lambda p, y, m, t: _nanmean(roc_auc(p, y, m)),
    'ap': lambda p, y, m, t: _nanmean(average_precision(p, y, m)),
    'f1': lambda p, y, m, t: _nanmean(au_scores(p, y, m)['f1']),
    'f1_tuned': lambda p, y, m, t: _nanmean(f1_at(p, y, m, 0.5 if t is None else t)),
}


def paired_bootstrap(probs_a, probs_b, labels, mask=None, metric='auc', samples=1000,
                     seed=0, thresholds_a=None, thresholds_b=None):
  """The difference metric(A) - metric(B) (mean over AUs) on the same test images, and
  its bootstrap distribution: `samples` resamplings of the images with replacement, the
  same images for both models (a paired bootstrap). Returns (difference, (samples,))."""
  score = METRICS[metric]
  probs_a, probs_b = np.asarray(probs_a), np.asarray(probs_b)
  labels = np.asarray(labels)
  mask = np.ones_like(labels) if mask is None else np.asarray(mask)
  if probs_a.shape != probs_b.shape or probs_a.shape != labels.shape:
    raise ValueError(f'paired bootstrap needs the same images: shapes {probs_a.shape}, '
                     f'{probs_b.shape}, labels {labels.shape}')
  diff = (score(probs_a, labels, mask, thresholds_a)
          - score(probs_b, labels, mask, thresholds_b))
  rng = np.random.default_rng(seed)
  n = len(labels)
  out = np.empty(samples)
  for i in range(samples):
    index = rng.integers(0, n, n)
    out[i] = (score(probs_a[index], labels[index], mask[index], thresholds_a)
              - score(probs_b[index], labels[index], mask[index], thresholds_b))
  return float(diff), out


def t_interval(values, level=0.95):
  """(mean, low, high): Student's t interval for the mean of `values` (e.g. per-seed
  differences); low = high = NaN with fewer than two values."""
  from scipy import stats  # pylint: disable=g-import-not-at-top
  values = np.asarray(values, np.float64)
  mean = float(values.mean()) if len(values) else float('nan')
  if len(values) < 2:
    return mean, float('nan'), float('nan')
  half = float(stats.t.ppf(0.5 + level / 2, len(values) - 1)
               * values.std(ddof=1) / np.sqrt(len(values)))
  return mean, mean - half, mean + half
