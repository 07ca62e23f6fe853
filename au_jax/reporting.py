"""What a user sees of a run: a progress line, TensorBoard summaries (CLU writer) and
WORKDIR/metrics.jsonl (docs/method.md §8: one JSON object per logged step or evaluation)."""

import contextlib
import json
import sys
import time

from clu import metric_writers
import jax
import numpy as np

from au_jax import evaluate
from au_jax import paths


def _fmt_time(seconds):
  seconds = int(max(seconds, 0))
  h, rest = divmod(seconds, 3600)
  m, s = divmod(rest, 60)
  return f'{h}h{m:02d}m' if h else f'{m}m{s:02d}s'


class Reporter:
  """Writes on process 0 only; the others stay quiet. WORKDIR may be a URL (gs://...)."""

  def __init__(self, workdir, stream=None):
    self.workdir = workdir
    self.main = jax.process_index() == 0
    self.stream = stream or sys.stdout
    folder = paths.resolve(workdir)
    if self.main:
      folder.mkdir(parents=True, exist_ok=True)
    self.writer = metric_writers.create_default_writer(
        workdir, just_logging=not self.main, asynchronous=False)
    self._files = contextlib.ExitStack()  # epath's open() is a context manager
    self.jsonl = self._files.enter_context(
        (folder / 'metrics.jsonl').open('a', encoding='utf-8')) if self.main else None
    self._t0 = self._step0 = self._total = self._spe = self._batch = None

  def log(self, message):
    if self.main:
      print(message, file=self.stream, flush=True)

  def _record(self, obj):
    if self.jsonl:
      self.jsonl.write(json.dumps(obj) + '\n')
      self.jsonl.flush()

  def start(self, stage, step, total, steps_per_epoch, batch_size):
    self._t0, self._step0, self._total = time.time(), step, total
    self._first = None
    self._spe, self._batch = steps_per_epoch, batch_size
    self.log(f'stage {stage}: steps {step}..{total}, {steps_per_epoch} steps per epoch, '
             f'global batch {batch_size}')

  def train_step(self, stage, step, logs):
    scalars = {k: float(v) for k, v in logs.items()}
    self.writer.write_scalars(step, {f'stage{stage}/{k}': v for k, v in scalars.items()})
    self._record({'stage': str(stage), 'step': step, 'kind': 'train', **scalars})
    if self._first is None:  # the first logged step includes compilation: rate from here
      self._first = (time.time(), step)
      self.log(f'stage {stage}: first {step - self._step0} steps (with compilation) took '
               f'{time.time() - self._t0:.1f}s')
      return
    elapsed = time.time() - self._first[0]
    done = step - self._first[1]
    rate = done / elapsed if elapsed > 0 else float('nan')
    eta = (self._total - step) / rate if rate > 0 else float('nan')
    epoch = (step - 1) // self._spe + 1
    self.log(f'stage {stage} | epoch {epoch}/{math_ceil(self._total, self._spe)} | step '
             f'{step}/{self._total} | {rate * self._batch:6.1f} img/s | loss '
             f'{scalars["loss"]:.4f} | ETA {_fmt_time(eta) if np.isfinite(eta) else "?"}')

  def evaluation(self, stage, step, results):
    for name, r in results.items():
      scalars = {f'{name}/f1_mean': r['f1_mean'], f'{name}/accuracy_mean': r['accuracy_mean']}
      if r['mean_error'] is not None:
        scalars.update({f'{name}/landmark_mean_error': r['mean_error'],
                        f'{name}/landmark_failure_rate': r['failure_rate']})
      scalars.update({f'{name}/f1_AU{a}': f for a, f in zip(r['au_ids'], r['f1'])})
      self.writer.write_scalars(step, scalars)
      self._record({'stage': str(stage), 'step': step, 'kind': 'eval', 'split': name, **r})
      marks = ('' if r['mean_error'] is None
               else f'  landmark error {100 * r["mean_error"]:.2f}%')
      self.log(f'  eval {name}: F1 {100 * r["f1_mean"]:.1f}  accuracy '
               f'{100 * r["accuracy_mean"]:.1f}{marks}')

  def final(self, results, step):
    if not self.main:
      return
    with (paths.resolve(self.workdir) / 'results.json').open('w', encoding='utf-8') as f:
      json.dump({'step': step, 'results': results}, f, indent=1)
    self._record({'step': step, 'kind': 'final', 'results': results})
    self.log(evaluate.format_tables(results, step))

  def close(self):
    self.writer.flush()
    self._files.close()


def math_ceil(a, b):
  return -(-a // b)
