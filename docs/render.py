"""Renders the docs' figures from the benchmark JSON files, so that no number is typed twice.

  python docs/render.py          # rewrite the pages below
  python docs/render.py --check  # exit 1 if one is stale (tests/test_docs.py)

docs/templates/NAME.md becomes docs/NAME.md; docs/templates/readme_results.md fills the
README's block between the `<!-- results -->` markers. A template is Markdown with
`{{ NAME(ARGUMENTS) }}` fields: NAME is one of FIELDS, the functions below, and the
arguments are Python literals (strings, numbers, tuples, lists), positional or
`key=value`; nothing else is evaluated. E.g. `{{ f1('table7_detected', 'default') }}` →
`40.1 ± 0.8` (wild test F1, mean ± population std over seeds, in %), or a whole table
with `{{ table('table7_synthau') }}`. Rerun it after a benchmark writes its JSON.
"""

import argparse
import ast
import functools
import json
import os
import re
import sys

import numpy as np

from au_jax import compare

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PAGES = ('results', 'experiments')
README_BLOCK = ('<!-- results: rendered from docs/templates/readme_results.md -->',
                '<!-- end of results -->')
FIELD = re.compile(r'\{\{(.+?)\}\}', re.S)


@functools.lru_cache(maxsize=None)
def load(name):
  with open(os.path.join(REPO, 'benchmarks', f'{name}.json'), encoding='utf-8') as f:
    return json.load(f)


@functools.lru_cache(maxsize=None)
def _rows(name):
  return {row.name: row for row in compare.group(compare.table7_runs(load(name)))}


def _row(name, row):
  rows = _rows(name)
  if row not in rows:
    raise KeyError(f'benchmarks/{name}.json has no row {row!r} (rows: {", ".join(rows)})')
  return rows[row]


AUS = (1, 2, 4, 6, 12, 17)  # the AUs of every SynthAU Table 7 run


def _per_au(run, split, au):
  r = run.results.get(split)
  ids = list(r.get('au_ids', AUS)) if r else []
  return 100 * r['f1'][ids.index(au)] if au in ids else None


def _value(split='target_test', au=None, path=None, key='f1_mean'):
  """A run -> the value (%) a column shows: F1 of `split` (of one AU), or a diagnostic."""
  if au is not None:
    return lambda r: _per_au(r, split, au)
  if path is None and key == 'f1_mean':
    return lambda r: compare.f1(r, split)
  own = lambda r: path or compare.own_path(r, split)
  return lambda r: compare.diagnostic(r, split, own(r), key)


def f1(name, row, split='target_test', au=None, show='mean_std', path=None, key='f1_mean',
       absent=None):
  """'48.8 ± 4.7': a row's score over its seeds (show 'mean', 'each' or 'count' too);
  `absent`: the text while the JSON has no such row (not run yet), else an error."""
  if absent is not None and row not in _row_names(name):
    return absent
  column = compare.Column('', _value(split, au, path, key), show=show, bare_single=True)
  return compare.cell(_row(name, row), column)


def mean(name, row, split='target_test', au=None, path=None, key='f1_mean'):
  values = [v for v in map(_value(split, au, path, key), _row(name, row).runs)
            if v is not None]
  return float(np.mean(values))


def std(name, row, split='target_test'):
  """'3.0': the population std of a row's score over its seeds (points)."""
  return f'{np.std([compare.f1(r, split) for r in _row(name, row).runs]):.1f}'


def diff(name_a, row_a, name_b, row_b, split='target_test'):
  """'+18.7': the difference of two rows' means (points)."""
  return f'{mean(name_a, row_a, split) - mean(name_b, row_b, split):+.1f}'


def _not_for_source_only(value):
  return lambda r: None if compare.own_path(r, 'target_test') == 'source' else value(r)


_col = functools.partial(compare.Column, bare_single=True)
COLUMNS = {
    'seeds': _col('seeds', show='count'),
    'wild': _col('wild test F1', _value()),
    'lab': _col('lab test F1', _value('source_test')),
    'per_seed': _col('wild test F1 per seed', _value(), show='each'),
    'tuned': _col('F1 at val. thresholds', _value(key='f1_tuned_mean')),
    'auc': _col('ROC-AUC', _value(key='auc_mean')),
    'wildstats': _col('target path, wild E_au statistics',
                      _not_for_source_only(_value(path='target_wildstats'))),
    'direct': _col('direct path', _not_for_source_only(_value(path='direct'))),
    'lab_own': _col("lab test F1, the source path's own statistics",
                    _value('source_test', path='source_labstats')),
    'minutes': _col('minutes per run', lambda r: r.seconds / 60, show='mean', digits=0),
    # Scores of the run's own evaluation (the protocol's JSONs): wild test, its exact-
    # landmark control and the lab test split.
    'auc_own': _col('ROC-AUC', lambda r: compare.score(r, 'target_test', 'auc')),
    'ap_own': _col('AP', lambda r: compare.score(r, 'target_test', 'ap')),
    'tuned_own': _col('F1 at val. thresholds',
                      lambda r: compare.score(r, 'target_test', 'f1_tuned')),
    'control_auc': _col('control ROC-AUC',
                        lambda r: compare.score(r, 'target_test_exact', 'auc')),
    'lab_auc': _col('lab test ROC-AUC', lambda r: compare.score(r, 'source_test', 'auc')),
}


