"""Subject-independent k-fold cross-validation of a config (`au-jax crossval`).

The source data set must have been prepared with subject folds `fold0`..`fold{k-1}`
(BP4D and DISFA get the JAA-Net/ADLD folds; a manifest with a split column needs
`au-jax prepare --subject-folds`). Fold k trains on the other folds and tests on fold k,
into WORKDIR/fold{k}; the target splits are the same for every fold. A fold with
WORKDIR/fold{k}/results.json is finished and skipped; an unfinished one resumes from its
checkpoints. When every fold has finished, WORKDIR/crossval.{md,csv,json} hold per-AU F1
and accuracy of each fold's best checkpoint and their mean ± std (population) over folds,
for the source test fold and each target test split, in the layout of Tables 2–3.
"""

import csv
import io
import json
import math
import re
import warnings

import ml_collections
import numpy as np

from au_jax import config_lib
from au_jax.errors import DataError
from au_jax import paths

FILES = ('crossval.md', 'crossval.csv', 'crossval.json')


def count_folds(config):
  """The number of subject folds of the source data set (fold0..fold{k-1})."""
  from au_jax import metadata  # pylint: disable=g-import-not-at-top
  info = metadata.load_metadata(config.data.data_dir, config.data.source)
  folds = sorted(int(m.group(1)) for s in info.splits if (m := re.fullmatch(r'fold(\d+)', s)))
  if len(folds) < 2:
    raise DataError(
        f'{config.data.source} has no subject folds (its splits: '
        f'{", ".join(sorted(info.splits))}); prepare it with subject folds: BP4D and DISFA '
        'get them by default, a manifest with a split column with au-jax prepare '
        '--subject-folds')
  if folds != list(range(len(folds))):
    raise DataError(f'{config.data.source}: folds {folds} are not fold0..fold{len(folds) - 1}')
  return len(folds)


def fold_overrides(fold, num_folds):
  """The config fields of fold `fold`, as `--config.x=y` would say them."""
  train = '+'.join(f'fold{k}' for k in range(num_folds) if k != fold)
  return {'data.source_train_split': train, 'data.source_eval_splits': (f'fold{fold}',)}


def fold_config(config, fold, num_folds):
  config = ml_collections.ConfigDict(config.to_dict())
  fields = fold_overrides(fold, num_folds)
  config.data.source_train_split = fields['data.source_train_split']
  config.data.source_eval_splits = fields['data.source_eval_splits']
  return config


def finished(fold_dir):
  return (paths.resolve(fold_dir) / 'results.json').is_file()


def check_finished(fold_dir, config):
  """ConfigError if a finished fold was trained with another config than `config` (its
  scores would be averaged with the new folds'). Where the data lies may change."""
  import jax  # pylint: disable=g-import-not-at-top
  config = config_lib.scale_to_devices(config_lib.prepare_config(config),
                                       jax.device_count())
  changed = [c for c in config_lib.changed_fields(fold_dir, config)
             if not c.startswith('data.data_dir:')]
  if changed:
    raise config_lib.ConfigError(
        f'{fold_dir} finished with another config ({"; ".join(changed)}); '
        'cross-validate into a new --workdir, or set those fields back')


