"""Training workdirs as `TrainedRun`s, and their row names.

A run is named by its ablation and the `--config.x=y` overrides it was trained with
(WORKDIR/provenance.json); for runs from before provenance was recorded, by the config
fields in which they differ from the other runs compared.
"""

import json
import os

from au_jax import errors
from au_jax import paths
from au_jax import provenance
from au_jax.compare import runs as runs_lib

# Fields that say which fold a run is, not what it trains.
FOLD_FIELDS = ('data.source_train_split', 'data.source_eval_splits')
_NOT_IN_NAMES = ('seed', 'ablation', *provenance.PLACES, *FOLD_FIELDS)


def read_json(path):
  return json.loads(paths.resolve(path).read_text(encoding='utf-8'))


def isfile(path):
  return paths.resolve(path).is_file()


def diagnostics_of(report):
  """A TrainedRun's diagnostics out of an `au-jax evaluate --diagnostics` report."""
  return {split: r['paths'] for split, r in report['splits'].items()}


def _fold_of(config):
  evals = config.get('data.source_eval_splits') or ()
  return evals[0] if len(evals) == 1 and str(evals[0]).startswith('fold') else None


def load_run(workdir, label=None):
  """The TrainedRun of a finished training workdir (named later, by `name_runs`)."""
  from au_jax import config_lib  # pylint: disable=g-import-not-at-top
  path = paths.join(workdir, 'results.json')  # workdirs may be URLs (gs://...)
  if not isfile(path):
    why = ('training has not finished' if paths.resolve(workdir).is_dir()
           else 'no such folder')
    raise errors.InputError(f'{workdir}: no results.json ({why})')
  saved = read_json(path)
  config = (config_lib.flatten(config_lib.load_saved_config(workdir).to_dict())
            if isfile(paths.join(workdir, config_lib.SAVED_CONFIG)) else {})
  step = saved.get('step')
  diag_file = paths.join(workdir, 'evaluate', f'step_{step}_diagnostics.json')
  diagnostics = (diagnostics_of(read_json(diag_file))
                 if isfile(diag_file) else None)
  kept = paths.join(workdir, 'evaluate', f'step_{step}_predictions.npz')
  return runs_lib.TrainedRun(
      name='', results=saved['results'], seed=config.get('seed'),
      fold=_fold_of(config), workdir=workdir, label=label or workdir,
      diagnostics=diagnostics, config=config, provenance=provenance.load(workdir),
      predictions=kept if isfile(kept) else None)


def load_runs(workdirs):
  """TrainedRuns of training workdirs; a cross-validation workdir (`au-jax crossval`)
  gives its folds, which share its row."""
  runs = []
  for path in workdirs:
    path = paths.check(path, 'workdir').rstrip('/') if paths.is_url(path) else \
        os.path.normpath(path)
    folds = fold_dirs(path)
    if folds and not isfile(paths.join(path, 'results.json')):
      for fold in folds:
        runs.append(load_run(fold, label=fold))
    else:
      runs.append(load_run(path))
  name_runs(runs)
  return runs


def fold_dirs(path):
  """WORKDIR/fold0, fold1, ... of a cross-validation workdir, in order."""
  folder = paths.resolve(path)
  if not folder.is_dir():
    return []
  names = [p.name for p in folder.iterdir()
           if p.name.startswith('fold') and p.name[4:].isdigit() and p.is_dir()]
  return [paths.join(path, n) for n in sorted(names, key=lambda n: int(n[4:]))]


def _signature(run):
  return tuple(sorted((k, repr(v)) for k, v in (run.config or {}).items()
                      if k not in _NOT_IN_NAMES))


def _varying(runs, keep=lambda field: True):
  """Config fields whose values differ among `runs` (except seeds, folds, places)."""
  fields = sorted({k for r in runs for k in (r.config or {})})
  return [f for f in fields if f not in _NOT_IN_NAMES and keep(f) and
          len({repr((r.config or {}).get(f)) for r in runs}) > 1]


