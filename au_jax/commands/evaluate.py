"""`au-jax evaluate`: the paper's tables for a trained checkpoint.

Per-AU F1 and accuracy with their averages for each source- and target-domain evaluation
split (Tables 2-5), landmark mean error and failure rate (Table 6); printed, and written
as JSON and CSV. The numbers come from `au_jax.train.evaluate`, the code training uses
for its own evaluations, on variables restored by `au_jax.inference.load`.
"""

import argparse
import csv
import json
import math
import os

HELP = """Evaluates the best (or --step) stage-2 checkpoint of a training workdir on the
evaluation splits of the config: config.data.source_eval_splits and
config.data.target_eval_splits of the prepared data sets in config.data.data_dir.
Source-domain splits use the source path, target-domain splits the reconstruction path
(a source-only model uses the source path for both). Frames with a missing AU label
(empty in the manifest, 9/999 in ADLD lists) are left out of that AU's scores.

Writes WORKDIR/evaluate/step_<N>.json and .csv (or --output-dir).
Config overrides follow ml_collections, e.g. --config.data.data_dir=/data/prepared.
"""


def add_parser(subparsers):
  from au_jax.commands import train  # pylint: disable=g-import-not-at-top
  p = subparsers.add_parser('evaluate', help='print the paper tables of a checkpoint',
                            description=HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
  train.add_config_args(p)
  p.add_argument('--split', action='append', metavar='NAME',
                 help='evaluate only this split (repeatable): a name such as '
                      'target_test, or a split name such as test; default: all')
  p.add_argument('--step', type=int,
                 help='the checkpoint step (default: the best by validation F1)')
  p.add_argument('--output-dir', metavar='DIR',
                 help='where the JSON and CSV go (default: WORKDIR/evaluate)')
  p.add_argument('--diagnostics', action='store_true',
                 help='also: F1 at 0.5, F1 at thresholds chosen on the validation split '
                      'and ROC-AUC of the source, target and direct paths; E_l landmark '
                      'accuracy; linear AU probes on F_l, G_st output and F_b '
                      '(writes step_<N>_diagnostics.json)')
  p.set_defaults(func=run, accepts_extra_args=True)


def select_splits(available, wanted):
  """The split names of `available` ({name: domain}) that `wanted` asks for, in order."""
  if not wanted:
    return list(available)
  from au_jax.inference import InputError  # pylint: disable=g-import-not-at-top
  chosen = []
  for name in wanted:
    matches = [n for n in available if n == name or n.split('_', 1)[1] == name]
    if len(matches) != 1:
      why = 'is ambiguous' if matches else 'is not an evaluation split'
      raise InputError(f'--split {name} {why}; the config has '
                       f'{", ".join(available) or "none"}')
    if matches[0] not in chosen:
      chosen.append(matches[0])
  return chosen


def check_same_model(config, workdir):
  """InputError if `config` asks for other AUs or another crop size than training used.

  (Other architecture differences show up as shape mismatches in `inference.load`.)
  """
  from au_jax import reporting  # pylint: disable=g-import-not-at-top
  from au_jax.inference import InputError  # pylint: disable=g-import-not-at-top
  if not os.path.isfile(os.path.join(workdir, 'config.json')):
    return
  saved = reporting.load_config(workdir).data
  for field in ('au_ids', 'crop_size'):
    mine, theirs = config.data[field], saved[field]
    if isinstance(mine, (list, tuple)):
      mine, theirs = tuple(mine), tuple(theirs)
    if mine != theirs:
      raise InputError(f'config.data.{field}={mine} but {workdir} was trained with '
                       f'{theirs}')


def evaluate_checkpoint(config, workdir, *, step=None, splits=None, data=None,
                        diagnostics=False):
  """(results {split: scores} as au_jax.train.evaluate returns them, step, and the
  report of au_jax.diagnostics.diagnose or None)."""
  import jax  # pylint: disable=g-import-not-at-top
  from au_jax import inference, train  # pylint: disable=g-import-not-at-top
  check_same_model(config, workdir)
  mesh = train.make_mesh()
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  predictor = inference.load(workdir, step=step, config=config, sharding=replicated)
  if data is None:
    from au_jax.data import PreparedData  # pylint: disable=g-import-not-at-top
    data = PreparedData(config, jax.process_index(), jax.process_count())
  names = select_splits(data.eval_splits, splits)
  batch = config.train.eval_batch_size
  if batch % jax.device_count():  # batches are sharded over the devices
    config.train.eval_batch_size = math.ceil(batch / jax.device_count()) * \
        jax.device_count()
  results = train.evaluate(predictor.model, predictor.variables, data, config, mesh, names)
  report = None
  if diagnostics:
    from au_jax import diagnostics as diag  # pylint: disable=g-import-not-at-top
    if jax.process_count() > 1:
      raise InputError('--diagnostics runs on one process')
    report = diag.diagnose(predictor.model, predictor.variables, data, predictor.config)
  return {n: results[n] for n in names}, predictor.step, report


# -- output --------------------------------------------------------------------------------

def _pct(v):
  return '    -' if v is None or (isinstance(v, float) and math.isnan(v)) else \
      f'{100 * v:5.1f}'


def format_tables(results, step):
  """Tables 2-5 (per-AU F1 / accuracy, % and average) by domain, then Table 6."""
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
  with open(path, 'w', encoding='utf-8') as f:
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


def run(args):
  import jax  # pylint: disable=g-import-not-at-top
  from au_jax.commands import train as train_cmd  # pylint: disable=g-import-not-at-top
  config = train_cmd.load_config(args)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.set_visible_devices([], 'GPU')  # tf.data only; the accelerators are JAX's
  results, step, report = evaluate_checkpoint(
      config, args.workdir, step=args.step, splits=args.split,
      diagnostics=args.diagnostics)
  if jax.process_index() != 0:
    return 0
  print(format_tables(results, step))
  out = args.output_dir or os.path.join(args.workdir, 'evaluate')
  os.makedirs(out, exist_ok=True)
  base = os.path.join(out, f'step_{step}')
  write_json(base + '.json', results, step, os.path.abspath(args.workdir))
  with open(base + '.csv', 'w', newline='', encoding='utf-8') as f:
    csv.writer(f).writerows(csv_rows(results, step))
  written = f'{base}.json and {base}.csv'
  if report is not None:
    from au_jax import diagnostics  # pylint: disable=g-import-not-at-top
    print('\n' + diagnostics.format_report(report))
    with open(base + '_diagnostics.json', 'w', encoding='utf-8') as f:
      json.dump(report, f, indent=1)
    written = f'{base}.json, {base}.csv and {base}_diagnostics.json'
  print(f'\nwrote {written}')
  return 0