def run(config, workdir, folds=None, train_fn=None, log=print, command=None,
        config_file=None, overrides=()):
  """Trains the folds (all, or the indices `folds`) that have not finished, then writes
  the tables if every fold has. Returns the summary dict, or None while folds are left.

  train_fn(config, workdir) trains one fold (default: train.train_and_evaluate);
  command, config_file and overrides go to each fold's provenance.json.
  """
  from au_jax import provenance  # pylint: disable=g-import-not-at-top
  config_lib.prepare_config(config)  # a bad value fails here, before any fold
  num_folds = count_folds(config)
  wanted = list(range(num_folds)) if folds is None else list(folds)
  bad = [k for k in wanted if not 0 <= k < num_folds]
  if bad:
    raise config_lib.ConfigError(f'--fold {bad[0]}: {config.data.source} has folds '
                                 f'0..{num_folds - 1}')
  if train_fn is None:
    from au_jax import train  # pylint: disable=g-import-not-at-top
    train_fn = train.train_and_evaluate
  paths.check(workdir, 'workdir')  # a local folder or a URL (gs://...)
  if paths.is_main_process():
    paths.resolve(workdir).mkdir(parents=True, exist_ok=True)
  for k in range(num_folds):
    fold_dir = paths.join(workdir, f'fold{k}')
    cfg = fold_config(config, k, num_folds)
    if finished(fold_dir):
      check_finished(fold_dir, cfg)
      log(f'fold{k} ({k + 1} of {num_folds}): finished in {fold_dir}, skipped')
      continue
    if k not in wanted:
      continue
    fields = fold_overrides(k, num_folds)
    log(f'fold{k} ({k + 1} of {num_folds}): trains on {fields["data.source_train_split"]}, '
        f'tests on fold{k}, into {fold_dir}')
    provenance.set_origin(command=command, config_file=config_file, overrides=[
        *overrides, *(f'{f}={v!r}' if isinstance(v, tuple) else f'{f}={v}'
                      for f, v in fields.items())])
    train_fn(cfg, fold_dir)
  left = [k for k in range(num_folds) if not finished(paths.join(workdir, f'fold{k}'))]
  if left:
    log(f'folds {", ".join(map(str, left))} not finished: the tables are written when '
        'every fold has')
    return None
  summary = summarize(workdir, num_folds, config, config_file=config_file,
                      overrides=overrides)
  if paths.is_main_process():
    write(summary, workdir)
  return summary


# -- the tables -----------------------------------------------------------------------------

def _stats(per_fold, key):
  """Per-AU mean and std over folds (NaN-aware: a fold without labels of an AU is left
  out of that AU), and of the per-fold averages."""
  table = np.array([[np.nan if v is None else v for v in f[key]] for f in per_fold],
                   np.float64)
  averages = np.array([np.nan if f[key + '_mean'] is None else f[key + '_mean']
                       for f in per_fold], np.float64)
  with warnings.catch_warnings():  # an AU labelled in no fold: NaN, without a warning
    warnings.simplefilter('ignore', RuntimeWarning)
    return ({key: np.nanmean(table, 0).tolist(), key + '_mean': float(np.nanmean(averages))},
            {key: np.nanstd(table, 0).tolist(), key + '_mean': float(np.nanstd(averages))})


def summarize(workdir, num_folds, config, config_file=None, overrides=()):
  """The crossval.json content, from WORKDIR/fold{k}/results.json."""
  folds = []
  for k in range(num_folds):
    folds.append(json.loads((paths.resolve(workdir) / f'fold{k}' / 'results.json')
                            .read_text(encoding='utf-8')))
  splits = {'source': {'title': 'source test fold', 'data_set': config.data.source,
                       'names': [f'source_fold{k}' for k in range(num_folds)]}}
  chosen = [s for s in config.data.target_eval_splits
            if f'target_{s}' != config.train.best_split] or list(
                config.data.target_eval_splits)
  for s in chosen:
    splits[f'target_{s}'] = {'title': f'target {s} split', 'data_set': config.data.target,
                             'names': [f'target_{s}'] * num_folds}
  out = {'config_file': config_file, 'overrides': list(overrides), 'folds': num_folds,
         'au_ids': [int(a) for a in config.data.au_ids],
         'checkpoint': f'best by {config.train.best_split} F1',
         'std': 'population (numpy.std) over folds', 'splits': {}}
  for key, spec in splits.items():
    per_fold = []
    for k, name in enumerate(spec['names']):
      r = folds[k]['results'][name]
      per_fold.append({'fold': f'fold{k}', 'split': name, 'path': r['path'],
                       'step': folds[k]['step'], 'labelled': r['labelled'],
                       **{m: _none(r[m]) for m in ('f1', 'accuracy')},
                       **{m: _none(r[m]) for m in ('f1_mean', 'accuracy_mean')}})
    mean, std = {}, {}
    for metric in ('f1', 'accuracy'):
      m, s = _stats(per_fold, metric)
      mean.update(m)
      std.update(s)
    out['splits'][key] = {'title': spec['title'], 'data_set': spec['data_set'],
                          'path': per_fold[0]['path'], 'per_fold': per_fold,
                          'mean': _none(mean), 'std': _none(std)}
  return out


