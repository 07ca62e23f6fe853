"""The one evaluation: training's per-epoch scores, `au-jax evaluate` and the benchmarks.

Per-AU F1 and accuracy at 0.5 with their averages for every evaluation split (Tables
2–5); beside them F1 at thresholds chosen on the validation split, ROC-AUC and average
precision, which do not depend on where 0.5 falls; landmark mean error and failure rate (Table 6), all through
`au_jax.inference.predict`, the same pure function a restored Predictor runs. Source
splits use the source path, target splits the reconstruction path (docs/method.md §2);
a source-only model reads both through the source path. `evaluate_checkpoint` adds the
diagnostics of `au_jax.diagnostics` on request, and writes the per-image probabilities
(`write_predictions`, an .npz) that `au-jax compare` bootstraps its intervals from.
"""

import io
import json
import math

import jax
from jax.experimental import multihost_utils
import numpy as np

from au_jax import config_lib
from au_jax import errors
from au_jax import inference
from au_jax import metrics
from au_jax import paths
from au_jax import sharding
from au_jax import target_statistics


def eval_path(config, domain):
  """The inference path ('source' or 'target') that a domain's images take."""
  return 'source' if config_lib.is_source_only(config) else domain


def evaluate(model, variables, data, config, mesh, names=None):
  """{split: scores} for the evaluation splits of `data` (all, or `names`)."""
  return evaluate_with_predictions(model, variables, data, config, mesh, names)[0]


def evaluate_with_predictions(model, variables, data, config, mesh, names=None):
  """({split: scores}, {split: {'probs', 'labels', 'masks'}}): the scores of `evaluate`
  and the per-image AU probabilities they came from (in the split's fixed order).

  Beside F1 and accuracy at 0.5, every split gets ROC-AUC and average precision, and,
  when `config.train.best_split` is evaluated, F1 at the per-AU thresholds that maximise
  that split's F1 (`f1_tuned`).
  """
  results, predictions = {}, {}
  batch_size = config.train.eval_batch_size
  crop = config.data.crop_size
  for name, domain in data.eval_splits.items():
    if names is not None and name not in names:
      continue
    path = eval_path(config, domain)
    # A source-only model with AdaBN reads wild images with its wild E_au statistics.
    own = target_statistics.for_domain(variables, config, domain)
    probs, labels, masks, points, truth = [], [], [], [], []
    for batch in data.eval_batches(name, batch_size):
      images = sharding.to_global(batch['image'], mesh)
      out = inference.predict(model, own, images, path, crop)
      p = multihost_utils.process_allgather(out.au_probs, tiled=True)
      lm = multihost_utils.process_allgather(out.landmarks, tiled=True)
      gathered = multihost_utils.process_allgather(
          {k: batch[k] for k in ('au', 'au_mask', 'landmarks', 'valid')}, tiled=True)
      valid = np.asarray(gathered['valid']) > 0
      probs.append(np.asarray(p)[valid])
      points.append(np.asarray(lm)[valid])
      labels.append(gathered['au'][valid])
      masks.append(gathered['au_mask'][valid])
      truth.append(gathered['landmarks'][valid])
    probs, labels, masks = (np.concatenate(v) for v in (probs, labels, masks))
    predictions[name] = {'probs': probs, 'labels': labels, 'masks': masks}
    au = metrics.au_scores(probs, labels, masks)
    marks = metrics.landmark_scores(np.concatenate(points), np.concatenate(truth))
    if not config_lib.trains_landmark_branch(config, domain):
      marks = {k: None for k in marks}  # an untrained branch's error means nothing
    results[name] = {'domain': domain, 'path': path, 'au_ids': list(config.data.au_ids),
                     'f1': au['f1'].tolist(), 'accuracy': au['accuracy'].tolist(),
                     'f1_mean': au['f1_mean'], 'accuracy_mean': au['accuracy_mean'],
                     'labelled': au['count'].tolist(), **marks}
  val = predictions.get(config.train.best_split)
  thresholds = (metrics.best_thresholds(val['probs'], val['labels'], val['masks'])
                if val is not None else None)
  for name, p in predictions.items():
    ranking = metrics.ranking_scores(p['probs'], p['labels'], p['masks'], thresholds)
    results[name].update({k: v.tolist() if isinstance(v, np.ndarray) else v
                          for k, v in ranking.items()})
    if thresholds is not None:
      results[name]['threshold_split'] = config.train.best_split
  return results, predictions


