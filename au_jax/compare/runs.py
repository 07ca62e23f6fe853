"""A trained run's record, rows of runs, and what a run scored.

Everything else in `au_jax.compare` reads runs through these: `TrainedRun` holds one
model's recorded scores, a `Row` the runs of one configuration, and `f1`, `score` and
`diagnostic` read a mean score (%) of a split out of a run.
"""

import dataclasses
import math


@dataclasses.dataclass
class TrainedRun:
  """One trained model's scores.

  results: {split: {'au_ids', 'f1', 'f1_mean', ...}} (WORKDIR/results.json);
  diagnostics: {split: {path: {'f1_mean', 'f1_tuned_mean', 'auc_mean', ...}}} or None;
  config: the flat config {'loss.sr': 100.0, ...}; fold: 'fold0'... for a fold run.
  """
  name: str
  results: dict
  seed: int | None = None
  fold: str | None = None
  workdir: str | None = None
  label: str | None = None   # how the differences table calls it
  diagnostics: dict | None = None
  config: dict | None = None
  provenance: dict | None = None
  seconds: float | None = None
  predictions: str | None = None  # the .npz of per-image probabilities, if kept


@dataclasses.dataclass
class Row:
  name: str
  runs: list

  @property
  def unit(self):
    """'seed' or 'fold': what varies between the runs of the row."""
    folds = {r.fold for r in self.runs}
    return 'fold' if len(folds) > 1 else 'seed'


def group(runs):
  """Rows in order of first appearance; runs with the same name share one."""
  rows = {}
  for run in runs:
    rows.setdefault(run.name, Row(run.name, [])).runs.append(run)
  return list(rows.values())


def target_split(run):
  """The wild (target) test split: 'target_test', else the last target split."""
  if 'target_test' in run.results:
    return 'target_test'
  names = [n for n, r in run.results.items()
           if r.get('domain', n.split('_')[0]) == 'target']
  return names[-1] if names else None


def source_split(run):
  """The source test split: 'source_test' or the run's test fold ('source_fold0')."""
  if 'source_test' in run.results:
    return 'source_test'
  names = [n for n, r in run.results.items()
           if r.get('domain', n.split('_')[0]) == 'source']
  return names[0] if names else None


def own_path(run, split):
  """The inference path the run's own scores of `split` used."""
  r = run.results.get(split, {})
  return r.get('path') or ('source' if split.startswith('source') else 'target')


def f1(run, split, au=None):
  """F1 (%) of `split`: the average, or of AU `au`; None where the run has none."""
  r = run.results.get(split) if split else None
  if r is None:
    return None
  if au is None:
    return pct(r['f1_mean'])
  ids = list(r.get('au_ids', []))
  return pct(r['f1'][ids.index(au)]) if au in ids else None


def diagnostic(run, split, path, key):
  """A value (%) of the run's diagnostics, e.g. (target_test, 'target', 'auc_mean')."""
  entry = ((run.diagnostics or {}).get(split) or {}).get(path) or {}
  return pct(entry.get(key))


# What each threshold-free score is called in results.json and in the diagnostics.
SCORES = {'auc': ('auc_mean', 'ROC-AUC'), 'ap': ('ap_mean', 'AP'),
          'f1_tuned': ('f1_tuned_mean', 'F1 at val. thresholds'), 'f1': ('f1_mean', 'F1')}


def score(run, split, metric):
  """A mean score (%) of `split` ('auc', 'ap', 'f1_tuned' or 'f1'): from the run's
  evaluation, else from its diagnostics (the run's own path); None if neither has it."""
  key = SCORES[metric][0]
  r = run.results.get(split) if split else None
  if r is not None and r.get(key) is not None:
    return pct(r[key])
  return diagnostic(run, split, own_path(run, split), key) if split else None


def pct(value):
  """A fraction in %, or None for a missing or NaN value."""
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return None
  return 100 * float(value)


def config_text(value):
  """A config value as a row name or the differences table shows it: '1,2' for (1, 2)."""
  return ','.join(map(str, value)) if isinstance(value, tuple) else str(value)
