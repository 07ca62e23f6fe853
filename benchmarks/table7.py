"""The Table 7 analogue on SynthAU: source-only and ablation rows, several seeds.

  python benchmarks/table7.py --data data/prepared --out benchmarks/table7_synthau.json \
      --rows source_only oracle A D F G --seeds 0 1 2 --diagnostics
  python benchmarks/table7.py ... --rows A G --statistics wild   # rows A+wild, G+wild

Each run trains configs/synthetic.py (both stages) into WORKROOT/ROW_seedS and records,
for every evaluation split of its best checkpoint (by wild-validation F1 at 0.5, the
one selection rule of docs/results.md): F1 at 0.5, F1 at thresholds chosen on wild
validation, ROC-AUC and average precision, per AU and on average; its per-image
probabilities stay in WORKROOT/ROW_seedS/evaluate/step_<N>_predictions.npz for the
intervals of --baseline. `--config` picks
another preset's config (configs/synthetic_medium.py: 128-pixel crops). Row `default`
takes configs/default.py's method choices (target heat maps, target-path statistics, one
or two extractors: the configuration shipped for real data) at the preset's sizes. Runs already in
the output file are skipped, so the command can be stopped and restarted. Prints mean ±
std per row. The oracle row trains E_au on ideal landmark maps (docs/method.md §10).
Row `source_only+AdaBN` is source-only with E_au's statistics re-estimated on wild
training images for wild images (au_jax/ablations.py).

--baseline ROW prints every row's difference to ROW (--metric, default ROC-AUC) with
95 % intervals: a paired bootstrap over the test images within a seed, and a t interval
over the per-seed differences (au_jax/compare/intervals.py). --evaluate-only
re-evaluates the runs in --out whose workdirs exist from their best checkpoints, with
the --set overrides (e.g. a new test split), and records the scores and predictions
again.

--diagnostics also runs `au-jax evaluate --diagnostics` on each trained run and keeps its
summary (F1 at 0.5, at validation thresholds and ROC-AUC per path, the target path with
E_au statistics from wild images, probes) in the entry; --diagnostics-only adds it to
the runs already in --out whose workdirs exist, without training.

--set KEY=VALUE (repeatable) overrides a config field for every run, e.g. the loss-scale
and schedule experiments of docs/experiments.md:

  python benchmarks/table7.py --rows G source_only --seeds 0 --tag long \
      --set stage2.epochs=24 --set stage2.constant_epochs=9 --set stage2.decay_epochs=15 \
      --out benchmarks/table7_investigation.json
"""

import argparse
import dataclasses
import json
import os
import time

import numpy as np

