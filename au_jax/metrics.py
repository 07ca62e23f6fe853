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
# A bootstrap sample of the test images is a count per image (drawn with replacement);
# the scores below take those counts as weights, so that one sort per AU serves every
# sample. With all counts 1 they are the scores above (scikit-learn's).

def _groups(scores):
  """The order that sorts `scores` ascending and where each run of equal scores starts."""
  order = np.argsort(scores, kind='stable')
  s = scores[order]
  return order, np.flatnonzero(np.r_[True, s[1:] != s[:-1]])


def _weighted_auc(scores, y, weights):
  """(samples,) ROC-AUC of `scores` for labels `y` under per-image `weights` (S, n);
  ties count one half, as in scikit-learn."""
  order, starts = _groups(scores)
  w = weights[:, order]
  pos = np.add.reduceat(w * y[order], starts, axis=1)
  neg = np.add.reduceat(w * (1 - y[order]), starts, axis=1)
  below = np.cumsum(neg, axis=1) - neg
  with np.errstate(invalid='ignore', divide='ignore'):
    return (pos * (below + 0.5 * neg)).sum(1) / (pos.sum(1) * neg.sum(1))


def _weighted_ap(scores, y, weights):
  """(samples,) average precision (scikit-learn's sum over thresholds of the recall
  step times the precision) under per-image `weights` (S, n)."""
  order, starts = _groups(-scores)  # descending scores
  w = weights[:, order]
  pos = np.add.reduceat(w * y[order], starts, axis=1)
  tp = np.cumsum(pos, axis=1)
  seen = np.cumsum(np.add.reduceat(w, starts, axis=1), axis=1)
  with np.errstate(invalid='ignore', divide='ignore'):
    return (pos * tp / seen).sum(1) / tp[:, -1]


def _weighted_f1(scores, y, weights, threshold):
  pred = scores >= threshold
  tp = weights @ (pred & (y == 1)).astype(weights.dtype)
  wrong = weights @ (pred != (y == 1)).astype(weights.dtype)
  denom = 2 * tp + wrong
  return np.where(denom > 0, 2 * tp / np.maximum(denom, 1e-12), 0.0)


def weighted_scores(probs, labels, mask, weights, metric='auc', thresholds=None):
  """(samples,) mean over AUs of `metric` ('auc', 'ap', 'f1' at 0.5, 'f1_tuned' at
  `thresholds`) with per-image `weights` (S, n); an AU with one class in a sample is
  left out of that sample's mean (NaN when no AU has both)."""
  probs = np.asarray(probs, np.float64)
  weights = np.asarray(weights)
  if weights.dtype != np.float32:  # float32 counts are exact and 4x faster to sum
    weights = weights.astype(np.float64)
  per_au = []
  for j in range(probs.shape[1]):
    keep, y = _labelled(labels, mask, j)
    y = y.astype(weights.dtype)
    p, w = probs[keep, j], weights[:, keep]
    if metric == 'auc':
      v = _weighted_auc(p, y, w)
    elif metric == 'ap':
      v = _weighted_ap(p, y, w)
    elif metric in ('f1', 'f1_tuned'):
      t = 0.5 if metric == 'f1' or thresholds is None else float(thresholds[j])
      v = _weighted_f1(p, y, w, t)
      v = np.where(w.sum(1) > 0, v, np.nan)
    else:
      raise ValueError(f'unknown metric {metric!r}; choose from {METRICS}')
    per_au.append(v)
  per_au = np.stack(per_au, 1)
  with np.errstate(invalid='ignore'):
    ok = np.isfinite(per_au)
    return np.where(ok.any(1), np.nansum(np.where(ok, per_au, 0), 1)
                    / np.maximum(ok.sum(1), 1), np.nan)


METRICS = ('auc', 'ap', 'f1', 'f1_tuned')


def bootstrap_weights(n, samples=1000, seed=0):
  """(samples, n) counts (float32): how often each of n images is drawn in each
  resampling with replacement."""
  rng = np.random.default_rng(seed)
  return np.stack([np.bincount(row, minlength=n) for row in
                   rng.integers(0, n, (samples, n))]).astype(np.float32)


def paired_bootstrap(probs_a, probs_b, labels, mask=None, metric='auc', samples=1000,
                     seed=0, thresholds_a=None, thresholds_b=None):
  """The difference metric(A) - metric(B) (mean over AUs, as fractions) on the same test
  images, and its bootstrap distribution: `samples` resamplings of the images with
  replacement, the same images for both models (a paired bootstrap).
  Returns (difference, (samples,) differences)."""
  probs_a, probs_b, labels = np.asarray(probs_a), np.asarray(probs_b), np.asarray(labels)
  if probs_a.shape != probs_b.shape or probs_a.shape != labels.shape:
    raise ValueError(f'a paired bootstrap needs the same images: shapes {probs_a.shape}, '
                     f'{probs_b.shape}, labels {labels.shape}')
  mask = np.ones_like(labels) if mask is None else np.asarray(mask)
  ones = np.ones((1, len(labels)))
  weights = bootstrap_weights(len(labels), samples, seed)
  score = lambda p, t, w: weighted_scores(p, labels, mask, w, metric, t)
  diff = score(probs_a, thresholds_a, ones) - score(probs_b, thresholds_b, ones)
  return float(diff[0]), score(probs_a, thresholds_a, weights) - score(
      probs_b, thresholds_b, weights)


def percentile_interval(samples, level=0.95):
  """(low, high) of a bootstrap distribution (its NaNs dropped)."""
  samples = np.asarray(samples, np.float64)
  samples = samples[np.isfinite(samples)]
  if not len(samples):
    return float('nan'), float('nan')
  tail = 100 * (1 - level) / 2
  low, high = np.percentile(samples, [tail, 100 - tail])
  return float(low), float(high)


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
