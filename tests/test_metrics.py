"""au_jax.metrics: the threshold-free scores and the paired bootstrap behind compare's
intervals, against scikit-learn and SciPy."""

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from au_jax import metrics


def _data(n=300, aus=3, seed=0):
  rng = np.random.default_rng(seed)
  labels = (rng.random((n, aus)) < [0.2, 0.5, 0.05][:aus]).astype(np.int64)
  # Rounded, so that there are ties; AU j is better separated for larger j.
  probs = np.round(np.clip(0.5 + (labels - 0.5) * np.arange(1, aus + 1) * 0.2
                           + rng.normal(0, 0.3, (n, aus)), 0, 1), 2)
  mask = (rng.random((n, aus)) > 0.1).astype(np.float32)
  return probs, labels, mask


def test_auc_and_ap_are_scikit_learns_over_labelled_frames():
  probs, labels, mask = _data()
  auc, ap = metrics.roc_auc(probs, labels, mask), metrics.average_precision(probs, labels, mask)
  for j in range(3):
    keep = mask[:, j] > 0
    assert auc[j] == pytest.approx(skm.roc_auc_score(labels[keep, j], probs[keep, j]))
    assert ap[j] == pytest.approx(skm.average_precision_score(labels[keep, j],
                                                               probs[keep, j]))
  one_class = np.zeros_like(labels)
  assert np.isnan(metrics.roc_auc(probs, one_class, mask)).all()
  r = metrics.ranking_scores(probs, labels, mask, [0.5, 0.5, 0.5])
  np.testing.assert_allclose(r['f1_tuned'], metrics.au_scores(probs, labels, mask)['f1'])


@pytest.mark.parametrize('metric', metrics.METRICS)
def test_weighted_scores_are_the_scores_of_the_resampled_images(metric):
  probs, labels, mask = _data(seed=1)
  thresholds = np.array([0.4, 0.55, 0.6])
  score = {'auc': lambda p, y, m: np.nanmean(metrics.roc_auc(p, y, m)),
           'ap': lambda p, y, m: np.nanmean(metrics.average_precision(p, y, m)),
           'f1': lambda p, y, m: np.nanmean(metrics.au_scores(p, y, m)['f1']),
           'f1_tuned': lambda p, y, m: np.nanmean(metrics.f1_at(p, y, m, thresholds))}[metric]
  ones = np.ones((1, len(labels)))
  assert metrics.weighted_scores(probs, labels, mask, ones, metric, thresholds)[0] == \
      pytest.approx(score(probs, labels, mask))
  rng = np.random.default_rng(2)
  for _ in range(3):
    index = rng.integers(0, len(labels), len(labels))
    weights = np.bincount(index, minlength=len(labels))[None].astype(float)
    got = metrics.weighted_scores(probs, labels, mask, weights, metric, thresholds)[0]
    assert got == pytest.approx(score(probs[index], labels[index], mask[index]))


def test_paired_bootstrap_centres_on_the_difference_and_pairs_the_images():
  probs, labels, mask = _data(n=400, seed=3)
  rng = np.random.default_rng(4)
  worse = np.clip(probs + rng.normal(0, 0.25, probs.shape), 0, 1)
  diff, samples = metrics.paired_bootstrap(probs, worse, labels, mask, 'auc', 500)
  want = np.nanmean(metrics.roc_auc(probs, labels, mask)) - np.nanmean(
      metrics.roc_auc(worse, labels, mask))
  assert diff == pytest.approx(want) and diff > 0
  low, high = metrics.percentile_interval(samples)
  assert low < diff < high and low > 0  # the noise costs AUC, clearly, on 400 images
  # A model against itself: every resampling gives exactly 0 (the images are paired).
  same, zero = metrics.paired_bootstrap(probs, probs, labels, mask, 'ap', 50)
  assert same == 0 and np.all(zero == 0)
  with pytest.raises(ValueError, match='same images'):
    metrics.paired_bootstrap(probs, probs[:-1], labels, mask)


def test_t_interval_is_students():
  values = [1.0, 3.0, 2.5, 4.0, 0.5]
  mean, low, high = metrics.t_interval(values)
  want = stats.t.interval(0.95, 4, loc=np.mean(values), scale=stats.sem(values))
  assert mean == pytest.approx(np.mean(values))
  assert (low, high) == pytest.approx(want)
  assert np.isnan(metrics.t_interval([2.0])[1])