# The repository, for its config files; au_jax itself is the installed package.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--data', default='data/prepared')
  p.add_argument('--config', default=os.path.join(ROOT, 'configs', 'synthetic.py'),
                 help='the preset config every row starts from (default: %(default)s)')
  p.add_argument('--workroot', default='runs/table7')
  p.add_argument('--out', default='benchmarks/table7_synthau.json')
  p.add_argument('--rows', nargs='+', default=['source_only', 'oracle', 'A', 'D', 'F', 'G'])
  p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
  p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                 help='config override for every run (value parsed as a Python literal)')
  p.add_argument('--tag', default='', help='appended to the row name, e.g. G+long')
  p.add_argument('--statistics', choices=('mixed', 'wild'), default='mixed',
                 help="E_au's statistics on the target path (config.train."
                      "target_path_statistics): 'mixed' (ADLD's) or 'wild' (the target "
                      "path's own; rows named ROW+wild). Source-only and the oracle "
                      "have no target path and always run 'mixed'.")
  p.add_argument('--summary-only', action='store_true',
                 help='print the table of the runs in --out and exit')
  p.add_argument('--diagnostics', action='store_true',
                 help='evaluate each trained run with --diagnostics too')
  p.add_argument('--diagnostics-only', action='store_true',
                 help='add diagnostics to the runs in --out that lack them, then exit')
  p.add_argument('--evaluate-only', action='store_true',
                 help='re-evaluate the runs in --out whose workdirs exist (best '
                      'checkpoint, --set overrides applied), then exit')
  p.add_argument('--baseline', metavar='ROW',
                 help="print each row's difference to ROW with 95 %% intervals")
  p.add_argument('--metric', default='auc', choices=('auc', 'ap', 'f1_tuned', 'f1'),
                 help='what --baseline compares (default: %(default)s)')
  p.add_argument('--bootstrap', type=int, default=1000, metavar='N',
                 help='--baseline: resamplings of the test images (default: %(default)s)')
  p.add_argument('--save-differences', metavar='JSON',
                 help="--baseline: also keep the differences in JSON under 'BASELINE/"
                      "METRIC' (the docs render them: runs/ is not committed)")
  p.add_argument('--rediagnose', action='store_true',
                 help='with --diagnostics-only: recompute them for every run whose '
                      'workdir exists (after the diagnostics gained a column)')
  args = p.parse_args()

  overrides = parse_overrides(args.set)
  done = json.load(open(args.out)) if os.path.isfile(args.out) else {}
  report = dict(workroot=args.workroot, baseline=args.baseline, metric=args.metric,
                samples=args.bootstrap, save=args.save_differences)
  if args.summary_only:
    summarize(done, **report)
    return
  if args.evaluate_only:
    for key, entry in done.items():
      if not isinstance(entry, dict) or entry.get('row') in (None, 'oracle'):
        continue
      workdir = os.path.join(args.workroot, key.replace('/', '_'))
      if os.path.isdir(workdir):
        entry.update(evaluation(workdir, args.data, overrides))
        print(f'{key}: evaluated again', flush=True)
        with open(args.out, 'w') as f:
          json.dump(done, f, indent=1)
    summarize(done, **report)
    return
  if args.diagnostics_only:
    for key, entry in done.items():
      workdir = os.path.join(args.workroot, key.replace('/', '_'))
      missing = 'diagnostics' not in entry or args.rediagnose
      if missing and entry['row'] != 'oracle' and os.path.isdir(workdir):
        entry['diagnostics'] = diagnose(workdir, args.data)
        print(f'{key}: diagnostics added', flush=True)
        with open(args.out, 'w') as f:
          json.dump(done, f, indent=1)
    summarize(done, **report)
    return
  from au_jax import config_lib, oracle, train  # pylint: disable=g-import-not-at-top
  for seed in args.seeds:
    for row in args.rows:
      has_target_path = row not in ('source_only', 'source_only+AdaBN', 'oracle')
      statistics = args.statistics if has_target_path else 'mixed'
      if row == 'default':
        shipped = default_choices()
        statistics = shipped['target_path_statistics']
      name = row + (f'+{args.tag}' if args.tag else '') + (
          '+wild' if statistics == 'wild' and row != 'default' else '')
      key = f'{name}/seed{seed}'
      if key in done:
        continue
      config = config_lib.load_config(args.config)
      config.data.data_dir = args.data
      config.seed = seed
      config.ablation = '' if row in ('full', 'oracle', 'default') else row
      if row == 'default':
        config.loss.target_heatmaps = shipped['target_heatmaps']
        config.model.share_feature_encoder = shipped['share_feature_encoder']
        config.model.target_path = shipped['target_path']
        config.train.source_path_statistics = shipped['source_path_statistics']
        config.loss.heatmap_targets = shipped['heatmap_targets']
      # Set here, whatever configs/synthetic.py says, so that a row name means one setting.
      config.train.target_path_statistics = statistics
      if row != 'default':  # ADLD's, as the recorded rows ran; diagnostics add 'lab'
        config.train.source_path_statistics = 'mixed'
      set_fields(config, overrides)
      start = time.time()
      workdir = os.path.join(args.workroot, f'{name}_seed{seed}')
      if row == 'oracle':  # E_au on ideal landmark maps: the target path's ceiling
        from au_jax.data import PreparedData  # pylint: disable=g-import-not-at-top
        config = config_lib.prepare_config(config)
        scores = {s: kept_scores(r) for s, r in
                  oracle.train_oracle(config, PreparedData(config)).items()}
      else:
        train.train_and_evaluate(config, workdir)
        # Evaluated again from the best checkpoint: the same scores, and the per-image
        # probabilities of every split.
        scores = evaluation(workdir, args.data)
      done[key] = {'row': name, 'seed': seed, 'seconds': time.time() - start,
                   'overrides': args.set, 'config': os.path.relpath(args.config, ROOT),
                   **({'default_choices': shipped} if row == 'default' else {}),
                   **scores}
      if args.diagnostics and row != 'oracle':
        done[key]['diagnostics'] = diagnose(
            os.path.join(args.workroot, f'{name}_seed{seed}'), args.data)
      with open(args.out, 'w') as f:
        json.dump(done, f, indent=1)
  summarize(done, **report)
  reference = all_positive_f1(args.data, args.config, overrides)
  print('predicting every AU present: ' + ', '.join(
      f'{split} F1 {100 * f1:.1f}' for split, f1 in reference.items()))