def table(name, rows=None, columns=('seeds', 'wild', 'lab', 'per_seed'), aus=None,
          before=(), empty=None):
  """A Markdown table of a table7-style JSON: `rows` (default: all; 'FILE:ROW' takes a
  row of another file) by `columns` (names of COLUMNS), or with `aus` the wild test F1
  of each of those AUs (means over seeds). `before`: rows ('FILE:ROW' too) put before
  those; `empty`: the text in place of the table while the JSON has no row."""
  if empty is not None and not _row_names(name):
    return empty
  pick = lambda r: _row(*r.split(':', 1)) if ':' in r else _row(name, r)
  chosen = [pick(r) for r in before] + ([pick(r) for r in rows] if rows
                                        else list(_rows(name).values()))
  if aus:
    cols = [_col(f'AU{a}', _value(au=a), show='mean') for a in aus]
  else:
    cols = [COLUMNS[c] for c in columns]
  return compare.markdown(chosen, cols)


def value(name, *keys, digits=1, scale=100.0):
  """A number of any JSON by its keys, e.g. value('synthau_landmarks', 'detector/small',
  'recall') → '78.7'."""
  v = load(name)
  for k in keys:
    v = v[k]
  return f'{scale * float(v):.{digits}f}'


def landmark_table(kind='error'):
  """benchmarks/synthau_landmarks.json as a table per preset: 'error' (recall, NME and
  the error per landmark group, inter-ocular distances) or 'retention' (per AU)."""
  entries = {k.split('/', 1)[1]: v for k, v in load('synthau_landmarks').items()
             if k.startswith('detector/')}
  if kind == 'error':
    groups = ('brows', 'eyes', 'nose', 'mouth', 'jaw')
    lines = ['| preset | recall | NME (49 points) | ' + ' | '.join(groups) + ' |',
             '|---|---|---|' + '---|' * len(groups)]
    for preset, e in entries.items():
      lines.append(f"| {preset} | {100 * e['recall']:.1f} % | {e['nme49_mean']:.3f} | "
                   + ' | '.join(f"{e['group_error'][g]:.3f}" for g in groups) + ' |')
  else:
    aus = list(next(iter(entries.values()))['retention'])
    lines = ['| preset | ' + ' | '.join(aus) + ' |', '|---|' + '---|' * len(aus)]
    for preset, e in entries.items():
      lines.append(f'| {preset} | ' + ' | '.join(f"{e['retention'][a]:.2f}" for a in aus)
                   + ' |')
  return '\n'.join(lines)


def landmarks(key, who, *path, digits=2):
  """A measurement of benchmarks/synthau_landmarks.json, e.g. landmarks(
  'branch/G+branch+wild_seed0', 'dlib', 'retention', 'AU12')."""
  return value('synthau_landmarks', key, who, *path, digits=digits, scale=1)


def probe(key, *path, name='table7_investigation', digits=1, scale=100.0):
  """A number of one run or probe of an investigation file: probe('early:G+sep/seed0')
  is that run's wild test F1 at 0.5; more keys walk into the entry (e.g. 'diagnostics',
  'target_test', 'target', 'auc_mean'), scale 1 for values already in %."""
  return value(name, key, *(path or ('target_test', 'f1_mean')), digits=digits, scale=scale)


def adabn(kind='statistics_all_modules_from_wild'):
  """Source-only with batch statistics re-estimated on wild images: mean ± std over seeds."""
  runs = load('table7_investigation')['source_only+AdaBN']
  v = [e['wild_test_f1_at_0.5'][kind] for k, e in runs.items() if k.endswith(tuple('0123456789'))]
  return f'{np.mean(v):.1f} ± {np.std(v):.1f}'