def predictions_file(folder, step):
  """Where `au-jax evaluate` keeps the per-image probabilities of checkpoint `step`."""
  return paths.join(folder, f'step_{step}_predictions.npz')


def write_predictions(path, predictions, step, au_ids):
  """PATH (.npz): per split, the test images' AU probabilities, labels and label masks
  (`SPLIT/probs`, `SPLIT/labels`, `SPLIT/masks`), the step and the AU ids: what the
  paired bootstrap of `au-jax compare` resamples."""
  arrays = {'step': np.asarray(-1 if step is None else step), 'au_ids': np.asarray(au_ids)}
  for split, p in predictions.items():
    arrays.update({f'{split}/{k}': np.asarray(v) for k, v in p.items()})
  target = paths.resolve(path)  # a local path or a URL (gs://...)
  target.parent.mkdir(parents=True, exist_ok=True)
  buffer = io.BytesIO()  # zipfile reads back what it wrote: gs:// files cannot
  np.savez_compressed(buffer, **arrays)
  tmp = paths.resolve(path + '.tmp')
  tmp.write_bytes(buffer.getvalue())
  tmp.replace(target)
  return path


def read_predictions(path):
  """{'step', 'au_ids', 'splits': {split: {'probs', 'labels', 'masks'}}} of a file
  that `write_predictions` wrote."""
  with np.load(io.BytesIO(paths.resolve(path).read_bytes())) as f:
    out = {'step': int(f['step']), 'au_ids': f['au_ids'].tolist(), 'splits': {}}
    for key in f.files:
      if '/' in key:
        split, what = key.rsplit('/', 1)
        out['splits'].setdefault(split, {})[what] = f[key]
  return out


# -- a saved checkpoint ---------------------------------------------------------------------

def select_splits(available, wanted):
  """The split names of `available` ({name: domain}) that `wanted` asks for, in order."""
  if not wanted:
    return list(available)
  chosen = []
  for name in wanted:
    matches = [n for n in available if n == name or n.split('_', 1)[1] == name]
    if len(matches) != 1:
      why = 'is ambiguous' if matches else 'is not an evaluation split'
      raise errors.InputError(f'--split {name} {why}; the config has '
                                 f'{", ".join(available) or "none"}')
    if matches[0] not in chosen:
      chosen.append(matches[0])
  return chosen


def check_same_model(config, workdir):
  """InputError if `config` asks for other AUs or another crop size than training used.

  (Other architecture differences show up as shape mismatches in `inference.load`.)
  """
  if not (paths.resolve(workdir) / config_lib.SAVED_CONFIG).is_file():
    return
  changed = config_lib.differences(config_lib.load_saved_config(workdir), config)
  for field in ('data.au_ids', 'data.crop_size'):
    if field in changed:
      theirs, mine = changed[field]
      raise errors.InputError(f'config.{field}={mine} but {workdir} was trained '
                                 f'with {theirs}')


def evaluate_checkpoint(config, workdir, *, step=None, splits=None, data=None,
                        diagnostics=False, predictions=None):
  """(results {split: scores}, the step evaluated, the diagnostics report or None).

  `predictions`: a folder to write the per-image probabilities of the evaluated splits
  to, as FOLDER/step_<N>_predictions.npz (`predictions_file`, `write_predictions`). The threshold split (config.train.best_split) is
  evaluated whenever it exists, for F1 at validation thresholds.
  """
  check_same_model(config, workdir)
  mesh = sharding.make_mesh()
  predictor = inference.load(workdir, step=step, config=config,
                             sharding=sharding.replicated(mesh))
  config = predictor.config  # prepared; a copy, so the caller's config is untouched
  batch = config.train.eval_batch_size
  if batch % jax.device_count():  # batches are sharded over the devices
    config.train.eval_batch_size = math.ceil(batch / jax.device_count()) * \
        jax.device_count()
  if data is None:
    from au_jax.data import PreparedData  # pylint: disable=g-import-not-at-top
    data = PreparedData(config, jax.process_index(), jax.process_count())
  names = select_splits(data.eval_splits, splits)
  wanted = names + [n for n in (config.train.best_split,)
                    if n in data.eval_splits and n not in names]
  results, per_image = evaluate_with_predictions(predictor.model, predictor.variables,
                                                 data, config, mesh, wanted)
  if predictions and jax.process_index() == 0:
    write_predictions(predictions_file(predictions, predictor.step),
                      {n: per_image[n] for n in names}, predictor.step,
                      list(config.data.au_ids))
  report = None
  if diagnostics:
    from au_jax import diagnostics as diag  # pylint: disable=g-import-not-at-top
    if jax.process_count() > 1:
      raise errors.InputError('--diagnostics runs on one process')
    report = diag.diagnose(predictor.model, predictor.variables, data, config)
  return {n: results[n] for n in names}, predictor.step, report


