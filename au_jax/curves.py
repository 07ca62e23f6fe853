"""Training curves: WORKDIR/curves.png, drawn from WORKDIR/metrics.jsonl.

One small panel per loss term and stage (the terms differ by orders of magnitude, so
they do not share an axis), then each stage's evaluations: average F1 per split over
steps. Training writes it at the end of a run; `au-jax summary WORKDIR --plot` redraws
it at any time, also during a run.
"""

import json
import math
import os

from au_jax import paths

FILE = 'curves.png'
_STAGE_ORDER = {'1': 0, '2': 1, 'source_only': 2}


def read_metrics(path):
  """(train, evals): {stage: {term: [(step, value)]}}, {stage: {split: [(step, F1)]}}.

  A resumed run repeats the steps after its last checkpoint in metrics.jsonl; the last
  record of a step wins, as it is the one the checkpoint continued from. Learning rates
  (`lr/...`) are not loss terms and are left out.
  """
  train, evals = {}, {}
  with paths.resolve(path).open(encoding='utf-8') as f:
    for line in f:
      line = line.strip()
      if not line:
        continue
      try:
        r = json.loads(line)
      except json.JSONDecodeError:
        continue  # a line cut short by a killed run
      stage, step = r.get('stage'), r.get('step')
      if r.get('kind') == 'train':
        for key, value in r.items():
          if key in ('stage', 'step', 'kind') or key.startswith('lr/'):
            continue
          train.setdefault(stage, {}).setdefault(key, {})[step] = value
      elif r.get('kind') == 'eval':
        evals.setdefault(stage, {}).setdefault(r['split'], {})[step] = r['f1_mean']
  sort = lambda tree: {
      s: {k: sorted(v.items()) for k, v in tree[s].items()}
      for s in sorted(tree, key=lambda s: (_STAGE_ORDER.get(s, 9), s))}
  return sort(train), sort(evals)


def _terms(stage_terms):
  """The total first, the discriminators' total next, then the terms by name; terms that
  are zero throughout (switched off) are dropped."""
  names = [k for k, points in stage_terms.items() if any(v for _, v in points)]
  first = [k for k in ('loss', 'loss_d') if k in names]
  return first + sorted(k for k in names if k not in first)


def _label(stage):
  return f'stage {stage}' if stage in ('1', '2') else stage.replace('_', '-')


def plot(workdir, out=None):
  """Draws the curves of WORKDIR/metrics.jsonl into `out` (default WORKDIR/curves.png);
  returns the path written."""
  # The figure API without pyplot: switching pyplot's backend here would stop a notebook
  # that trains (colab/quickstart.ipynb) from showing its own plots afterwards.
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top

  source = paths.join(workdir, 'metrics.jsonl')
  if not paths.resolve(source).is_file():
    raise FileNotFoundError(f'{source} not found: is {workdir} a training workdir?')
  train, evals = read_metrics(source)
  panels = [('loss', s, k) for s in train for k in _terms(train[s])]
  panels += [('eval', s, None) for s in evals]
  if not panels:
    raise FileNotFoundError(f'{source} holds no training step yet')
  cols = min(4, len(panels))
  rows = math.ceil(len(panels) / cols)
  fig = Figure(figsize=(3.6 * cols, 2.6 * rows))
  axes = fig.subplots(rows, cols, squeeze=False)
  for ax, (kind, stage, term) in zip(axes.flat, panels):
    if kind == 'loss':
      steps, values = zip(*train[stage][term])
      ax.plot(steps, values, lw=1)
      ax.set_title(f'{_label(stage)}: {term}', fontsize=9)
      if min(values) > 0 and max(values) / min(values) > 100:
        ax.set_yscale('log')
    else:
      for split, points in evals[stage].items():
        steps, values = zip(*points)
        ax.plot(steps, [100 * v for v in values], marker='o', ms=3, lw=1, label=split)
      ax.set_title(f'{_label(stage)}: average F1 (%)', fontsize=9)
      ax.legend(fontsize=7)
    ax.set_xlabel('step', fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
  for ax in list(axes.flat)[len(panels):]:
    ax.axis('off')
  fig.suptitle(os.path.basename(os.path.normpath(workdir)), fontsize=10)
  fig.tight_layout()
  out = out or paths.join(workdir, FILE)
  with paths.resolve(out).open('wb') as f:  # a local file or a URL
    fig.savefig(f, dpi=90, format=os.path.splitext(out)[1][1:] or 'png')
  return out


def plot_after_training(workdir, log):
  """plot(), at the end of training: a failure to draw is reported, never fatal."""
  try:
    plot(workdir)
  except Exception as e:  # pylint: disable=broad-except
    log(f'curves.png not drawn: {type(e).__name__}: {e}')