def crossval_table(name):
  """An `au-jax crossval` crossval.json: per-AU F1 (%) and the average, mean ± std over
  folds, one line per split."""
  d = load(name)
  aus = d['au_ids']
  lines = ['| split | ' + ' | '.join(f'AU{a}' for a in aus) + ' | Avg. |',
           '|---|' + '---|' * (len(aus) + 1)]
  for split in d['splits'].values():
    per_fold = np.array([f['f1'] + [f['f1_mean']] for f in split['per_fold']]) * 100
    cells = [f'{m:.1f} ± {s:.1f}' for m, s in zip(per_fold.mean(0), per_fold.std(0))]
    lines.append(f"| {split['title']} ({split['path']} path) | " + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def _row_names(name):
  """The row names of a table7-style JSON (an absent file has none)."""
  if not os.path.isfile(os.path.join(REPO, 'benchmarks', f'{name}.json')):
    return []
  return list(_rows(name))


def missing(name, wanted):
  """'A, G+branch+wild': the rows of `wanted` that the JSON does not have yet, or 'none'."""
  return ', '.join(r for r in wanted if r not in _row_names(name)) or 'none'


def with_rows(prefix, suffixes, none='none'):
  """'0.25, 0.50': the `suffixes` whose JSON PREFIX+SUFFIX has a row yet, or `none`."""
  return ', '.join(s for s in suffixes if _row_names(prefix + s)) or none


def pseudo_quality_table(aus=AUS):
  """benchmarks/pseudo_label_quality.json: how good each set of pseudo labels is."""
  lines = ['| pseudo labels | images labelled | F1 (AUs ' + ', '.join(map(str, aus)) +
           ') | F1 per AU | said present, per AU (truly present) |', '|---|---|---|---|---|']
  for name, e in load('pseudo_label_quality').items():
    per = [e['f1'][f'AU{a}'] for a in aus]
    rates = ', '.join(f"{e['positive_rate'][f'AU{a}']:.0f} ({e['true_rate'][f'AU{a}']:.0f})"
                      for a in aus)
    lines.append(f"| {name} | {e['labelled']} of {e['images']} | {np.mean(per):.1f} | "
                 + ', '.join(f'{v:.1f}' for v in per) + f' | {rates} |')
  return '\n'.join(lines)


def difference_table(name, baseline, metric='auc', rows=None):
  """The differences to `baseline` kept by `table7.py --baseline ... --save-differences
  benchmarks/NAME.json`, as au-jax compare prints them (`rows`: those, in that order)."""
  kept = load(name)[f'{baseline}/{metric}']
  diffs = [compare.Difference(**d) for d in kept['rows']]
  if rows:
    by_name = {d.row: d for d in diffs}
    diffs = [by_name[r] for r in rows]
  return compare.differences_markdown_to(diffs, baseline, kept['samples'])


def score(name, row, metric='auc', split='target_test'):
  """'90.5 ± 0.5': a row's score of its own evaluation (auc, ap, f1_tuned, f1), mean ±
  population std over its seeds."""
  values = [compare.score(r, split, metric) for r in _row(name, row).runs]
  return (f'{values[0]:.1f}' if len(values) == 1
          else f'{np.mean(values):.1f} ± {np.std(values):.1f}')


def seeds(name, row):
  """'3 seeds', or 'seed 0' for a row with one seed: which seeds a score is over."""
  runs = _row(name, row).runs
  return f'seed {runs[0].seed}' if len(runs) == 1 else f'{len(runs)} seeds'


def scores(name, row, metric='auc', split='target_test'):
  """'68.4, 86.6, ...': a row's score of its own evaluation, seed by seed."""
  return ', '.join(f'{compare.score(r, split, metric):.1f}' for r in _row(name, row).runs)


def difference(name, baseline, row, metric='auc'):
  """'+5.1 [+1.2, +9.0]': a row's mean difference to `baseline` and its t interval (with
  one seed, that seed's bootstrap interval over the test images, said so)."""
  d = next(compare.Difference(**d) for d in load(name)[f'{baseline}/{metric}']['rows']
           if d['row'] == row)
  (low, high), over = d.shown_interval()
  note = ' (one seed; interval over test images)' if over == 'images' else ''
  return f'{d.mean:+.1f} [{low:+.1f}, {high:+.1f}]{note}'


def levels_table(prefix, levels, rows, metric='auc'):
  """Each row's score (mean ± std over seeds, and the seed count) per JSON PREFIX+LEVEL;
  '–' where a row has not run at a level yet."""
  lines = ['| row | ' + ' | '.join(levels) + ' |', '|---|' + '---|' * len(levels)]
  for row in rows:
    cells = [f"{score(prefix + lv, row, metric)} ({f1(prefix + lv, row, show='count')})"
             if row in _row_names(prefix + lv) else '–' for lv in levels]
    lines.append(f'| {row} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def crossover_table(name='calibrated_crossover'):
  """benchmarks/calibrated_crossover.json (benchmarks/plot_calibrated.py): each row's
  difference to source-only per calibrated level, and its crossover R*."""
  kept = load(name)
  levels = sorted({level['r'] for row in kept.values() for level in row['levels']})
  lines = ['| row | ' + ' | '.join('exact' if r == 1 else f'R = {r:g}' for r in levels)
           + ' | R* [95 % interval] |', '|---|' + '---|' * (len(levels) + 1)]
  for row, entry in kept.items():
    by_r = {level['r']: level for level in entry['levels']}
    cells = [(f"{by_r[r]['mean']:+.1f} [{by_r[r]['low']:+.1f}, {by_r[r]['high']:+.1f}]"
              f" ({by_r[r]['seeds']})") if r in by_r else '–' for r in levels]
    low, high = entry['r_star_interval']
    lines.append(f"| {row} | " + ' | '.join(cells) + f" | {entry['r_star']} [{low}, {high}] |")
  return '\n'.join(lines)


# What a template's fields may call, by name.
FIELDS = {f.__name__: f for f in (f1, std, diff, table, value, landmark_table, landmarks,
                                   pseudo_quality_table, missing, with_rows, probe, adabn,
                                   crossval_table, difference_table, difference, scores,
                                   score, seeds, crossover_table, levels_table)}


def _literal(node):
  """The value of a field's argument: a string, a number, or a tuple or list of them."""
  if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float)):
    return node.value
  if isinstance(node, (ast.Tuple, ast.List)):
    items = [_literal(n) for n in node.elts]
    return tuple(items) if isinstance(node, ast.Tuple) else items
  if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
      and isinstance(node.operand, ast.Constant)
      and isinstance(node.operand.value, (int, float))):
    return -node.operand.value
  raise ValueError(f'{ast.unparse(node)} is not a literal (a string, number, tuple or list)')