KEPT = ('f1_mean', 'f1', 'accuracy_mean', 'f1_tuned_mean', 'f1_tuned', 'thresholds',
        'auc_mean', 'auc', 'ap_mean', 'ap', 'labelled')


def kept_scores(r):
  """What an entry keeps of one split's scores."""
  return {k: r[k] for k in KEPT if k in r}


def evaluation(workdir, data_dir, overrides=()):
  """The entry's scores of a trained workdir's best checkpoint, {split: scores} plus
  'step', 'selection' and 'predictions' (the .npz of per-image probabilities)."""
  from au_jax import config_lib, evaluate  # pylint: disable=g-import-not-at-top
  config = config_lib.load_saved_config(workdir)
  config.data.data_dir = data_dir
  # What is read, not what was trained.
  set_fields(config, [(field, value) for field, value in overrides
                      if field.startswith('data.') or field == 'train.eval_batch_size'])
  folder = os.path.join(workdir, 'evaluate')
  results, step, _ = evaluate.evaluate_checkpoint(config, workdir, predictions=folder)
  return {'step': step, 'predictions': evaluate.predictions_file(folder, step),
          'selection': f'best {config.train.best_split} F1 at 0.5',
          **{split: kept_scores(r) for split, r in results.items()}}


def diagnose(workdir, data_dir):
  """The summary of `au-jax evaluate --diagnostics` kept in an entry: per test split and
  path F1 at 0.5, F1 at the validation thresholds and ROC-AUC; E_l's cell accuracy; the
  probes' mean F1."""
  from au_jax import config_lib, evaluate  # pylint: disable=g-import-not-at-top
  config = config_lib.load_saved_config(workdir)
  config.data.data_dir = data_dir
  _, _, report = evaluate.evaluate_checkpoint(config, workdir, diagnostics=True)
  out = {'threshold_split': report['threshold_split']}
  for split in ('source_test', 'target_test'):
    r = report['splits'][split]
    out[split] = {'landmark_cell_accuracy': r['landmark_cell_accuracy']}
    for path, v in r['paths'].items():
      out[split][path] = {k: v[k] for k in ('f1_mean', 'f1_tuned_mean', 'auc_mean') if k in v}
  out['probes'] = {feature: {split: v[split]['f1_mean'] for split in ('source_test', 'target_test')}
                   for feature, v in report['probes'].items() if isinstance(v, dict)}
  return out


