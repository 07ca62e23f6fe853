"""The ceiling of the target path (docs/method.md §10): E_au on ideal landmark maps.

The target path reads AUs through F_l, the per-pixel sum of E_l's 49 soft-max maps. A
perfect E_l puts each landmark's whole mass on its heat-map cell (Eq. 2, after the AU
centre refinement), so its F_l is the count of landmarks per cell. The oracle trains
the same E_au structure on these maps, drawn from the true landmarks, with the source
labels, the config's AU loss and the task group's optimiser for as many steps as stage 2,
and keeps the epoch with the best validation F1. No image is seen: what it scores is
what landmark geometry alone at this map resolution says about the AUs.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from au_jax import losses
from au_jax import metrics
from au_jax import objective
from au_jax import optim
from au_jax.models.au_detector import AUDetector


def ideal_landmark_map(landmarks, crop_size, refine_au_centres=True):
  """(B, d, d, 1) landmark counts per heat-map cell, d = crop_size / 4."""
  d = crop_size // 4
  idx = losses.heatmap_target_indices(landmarks, crop_size, d, refine_au_centres)
  counts = jnp.sum(jax.nn.one_hot(idx, d * d), axis=1)
  return counts.reshape(-1, d, d, 1)


def train_oracle(config, data, log=print):
  """Trains and evaluates the oracle; returns {split: scores} like `evaluate.evaluate`."""
  crop, refine = config.data.crop_size, config.loss.refine_au_centres
  head = AUDetector(len(config.data.au_ids), config.model.au_hidden)
  d = crop // 4
  variables = head.init(jax.random.key(config.seed), jnp.zeros((1, d, d, 1)), False)
  batch_size = config.stage2.batch_size
  steps_per_epoch = data.steps_per_epoch(batch_size)
  task = config.stage2.groups.task
  tx = optax.adam(optim.stage2_schedule(task.learning_rate, steps_per_epoch,
                                        config.stage2.constant_epochs,
                                        config.stage2.decay_epochs), b1=task.b1, b2=task.b2)
  params, stats = variables['params'], variables['batch_stats']
  opt = tx.init(params)
  weights = jnp.asarray(data.au_weights, jnp.float32)

  @jax.jit
  def step(params, stats, opt, batch):
    maps = ideal_landmark_map(batch['landmarks'], crop, refine)

    def loss_fn(p):
      logits, mutated = head.apply({'params': p, 'batch_stats': stats}, maps, True,
                                   mutable=['batch_stats'])
      return objective.au_loss(logits, batch['au'], batch['au_mask'], weights,
                               config.loss), mutated['batch_stats']

    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt = tx.update(grads, opt, params)
    return optax.apply_updates(params, updates), stats, opt, loss

  @jax.jit
  def predict(params, stats, landmarks):
    maps = ideal_landmark_map(landmarks, crop, refine)
    return jax.nn.sigmoid(head.apply({'params': params, 'batch_stats': stats}, maps, False))

  def evaluate(params, stats):
    out = {}
    for name, domain in data.eval_splits.items():
      probs, labels, masks = [], [], []
      for batch in data.eval_batches(name, config.train.eval_batch_size):
        valid = np.asarray(batch['valid']) > 0
        probs.append(np.asarray(predict(params, stats, jnp.asarray(batch['landmarks'])))[valid])
        labels.append(batch['au'][valid])
        masks.append(batch['au_mask'][valid])
      s = metrics.au_scores(np.concatenate(probs), np.concatenate(labels),
                            np.concatenate(masks))
      out[name] = {'domain': domain, 'path': 'oracle', 'au_ids': list(config.data.au_ids),
                   'f1': s['f1'].tolist(), 'accuracy': s['accuracy'].tolist(),
                   'f1_mean': s['f1_mean'], 'accuracy_mean': s['accuracy_mean'],
                   'labelled': s['count'].tolist()}
    return out

  best, best_f1 = None, -1.0
  source = data.source_batches(batch_size)
  start = time.time()
  for epoch in range(config.stage2.epochs):
    for _ in range(steps_per_epoch):
      batch = {k: jnp.asarray(v) for k, v in next(source).items()
               if k in ('landmarks', 'au', 'au_mask')}
      params, stats, opt, loss = step(params, stats, opt, batch)
    results = evaluate(params, stats)
    score = results.get(config.train.best_split, {}).get('f1_mean', 0.0)
    log(f'oracle epoch {epoch + 1}/{config.stage2.epochs}: loss {float(loss):.4f}, '
        + ', '.join(f'{n} F1 {100 * r["f1_mean"]:.1f}' for n, r in results.items())
        + f' ({time.time() - start:.0f}s)')
    if score > best_f1:
      best, best_f1 = results, score
  return best
