"""`au-jax evaluate`: the paper's tables for a trained checkpoint.

Parses the arguments, calls `au_jax.evaluate.evaluate_checkpoint` (the evaluation that
training runs at every epoch) and prints and writes its tables.
"""

import argparse
import csv
import io
import json
import os

from au_jax import config_lib

HELP = """Evaluates the best (or --step) stage-2 checkpoint of a training workdir on the
evaluation splits of the config: config.data.source_eval_splits and
config.data.target_eval_splits of the prepared data sets in config.data.data_dir.
Source-domain splits use the source path, target-domain splits the config's target
path, model.target_path: 'direct', E_au(E_f(I)) (configs/default.py), or
'reconstruction', E_au(G_st(F_l, G_b(F))) (configs/paper.py). A source-only model uses
the source path for both. Frames with a missing AU label
(empty in the manifest, 9/999 in ADLD lists) are left out of that AU's scores.

Beside F1 and accuracy at 0.5: F1 at per-AU thresholds chosen on the validation split
(config.train.best_split), ROC-AUC and average precision, per AU and on average.

Writes WORKDIR/evaluate/step_<N>.json and .csv (or --output-dir), and
step_<N>_predictions.npz: every evaluated image's AU probabilities, labels and label
masks, which `au-jax compare --baseline` resamples for its confidence intervals.
Config overrides follow ml_collections, e.g. --config.data.data_dir=/data/prepared.
"""


def add_parser(subparsers):
  p = subparsers.add_parser('evaluate', help='print the paper tables of a checkpoint',
                            description=HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
  config_lib.add_config_args(p)
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


def run(args):
  import jax  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from au_jax import diagnostics, evaluate  # pylint: disable=g-import-not-at-top
  config = config_lib.from_command_line(args.config, args.extra_args)
  tf.config.set_visible_devices([], 'GPU')  # tf.data only; the accelerators are JAX's
  out = args.output_dir or os.path.join(args.workdir, 'evaluate')
  results, step, report = evaluate.evaluate_checkpoint(
      config, args.workdir, step=args.step, splits=args.split,
      diagnostics=args.diagnostics, predictions=out)
  if jax.process_index() != 0:
    return 0
  print(evaluate.format_tables(results, step))
  from au_jax import paths  # pylint: disable=g-import-not-at-top
  paths.resolve(out).mkdir(parents=True, exist_ok=True)
  base = paths.join(out, f'step_{step}')
  evaluate.write_json(base + '.json', results, step, os.fspath(paths.resolve(args.workdir)))
  table = io.StringIO(newline='')
  csv.writer(table).writerows(evaluate.csv_rows(results, step))
  paths.resolve(base + '.csv').write_text(table.getvalue(), encoding='utf-8')
  written = f'{base}.json, {base}.csv, {base}_predictions.npz'
  if report is not None:
    print('\n' + diagnostics.format_report(report))
    with paths.resolve(base + '_diagnostics.json').open('w', encoding='utf-8') as f:
      json.dump(report, f, indent=1)
    written += f' and {base}_diagnostics.json'
  print(f'\nwrote {written}')
  return 0