def _baseline(runs, field):
  """The most common value of `field` among `runs` (the first run's on a tie)."""
  values = [repr((r.config or {}).get(field)) for r in runs]
  return max(dict.fromkeys(values), key=values.count)


def name_runs(runs):
  """Names each run: its ablation ('full' for the whole method) and overrides.

  Without recorded overrides, the config fields that differ among the runs stand in for
  them: a run names a field where its value is not the most common one, and fields that
  change only with the ablation are left to the ablation's name.
  """
  said = {id(r) for r in runs
          if r.provenance and r.provenance.get('overrides') is not None}
  # 'configs/table7.py:A' is the file table7.py (its row is the ablation's name).
  file_of = lambda r: os.path.basename((r.provenance.get('config_file') or '?').split(':')[0])
  files = {file_of(r) for r in runs if id(r) in said}
  unsaid = [r for r in runs if id(r) not in said]

  def with_ablation_only(field):
    by_row = {}
    for r in unsaid:
      config = r.config or {}
      by_row.setdefault(config.get('ablation'), set()).add(repr(config.get(field)))
    return all(len(v) == 1 for v in by_row.values())

  varying = _varying(unsaid, lambda f: not with_ablation_only(f))
  baseline = {f: _baseline(unsaid, f) for f in varying}
  for r in runs:
    config = r.config or {}
    head = config.get('ablation') or 'full'
    if id(r) in said:
      parts = [o for o in r.provenance['overrides']
               if o.split('=', 1)[0] not in _NOT_IN_NAMES]
      if len(files) > 1:
        head = f'{os.path.splitext(file_of(r))[0]} {head}'
    else:
      parts = [f'{f}={runs_lib.config_text(config.get(f))}' for f in varying
               if repr(config.get(f)) != baseline[f]]
    r.name = head + (f' [{", ".join(parts)}]' if parts else '')
  # Same name, different configs (e.g. a config file edited between runs): name the
  # fields that tell them apart.
  for row in runs_lib.group(runs):
    if len({_signature(r) for r in row.runs}) > 1:
      fields = _varying(row.runs)
      for r in row.runs:
        extra = ', '.join(f'{f}={runs_lib.config_text(r.config.get(f))}' for f in fields)
        r.name = f'{row.name} {{{extra}}}'
  return runs


def table7_runs(done, workroot=None):
  """The entries of a benchmarks/table7*.json file (benchmarks/table7.py's --out) as
  TrainedRuns, in the table's order (other entries, e.g. the investigation file's notes,
  are not runs and are left out). A run's predictions file is looked up under `workroot`
  when its recorded path has moved."""
  order = ['source_only', 'source_only+AdaBN', 'oracle', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'default']
  head = lambda row: row if row in order else row.split('+')[0]
  rank = lambda row: (order.index(head(row)) if head(row) in order else len(order), row)
  keys = [k for k, e in done.items() if isinstance(e, dict) and 'row' in e]
  found = []
  for key in sorted(keys, key=lambda k: (rank(done[k]['row']), int(k.rsplit('seed', 1)[1]))):
    e = done[key]
    path = 'source' if e['row'].split('+')[0] == 'source_only' else 'target'
    results = {s: {**e[s], 'path': 'source' if s.startswith('source') else path}
               for s in ('source_test', 'target_validation', 'target_test',
                         'target_test_exact') if s in e}
    diagnostics = None
    if 'diagnostics' in e:
      diagnostics = {s: {p: v for p, v in d.items() if isinstance(v, dict)}
                     for s, d in e['diagnostics'].items() if s in results}
    predictions = e.get('predictions')
    if predictions and workroot and not os.path.isfile(predictions):
      predictions = os.path.join(workroot, key.replace('/', '_'), 'evaluate',
                                 os.path.basename(predictions))
    found.append(runs_lib.TrainedRun(name=e['row'], results=results, seed=e['seed'],
                                   diagnostics=diagnostics, seconds=e['seconds'],
                                   predictions=predictions))
  return found