def _none(value):
  """NaN → None, for JSON."""
  if isinstance(value, dict):
    return {k: _none(v) for k, v in value.items()}
  if isinstance(value, list):
    return [_none(v) for v in value]
  return None if isinstance(value, float) and math.isnan(value) else value


def _pct(v):
  return '–' if v is None else f'{100 * v:.1f}'


def markdown(summary):
  aus = [f'AU{a}' for a in summary['au_ids']]
  n = summary['folds']
  lines = [f'# Cross-validation over {n} subject-independent folds', '',
           f'Config {summary["config_file"] or "(not recorded)"}'
           + (f' with {", ".join(summary["overrides"])}' if summary['overrides'] else '')
           + f'. Fold k trains on the other folds and tests on fold k; each fold\'s '
           f'checkpoint is the {summary["checkpoint"]}. Per-AU F1 and accuracy (%) at '
           f'0.5 and their average over AUs; mean ± std over the {n} folds (std: '
           'population).', '']
  for spec in summary['splits'].values():
    lines.append(f'## {spec["title"][0].upper()}{spec["title"][1:]} '
                 f'({spec["data_set"]}, {spec["path"]} path)')
    for metric, title in (('f1', 'F1'), ('accuracy', 'Accuracy')):
      lines += ['', f'{title}:', '', '| fold | ' + ' | '.join(aus) + ' | Avg. |',
                '|' + '---|' * (len(aus) + 2)]
      for f in spec['per_fold']:
        lines.append(f'| {f["fold"]} | ' + ' | '.join(_pct(v) for v in f[metric]) +
                     f' | {_pct(f[metric + "_mean"])} |')
      mean, std = spec['mean'], spec['std']
      cells = [f'{_pct(m)} ± {_pct(s)}' if m is not None else '–'
               for m, s in zip(mean[metric] + [mean[metric + '_mean']],
                               std[metric] + [std[metric + '_mean']])]
      lines.append('| **mean ± std** | ' + ' | '.join(cells) + ' |')
    lines.append('')
  return '\n'.join(lines)


def csv_rows(summary):
  """One row per split, metric and fold, plus 'mean' and 'std' rows; values in %."""
  aus = [f'AU{a}' for a in summary['au_ids']]
  rows = [['split', 'data_set', 'metric', 'fold', *aus, 'average']]
  num = lambda v: '' if v is None else f'{100 * v:.4f}'
  for key, spec in summary['splits'].items():
    for metric in ('f1', 'accuracy'):
      for f in spec['per_fold']:
        rows.append([key, spec['data_set'], metric, f['fold'], *map(num, f[metric]),
                     num(f[metric + '_mean'])])
      for stat in ('mean', 'std'):
        s = spec[stat]
        rows.append([key, spec['data_set'], metric, stat, *map(num, s[metric]),
                     num(s[metric + '_mean'])])
  return rows


def write(summary, workdir):
  md, table, js = (paths.join(workdir, f) for f in FILES)
  paths.resolve(md).write_text(markdown(summary), encoding='utf-8')
  rows = io.StringIO(newline='')
  csv.writer(rows).writerows(csv_rows(summary))
  paths.resolve(table).write_text(rows.getvalue(), encoding='utf-8')
  paths.resolve(js).write_text(json.dumps(summary, indent=1), encoding='utf-8')
  return md, table, js
