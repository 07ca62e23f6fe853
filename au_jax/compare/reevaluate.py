"""Re-evaluation of checkpoints for runs that lack diagnostics (`--diagnostics`).

Imports JAX and TensorFlow only when called, so `au-jax compare` without
`--diagnostics` stays quick to start.
"""

import json

from au_jax import paths
from au_jax.compare import loading


def add_diagnostics(runs, data_dir=None, log=print):
  """Fills in the diagnostics of runs without them: `au-jax evaluate --diagnostics` of
  the run's checkpoint, saved where that command saves it, so the next compare reads it."""
  from au_jax import config_lib, evaluate  # pylint: disable=g-import-not-at-top
  for run in runs:
    if run.diagnostics is not None or not run.workdir:
      continue
    log(f'diagnostics of {run.workdir} (au-jax evaluate --diagnostics)...')
    config = config_lib.load_saved_config(run.workdir)
    if data_dir:
      config.data.data_dir = data_dir
    step = None
    results_file = paths.join(run.workdir, 'results.json')
    if loading.isfile(results_file):
      step = loading.read_json(results_file).get('step')
    _, step, report = evaluate.evaluate_checkpoint(config, run.workdir, step=step,
                                                   diagnostics=True)
    out = paths.resolve(run.workdir) / 'evaluate'
    out.mkdir(parents=True, exist_ok=True)
    (out / f'step_{step}_diagnostics.json').write_text(json.dumps(report, indent=1),
                                                       encoding='utf-8')
    run.diagnostics = loading.diagnostics_of(report)