# -- tables and files ------------------------------------------------------------------------

def _pct(v):
  return '    -' if v is None or (isinstance(v, float) and math.isnan(v)) else \
      f'{100 * v:5.1f}'


def format_tables(results, step):
  """Tables 2–5 (per-AU F1 / accuracy, % and average) by domain, then Table 6."""
  lines = [f'checkpoint step {step}']
  for domain in ('source', 'target'):
    names = [n for n, r in results.items() if r['domain'] == domain]
    if not names:
      continue
    lines.append(f'\n{domain}-domain test data')
    for name in names:
      r = results[name]
      aus = ''.join(f'{"AU" + str(a):>7s}' for a in r['au_ids'])
      lines.append(f'  {name} ({r["path"]} path)')
      lines.append(f'  {"":10s}{aus}{"Avg.":>7s}')
      for label, key in (('F1', 'f1'), ('Accuracy', 'accuracy'), ('F1 tuned', 'f1_tuned'),
                         ('ROC-AUC', 'auc'), ('AP', 'ap')):
        if key not in r:
          continue
        row = ''.join(f'  {_pct(v)}' for v in r[key])
        lines.append(f'  {label:10s}{row}  {_pct(r[key + "_mean"])}')
      lines.append(f'  {"labelled":10s}' + ''.join(f'{c:7d}' for c in r['labelled']))
  tuned = {r.get('threshold_split') for r in results.values()} - {None}
  lines.append('\nF1 at 0.5 (the paper\'s)'
               + (f'; F1 tuned: at per-AU thresholds that maximise {tuned.pop()} F1'
                  if tuned else '')
               + '; ROC-AUC and AP (average precision) do not depend on a threshold')
  lines.append('\nlandmarks (Table 6)')
  lines.append(f'  {"split":24s}{"mean error %":>14s}{"failure rate %":>16s}')
  for name, r in results.items():
    if r['mean_error'] is None:
      lines.append(f'  {name:24s}{"n/a (no trained branch)":>30s}')
      continue
    lines.append(f'  {name:24s}{100 * r["mean_error"]:14.2f}'
                 f'{100 * r["failure_rate"]:16.2f}')
  return '\n'.join(lines)


def _clean(v):
  if isinstance(v, float) and math.isnan(v):
    return None
  if isinstance(v, list):
    return [_clean(x) for x in v]
  return v


def write_json(path, results, step, checkpoint):
  with paths.resolve(path).open('w', encoding='utf-8') as f:
    json.dump({'step': step, 'checkpoint': checkpoint,
               'results': {n: {k: _clean(v) for k, v in r.items()}
                           for n, r in results.items()}}, f, indent=1)


def csv_rows(results, step):
  """One row per split: f1_AUx..., f1_mean, accuracy_AUx..., f1_tuned_AUx..., auc_AUx...,
  ap_AUx... (each with its mean), labelled_AUx..., landmarks. Cells a split lacks
  (f1_tuned without a threshold split) are empty."""
  au_ids = next(iter(results.values()))['au_ids'] if results else []
  keys = ('f1', 'accuracy', 'f1_tuned', 'auc', 'ap')
  header = ['split', 'domain', 'path', 'step']
  for key in keys:
    header += [f'{key}_AU{a}' for a in au_ids] + [f'{key}_mean']
  header += ([f'labelled_AU{a}' for a in au_ids]
             + ['landmark_mean_error', 'landmark_failure_rate'])
  rows = [header]
  num = lambda v: '' if v is None or math.isnan(v) else repr(float(v))
  for name, r in results.items():
    row = [name, r['domain'], r['path'], step]
    for key in keys:
      row += ([num(v) for v in r[key]] + [num(r[key + '_mean'])] if key in r
              else [''] * (len(au_ids) + 1))
    rows.append(row + [int(c) for c in r['labelled']]
                + [num(r['mean_error']), num(r['failure_rate'])])
  return rows