def default_choices():
  """configs/default.py's method choices, the ones row `default` runs."""
  from au_jax import config_lib  # pylint: disable=g-import-not-at-top
  c = config_lib.load_config(os.path.join(ROOT, 'configs', 'default.py'))
  return {'target_heatmaps': c.loss.target_heatmaps,
          'target_path_statistics': c.train.target_path_statistics,
          'source_path_statistics': c.train.source_path_statistics,
          'heatmap_targets': c.loss.heatmap_targets,
          'share_feature_encoder': c.model.share_feature_encoder,
          'target_path': c.model.target_path}


def all_positive_f1(data_dir, config_path, overrides=()):
  """Average F1 of the trivial detector that says every AU is present, per test split:
  the floor any row must beat (F1 rewards saying "present" when AUs are frequent). The
  runs' --set overrides apply (e.g. data.target)."""
  from au_jax import config_lib, metrics  # pylint: disable=g-import-not-at-top
  from au_jax.data import PreparedData  # pylint: disable=g-import-not-at-top
  config = config_lib.load_config(config_path)
  config.data.data_dir = data_dir
  set_fields(config, overrides)
  data = PreparedData(config)
  out = {}
  for split in ('source_test', 'target_test'):
    batches = list(data.eval_batches(split, 100))
    valid = np.concatenate([b['valid'] for b in batches]) > 0
    labels = np.concatenate([b['au'] for b in batches])[valid]
    masks = np.concatenate([b['au_mask'] for b in batches])[valid]
    out[split] = float(metrics.au_scores(np.ones_like(labels, np.float32), labels,
                                         masks)['f1_mean'])
  return out


def parse_overrides(texts):
  """--set's KEY=VALUE texts as (field, value) pairs (config_lib.parse_override); a
  malformed one stops the script with one line."""
  from au_jax import config_lib  # pylint: disable=g-import-not-at-top
  try:
    return [config_lib.parse_override(text) for text in texts]
  except config_lib.ConfigError as e:
    raise SystemExit(f'--set {e}') from None


def set_fields(config, overrides):
  """Sets --set's (field, value) pairs in `config` (config_lib.apply_overrides); a field
  the config lacks, or a value of the wrong type, stops the script with one line."""
  from au_jax import config_lib  # pylint: disable=g-import-not-at-top
  try:
    config_lib.apply_overrides(config, overrides)
  except config_lib.ConfigError as e:
    raise SystemExit(f'--set {e}') from None


def keep_saved_intervals(rows, saved):
  """`rows` (saved Differences) with each per-seed bootstrap interval that `saved`, an
  earlier --save-differences of the same baseline, holds for a seed now shown without
  one. The per-image probabilities stay in WORKROOT (not in git), so a summary on
  another checkout recomputes a pair's difference from the recorded scores alone; the
  interval is kept only where that difference is the saved one."""
  before = {(r['row'], s[0]): s for r in saved for s in r['per_seed']}
  for row in rows:
    for i, (seed, value, interval) in enumerate(row['per_seed']):
      old = before.get((row['row'], seed))
      if interval is None and old and old[2] and abs(old[1] - value) < 1e-6:
        row['per_seed'][i] = (seed, value, tuple(old[2]))
  return rows