def _call(text):
  """(function, args, kwargs) of a field's text NAME(ARGUMENTS), arguments literals."""
  try:
    call = ast.parse(text.strip(), mode='eval').body
  except SyntaxError:
    call = None
  if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
    raise ValueError('a field is NAME(ARGUMENTS), NAME one of ' + ', '.join(FIELDS))
  if call.func.id not in FIELDS:
    raise ValueError(f'{call.func.id!r} is not one of ' + ', '.join(FIELDS))
  if any(k.arg is None for k in call.keywords):
    raise ValueError('no **arguments: name each one')
  args = [_literal(a) for a in call.args]
  kwargs = {k.arg: _literal(k.value) for k in call.keywords}
  return FIELDS[call.func.id], args, kwargs


def render(text, where='template'):
  def field(match):
    try:
      function, args, kwargs = _call(match.group(1))
      return str(function(*args, **kwargs))
    except Exception as e:  # pylint: disable=broad-except
      raise SystemExit(f'{where}: {{{{{match.group(1).strip()}}}}}: '
                       f'{type(e).__name__}: {e}') from None
  return FIELD.sub(field, text)


def _read(path):
  with open(os.path.join(REPO, path), encoding='utf-8') as f:
    return f.read()


def rendered():
  """{path: its rendered text} for every page and the README."""
  out = {}
  for page in PAGES:
    template = f'docs/templates/{page}.md'
    header = (f'<!-- Rendered by docs/render.py from {template}: edit that, '
              'not this. -->\n')
    out[f'docs/{page}.md'] = header + render(_read(template), template)
  readme = _read('README.md')
  begin, end = README_BLOCK
  if begin not in readme or end not in readme:
    raise SystemExit(f'README.md: the markers {begin} ... {end} are missing')
  head, rest = readme.split(begin, 1)
  _, tail = rest.split(end, 1)
  block = render(_read('docs/templates/readme_results.md'), 'readme_results.md')
  out['README.md'] = f'{head}{begin}\n{block.strip()}\n{end}{tail}'
  return out


def stale():
  return [p for p, text in rendered().items() if _read(p) != text]


def main():
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--check', action='store_true', help='only say which pages are stale')
  args = p.parse_args()
  if args.check:
    pages = stale()
    for page in pages:
      print(f'{page} is stale: run python docs/render.py')
    return int(bool(pages))
  for path, text in rendered().items():
    with open(os.path.join(REPO, path), 'w', encoding='utf-8') as f:
      f.write(text)
    print(f'wrote {path}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
