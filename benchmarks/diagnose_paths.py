"""Where does the AU evidence go? F1 of one trained model through several paths.

  python benchmarks/diagnose_paths.py --data data/prepared --out diag.json \
      runs/table7/G_seed0 runs/table7/A_seed0 ...

For each workdir (its best checkpoint by validation F1) and each test split, the average F1
through:

- source:     E_au(E_f^s(I))                         (docs/method.md §2, source inference)
- target:     E_au(G_st(F_l, G_b(F))), F = E_f^t(I)  (docs/method.md §2, target inference)
- direct_t:   E_au(E_f^t(I))                          (no reconstruction)
- recon_s:    E_au(G_st(F_l, G_b(F))), F = E_f^s(I)  (reconstruction of source features)
- target_mixbg: the target path with the background F_b of another image of the batch
              (rolled by one): what E_au reads from F_l alone, as in training's F_sltb
- target_nolm:  the target path with F_l set to zero: what it reads from F_b alone
- target_bn:  the target path with E_au's batch norm on each test batch's own statistics
              (100 images) instead of the running averages, which training collects
              over both F_s and F_sltb

A path the model was not trained for can score anything; the point is the comparison.
"""

import argparse
import functools
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PATHS = ('source', 'target', 'direct_t', 'recon_s', 'target_mixbg', 'target_nolm',
         'target_bn')


def _logits(module, images, path):
  domain = 'source' if path in ('source', 'recon_s') else 'target'
  f = module._encode(images, domain, False)  # pylint: disable=protected-access
  if path in ('source', 'direct_t'):
    return module.au_detector(f, False)
  _, landmark, background = module._separate(f, frozen=False)  # pylint: disable=protected-access
  if path == 'target_mixbg':
    background = jnp.roll(background, 1, axis=0)
  if path == 'target_nolm':
    landmark = jnp.zeros_like(landmark)
  mixed = module.feature_generator(landmark, background)
  return module.au_detector(mixed, path == 'target_bn')


def diagnose(workdir, data_dir):
  from au_jax import inference, metrics  # pylint: disable=g-import-not-at-top
  from au_jax.data import PreparedData  # pylint: disable=g-import-not-at-top
  predictor = inference.load(workdir)
  config = predictor.config
  config.data.data_dir = data_dir
  data = PreparedData(config)
  model, variables = predictor.model, predictor.variables
  def run(v, x, p):
    logits, _ = model.apply(v, x, method=lambda m, x: _logits(m, x, p),
                            mutable=['batch_stats'])  # only target_bn mutates
    return jax.nn.sigmoid(logits)
  fns = {p: jax.jit(functools.partial(run, p=p)) for p in PATHS}
  out = {'workdir': workdir, 'step': predictor.step}
  for split in ('source_test', 'target_test'):
    probs = {p: [] for p in PATHS}
    labels, masks = [], []
    for batch in data.eval_batches(split, 100):
      valid = np.asarray(batch['valid']) > 0
      for p in PATHS:
        probs[p].append(np.asarray(fns[p](variables, batch['image']))[valid])
      labels.append(batch['au'][valid])
      masks.append(batch['au_mask'][valid])
    labels, masks = np.concatenate(labels), np.concatenate(masks)
    out[split] = {p: round(100 * float(metrics.au_scores(
        np.concatenate(probs[p]), labels, masks)['f1_mean']), 1) for p in PATHS}
  return out


def main():
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('workdirs', nargs='+')
  p.add_argument('--data', default='data/prepared')
  p.add_argument('--out', default='')
  args = p.parse_args()
  results = []
  print(f'{"workdir":28s} {"split":12s} ' + ' '.join(f'{q:>12s}' for q in PATHS))
  from au_jax import inference  # pylint: disable=g-import-not-at-top
  from data_pipelines.errors import DataError  # pylint: disable=g-import-not-at-top
  for w in args.workdirs:
    try:
      r = diagnose(w, args.data)
    except (inference.InputError, DataError, FileNotFoundError) as e:
      raise SystemExit(f'{w}: {e}') from None
    results.append(r)
    for split in ('source_test', 'target_test'):
      print(f'{os.path.basename(w.rstrip("/")):28s} {split:12s} '
            + ' '.join(f'{r[split][q]:12.1f}' for q in PATHS), flush=True)
  if args.out:
    with open(args.out, 'w') as f:
      json.dump(results, f, indent=1)


if __name__ == '__main__':
  main()