def summarize(done, workroot=None, baseline=None, metric='auc', samples=1000, save=None):
  """Markdown tables (au_jax.compare's rows and columns): mean ± std (population std
  over seeds) and the per-seed values; the threshold-free scores where recorded; the
  --diagnostics columns of the diagnosed seeds; with `baseline`, every row's difference
  to that row with its intervals (kept in the JSON file `save` too)."""
  from au_jax import compare  # pylint: disable=g-import-not-at-top
  Column = compare.Column  # pylint: disable=invalid-name
  runs = compare.table7_runs(done, workroot)
  wild = lambda r: compare.f1(r, 'target_test')
  print(compare.markdown(compare.group(runs), [
      Column('seeds', show='count'), Column('wild test F1', wild),
      Column('lab test F1', lambda r: compare.f1(r, 'source_test')),
      Column('wild test F1 per seed', wild, show='each'),
      Column('minutes per run', lambda r: r.seconds / 60, show='mean', digits=0)]))
  scored = [r for r in runs if compare.score(r, 'target_test', 'auc') is not None
            and (r.results.get('target_test') or {}).get('auc_mean') is not None]
  if scored:
    ranked = lambda split, m: lambda r: (compare.score(r, split, m)
                                         if split in r.results else None)
    print('\nwild test (and its exact-landmark control where evaluated), from each run\'s '
          'evaluation: F1 at 0.5 / at validation thresholds / ROC-AUC / average precision\n')
    print(compare.markdown(compare.group(scored), [
        Column('seeds', show='count'), Column('F1 at 0.5', wild),
        Column('F1 at val. thresholds', ranked('target_test', 'f1_tuned')),
        Column('ROC-AUC', ranked('target_test', 'auc')),
        Column('AP', ranked('target_test', 'ap')),
        Column('lab test ROC-AUC', ranked('source_test', 'auc')),
        Column('control ROC-AUC', ranked('target_test_exact', 'auc'))]))
  if baseline:
    rows = compare.group(runs)
    print(f'\ndifferences to {baseline}\n')
    diffs = compare.differences_to(rows, baseline, metric, samples)
    print(compare.differences_markdown_to(diffs, baseline, samples))
    if save:
      kept = json.load(open(save)) if os.path.isfile(save) else {}
      key = f'{baseline}/{metric}'
      rows_kept = [dataclasses.asdict(d) for d in diffs]
      if kept.get(key, {}).get('samples') == samples:
        rows_kept = keep_saved_intervals(rows_kept, kept[key]['rows'])
      kept[key] = {'samples': samples, 'rows': rows_kept}
      with open(save, 'w') as f:
        json.dump(kept, f, indent=1)
  diagnosed = [r for r in runs if r.diagnostics]
  if diagnosed:
    print('\nwild test, from --diagnostics (mean ± std over the diagnosed seeds): the row\'s '
          'own path at 0.5 / at validation thresholds / ROC-AUC; the target path with E_au '
          'statistics from wild images; the direct path E_au(E_f(I)) at 0.5\n')
    def own(key):
      return lambda r: compare.diagnostic(r, 'target_test',
                                          compare.own_path(r, 'target_test'), key)
    def other(path):
      return lambda r: (None if compare.own_path(r, 'target_test') == 'source' and
                        path == 'target_wildstats'
                        else compare.diagnostic(r, 'target_test', path, 'f1_mean'))
    print(compare.markdown(compare.group(diagnosed), [
        Column('seeds', show='count'), Column('F1 at 0.5', own('f1_mean')),
        Column('F1 at val. thresholds', own('f1_tuned_mean')),
        Column('ROC-AUC', own('auc_mean')),
        Column('target path, wild E_au statistics', other('target_wildstats')),
        Column('direct path', other('direct'))]))
  rows = {row.name: row.runs for row in compare.group(runs)}
  means = {row: np.mean([wild(r) for r in runs]) for row, runs in rows.items()}
  if all(r in means for r in ('source_only', 'A', 'G')):
    print(f"\nmeans over seeds: A − source-only {means['A'] - means['source_only']:+.1f}, "
          f"G − source-only {means['G'] - means['source_only']:+.1f}, "
          f"G − A {means['G'] - means['A']:+.1f} (wild test F1 points)")
  if all(r in means for r in ('source_only', 'A+wild', 'G+wild')):
    print(f"with the target path's own E_au statistics (train.target_path_statistics="
          f"'wild'): A − source-only {means['A+wild'] - means['source_only']:+.1f}, "
          f"G − source-only {means['G+wild'] - means['source_only']:+.1f}, "
          f"G − A {means['G+wild'] - means['A+wild']:+.1f}, "
          f"G − A (ADLD's statistics) {means['G+wild'] - means['A']:+.1f}")


if __name__ == '__main__':
  main()
