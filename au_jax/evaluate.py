"""The one evaluation: training's per-epoch scores, `au-jax evaluate` and the benchmarks.

Per-AU F1 and accuracy at 0.5 with their averages for every evaluation split (Tables
2–5), landmark mean error and failure rate (Table 6), all through
`au_jax.inference.predict`, the same pure function a restored Predictor runs. Source
splits use the source path, target splits the reconstruction path (docs/method.md §2);
a source-only model reads both through the source path. `evaluate_checkpoint` adds the
diagnostics of `au_jax.diagnostics` on request.
"""

import json
import math

import jax
from jax.experimental import multihost_utils
import numpy as np

from au_jax import config_lib
from au_jax import inference
from au_jax import metrics
from au_jax import paths
from au_jax import sharding


def eval_path(config, domain):
  """The inference path ('source' or 'target') that a domain's images take."""
  return 'source' if config_lib.is_source_only(config) else domain


def evaluate(model, variables, data, config, mesh, names=None):
  """{split: scores} for the evaluation splits of `data` (all, or `names`)."""
  results = {}
  batch_size = config.train.eval_batch_size
  crop = config.data.crop_size
  for name, domain in data.eval_splits.items():
    if names is not None and name not in names:
      continue
    path = eval_path(config, domain)
    probs, labels, masks, points, truth = [], [], [], [], []
    for batch in data.eval_batches(name, batch_size):
      images = sharding.to_global(batch['image'], mesh)
      out = inference.predict(model, variables, images, path, crop)
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
    au = metrics.au_scores(np.concatenate(probs), np.concatenate(labels),
                           np.concatenate(masks))
    marks = metrics.landmark_scores(np.concatenate(points), np.concatenate(truth))
    if not config_lib.trains_landmark_branch(config, domain):
      marks = {k: None for k in marks}  # an untrained branch's error means nothing
    results[name] = {'domain': domain, 'path': path, 'au_ids': list(config.data.au_ids),
                     'f1': au['f1'].tolist(), 'accuracy': au['accuracy'].tolist(),
                     'f1_mean': au['f1_mean'], 'accuracy_mean': au['accuracy_mean'],
                     'labelled': au['count'].tolist(), **marks}
  return results


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
      raise inference.InputError(f'--split {name} {why}; the config has '
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
      raise inference.InputError(f'config.{field}={mine} but {workdir} was trained '
                                 f'with {theirs}')


def evaluate_checkpoint(config, workdir, *, step=None, splits=None, data=None,
                        diagnostics=False):
  """(results {split: scores}, the step evaluated, the diagnostics report or None)."""
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
  results = evaluate(predictor.model, predictor.variables, data, config, mesh, names)
  report = None
  if diagnostics:
    from au_jax import diagnostics as diag  # pylint: disable=g-import-not-at-top
    if jax.process_count() > 1:
      raise inference.InputError('--diagnostics runs on one process')
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
      for label, key in (('F1', 'f1'), ('Accuracy', 'accuracy')):
        row = ''.join(f'  {_pct(v)}' for v in r[key])
        lines.append(f'  {label:10s}{row}  {_pct(r[key + "_mean"])}')
      lines.append(f'  {"labelled":10s}' + ''.join(f'{c:7d}' for c in r['labelled']))
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
  """One row per split: f1_AUx..., f1_mean, accuracy_AUx..., labelled_AUx..., landmarks."""
  au_ids = next(iter(results.values()))['au_ids'] if results else []
  header = (['split', 'domain', 'path', 'step']
            + [f'f1_AU{a}' for a in au_ids] + ['f1_mean']
            + [f'accuracy_AU{a}' for a in au_ids] + ['accuracy_mean']
            + [f'labelled_AU{a}' for a in au_ids]
            + ['landmark_mean_error', 'landmark_failure_rate'])
  rows = [header]
  num = lambda v: '' if v is None or math.isnan(v) else repr(float(v))
  for name, r in results.items():
    rows.append([name, r['domain'], r['path'], step]
                + [num(v) for v in r['f1']] + [num(r['f1_mean'])]
                + [num(v) for v in r['accuracy']] + [num(r['accuracy_mean'])]
                + [int(c) for c in r['labelled']]
                + [num(r['mean_error']), num(r['failure_rate'])])
  return rows
