"""Where the AU evidence goes in a trained model (docs/method.md §10).

For each inference path (source E_au(E_f^s(I)), target E_au(G_st(F_l, G_b(F))) and
direct E_au(F), F = E_f^t(I)):
  - F1 at 0.5, F1 at per-AU thresholds chosen on the validation split, and ROC-AUC;
E_l's landmark accuracy per split (its argmax cell within one cell of the heat-map
target); and linear AU probes (balanced logistic regression, fitted on the source
training split) on F_l, on G_st's output and on F_b. A probe that reads AUs from F_l
but a target path that does not says the evidence is there and the generator or E_au
drops it; a probe that fails says the evidence never reached that feature.

A fourth row, target_wildstats, is the target path with E_au's batch-norm statistics
re-estimated on the target path's own features of unlabelled wild training images. In
training E_au normalises each of its four calls (F_s, F_t, F_tlsb, F_sltb) with that
call's batch statistics, and its running statistics average the four; when G_st's output
drifts from F in scale, the target path is normalised with statistics of other features.
A large gain here says F1 at 0.5 is lost to that mismatch, not to missing evidence;
config.train.target_path_statistics='wild' makes it the model's target path
(au_jax/target_statistics.py). A fifth, source_labstats, does the same for the source
path, E_au(E_f^s(I)), on labelled-domain training images (labels unused): the test of
whether the source path loses F1 to E_au's mixed statistics too.

Runs on one process (the diagnostics of `au-jax evaluate --diagnostics`).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from sklearn import linear_model, preprocessing

from au_jax import losses
from au_jax import metrics
from au_jax import target_statistics
from au_jax.data import normalise_images

PATHS = ('source', 'target', 'direct', 'target_wildstats', 'source_labstats')
PROBES = ('F_l', 'reconstructed', 'F_b')
PROBE_SIDE = 8         # G_st's output and F_b are average-pooled to at most 8×8 for probes
PROBE_EXAMPLES = 2000  # source training examples the probes are fitted on


def _pool(x, side):
  factor = max(1, -(-x.shape[1] // side))
  if factor == 1:
    return x
  b, h, w, c = x.shape
  h2, w2 = h // factor, w // factor
  return x[:, :h2 * factor, :w2 * factor].reshape(b, h2, factor, w2, factor, c).mean((2, 4))


@functools.partial(jax.jit, static_argnames=('model',))
def _outputs(model, variables, images):
  images = normalise_images(images)
  o = model.apply(variables, images, method='inference_outputs')
  cells = jnp.argmax(o['landmark_logits'].reshape(images.shape[0], -1,
                                                  o['landmark_logits'].shape[-1]), axis=1)
  return {**{f'prob_{p}': jax.nn.sigmoid(o[f'au_{p}']) for p in PATHS[:3]},
          'cells': cells,
          'F_l': o['F_l'].reshape(images.shape[0], -1),
          'reconstructed': _pool(o['reconstructed'], PROBE_SIDE).reshape(images.shape[0], -1),
          'F_b': _pool(o['F_b'], PROBE_SIDE).reshape(images.shape[0], -1)}


def collect(model, variables, batches, limit=None):
  """Concatenated model outputs, labels and true landmarks of one pass over `batches`."""
  parts = []
  count = 0
  for batch in batches:
    valid = np.asarray(batch['valid']) > 0
    out = jax.device_get(_outputs(model, variables, jnp.asarray(batch['image'])))
    out = {k: np.asarray(v)[valid] for k, v in out.items()}
    out.update({k: np.asarray(batch[k])[valid] for k in ('au', 'au_mask', 'landmarks')})
    parts.append(out)
    count += int(valid.sum())
    if limit is not None and count >= limit:
      break
  out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
  return {k: v[:limit] for k, v in out.items()} if limit else out


def _labelled(labels, mask, j):
  keep = (mask[:, j] > 0) & ((labels[:, j] == 0) | (labels[:, j] == 1))
  return keep, labels[keep, j]


# The threshold-free scores live in au_jax.metrics (`au-jax evaluate` reports them too).
roc_auc = metrics.roc_auc
best_thresholds = metrics.best_thresholds
f1_at = metrics.f1_at


def landmark_cell_accuracy(cells, landmarks, crop_size, refine_au_centres=True):
  """Fraction of landmarks whose E_l argmax cell lies within one cell (Chebyshev) of the
  heat-map target of Eq. 2 (the cells E_l is trained to hit)."""
  d = crop_size // 4
  target = np.asarray(losses.heatmap_target_indices(
      jnp.asarray(landmarks, jnp.float32), crop_size, d, refine_au_centres))
  rows, cols = np.divmod(cells, d)
  trow, tcol = np.divmod(target, d)
  return float(np.mean(np.maximum(np.abs(rows - trow), np.abs(cols - tcol)) <= 1))


def linear_probe(train, tests, feature, c=1.0):
  """Per-AU balanced logistic regression on `feature`, fitted on `train`; returns
  {test name: per-AU F1 at probability 0.5}."""
  scaler = preprocessing.StandardScaler().fit(train[feature])
  x_train = scaler.transform(train[feature])
  out = {name: [] for name in tests}
  for j in range(train['au'].shape[1]):
    keep, y = _labelled(train['au'], train['au_mask'], j)
    if len(np.unique(y)) < 2:
      for name in tests:
        out[name].append(float('nan'))
      continue
    clf = linear_model.LogisticRegression(C=c, class_weight='balanced', max_iter=300)
    clf.fit(x_train[keep], y)
    for name, test in tests.items():
      probs = np.zeros(len(test['au']))
      probs = clf.predict_proba(scaler.transform(test[feature]))[:, 1]
      out[name].append(float(metrics.au_scores(
          probs[:, None], test['au'][:, j:j + 1], test['au_mask'][:, j:j + 1])['f1'][0]))
  return {name: np.array(v) for name, v in out.items()}


def diagnose(model, variables, data, config, batch_size=100, probes=True):
  """The whole report as a dict of plain values (JSON-ready); see the module docstring.

  Thresholds are chosen per path on `config.train.best_split` and applied to every split.
  """
  splits = {name: collect(model, variables, data.eval_batches(name, batch_size))
            for name in data.eval_splits}
  # A model with its own target-path statistics (config.train.target_path_statistics)
  # applies them on the target path.
  own = target_statistics.for_path(variables, 'target')
  if own is not variables:
    for name, s in splits.items():
      s['prob_target'] = collect(model, own, data.eval_batches(name, batch_size))[
          'prob_target']
  # Source-only + AdaBN reads wild images through the source path with wild statistics.
  adapted = target_statistics.for_domain(variables, config, 'target')
  if adapted is not variables:
    for name, s in splits.items():
      if data.eval_splits[name] == 'target':
        s['prob_source'] = collect(model, adapted, data.eval_batches(name, batch_size))[
            'prob_source']
  # Re-estimated from the mixed statistics, at the training batch size (the size E_au's
  # per-call statistics were computed on).
  wild = target_statistics.for_path(target_statistics.estimate(
      model, variables, data.target_batches(config.stage2.batch_size),
      config.train.target_statistics_batches), 'target')
  lab = target_statistics.for_path(target_statistics.estimate(
      model, variables, data.source_batches(config.stage2.batch_size),
      config.train.target_statistics_batches, path='source'), 'source')
  for name, s in splits.items():
    s['prob_target_wildstats'] = collect(model, wild, data.eval_batches(name, batch_size))[
        'prob_target']
    s['prob_source_labstats'] = collect(model, lab, data.eval_batches(name, batch_size))[
        'prob_source']
  val = splits.get(config.train.best_split)
  report = {'threshold_split': config.train.best_split if val is not None else None,
            'au_ids': [int(a) for a in config.data.au_ids], 'splits': {}}
  crop, refine = config.data.crop_size, config.loss.refine_au_centres
  for name, s in splits.items():
    r = {'domain': data.eval_splits[name], 'landmark_cell_accuracy':
         landmark_cell_accuracy(s['cells'], s['landmarks'], crop, refine), 'paths': {}}
    for p in PATHS:
      probs = s[f'prob_{p}']
      f1 = metrics.au_scores(probs, s['au'], s['au_mask'])['f1']
      auc = roc_auc(probs, s['au'], s['au_mask'])
      entry = {'f1': f1.tolist(), 'f1_mean': float(np.nanmean(f1)),
               'auc': auc.tolist(), 'auc_mean': float(np.nanmean(auc))}
      if val is not None:
        thresholds = best_thresholds(val[f'prob_{p}'], val['au'], val['au_mask'])
        tuned = f1_at(probs, s['au'], s['au_mask'], thresholds)
        entry.update({'thresholds': thresholds.tolist(), 'f1_tuned': tuned.tolist(),
                      'f1_tuned_mean': float(np.nanmean(tuned))})
      r['paths'][p] = entry
    report['splits'][name] = r
  if probes:
    train = collect(model, variables, data.source_train_eval_batches(batch_size),
                    limit=PROBE_EXAMPLES)
    tests = {n: s for n, s in splits.items() if n != config.train.best_split}
    report['probes'] = {'fitted_on': f'source training split ({len(train["au"])} faces)'}
    for feature in PROBES:
      f1 = linear_probe(train, tests, feature)
      report['probes'][feature] = {n: {'f1': v.tolist(), 'f1_mean': float(np.nanmean(v))}
                                   for n, v in f1.items()}
  return report


def format_report(report):
  """Plain-text tables of `diagnose`'s report."""
  pct = lambda v: '    -' if v is None or np.isnan(v) else f'{100 * v:5.1f}'
  lines = ['inference paths (average over AUs, %): F1 at 0.5 | F1 at thresholds from '
           f'{report["threshold_split"] or "-"} | ROC-AUC']
  lines.append(f'  {"split":20s}' + ''.join(f'{p:>24s}' for p in PATHS) +
               f'{"E_l cells ±1":>14s}')
  for name, r in report['splits'].items():
    cells = ''.join(f'{pct(e["f1_mean"])} {pct(e.get("f1_tuned_mean"))} {pct(e["auc_mean"])}'
                    .rjust(24) for e in r['paths'].values())
    lines.append(f'  {name:20s}{cells}{pct(r["landmark_cell_accuracy"]):>14s}')
  if 'probes' in report:
    p = report['probes']
    lines.append(f'\nlinear AU probes, F1 % (fitted on the {p["fitted_on"]})')
    names = list(next(iter(p[PROBES[0]].values())) and p[PROBES[0]])
    lines.append(f'  {"feature":16s}' + ''.join(f'{n:>20s}' for n in names))
    for feature in PROBES:
      lines.append(f'  {feature:16s}' + ''.join(
          f'{pct(p[feature][n]["f1_mean"]):>20s}' for n in names))
  return '\n'.join(lines)
