"""The stage-1 and stage-2 objectives: the losses of `au_jax.losses` combined as Eq. 13.

Pure functions of the model's outputs (`MultiTaskAUNet.features` / `.discriminate`), the
batch and the loss config; `au_jax.train` differentiates them. Each returns
(total, dict of the unweighted terms) so every term can be logged.
"""

import jax
import jax.numpy as jnp

from au_jax import losses

sg = jax.lax.stop_gradient


def heatmap_indices(outputs, batch, loss_cfg, crop_size):
  """Heat-map targets (Eq. 2) of both domains (SPEC §2 step 5).

  Source: the annotations. Target: the target landmark branch's prediction FL_t with
  stop-gradient (the paper), or the target annotations (`target_heatmaps='annotation'`).
  """
  index = lambda points: losses.heatmap_target_indices(
      points, crop_size, crop_size // 4, loss_cfg.refine_au_centres)
  target_points = (sg(outputs['FL_t']) if loss_cfg.target_heatmaps == 'branch'
                   else batch['target']['landmarks'])
  return index(batch['source']['landmarks']), index(target_points)


def discriminator_objective(disc, idx_s, idx_t, loss_cfg):
  """D_l (Eq. 4) and D_d^s, D_d^t (Eq. 7) on stop-gradient features.

  Weighted by λ_adlb and λ_adst like their generator sides; D_l and D_d have disjoint
  parameters and Adam, so the weights only fix the scale of the logged total.
  """
  terms = {
      'd_landmark': 0.5 * (losses.landmark_discriminator_loss(disc['dl_sb'], idx_s) +
                           losses.landmark_discriminator_loss(disc['dl_tb'], idx_t)),
      'd_domain': 0.5 * (
          losses.domain_discriminator_loss(disc['dd_s_real'], disc['dd_s_fake']) +
          losses.domain_discriminator_loss(disc['dd_t_real'], disc['dd_t_fake'])),
  }
  total = loss_cfg.adlb * terms['d_landmark'] + loss_cfg.adst * terms['d_domain']
  return total, terms


def au_loss(logits, labels, mask, weights, loss_cfg):
  """L_au (Eq. 9), or ADLD's weighted BCE when `loss_cfg.au_loss == 'bce'`."""
  if loss_cfg.au_loss == 'bce':
    return losses.weighted_bce_loss(logits, labels, weights, mask)
  return losses.weighted_asymmetric_loss(
      logits, labels, weights, loss_cfg.beta, mask, loss_cfg.stop_focus_gradient)


def alignment_pairs(outputs, intermediate=True):
  """The L_sr pairs (Eq. 8): projected reconstruction vs original, per domain."""
  pairs = []
  for d in ('s', 't'):
    pairs.append((outputs[f'P_{d}'], outputs[f'F_{d}']))
    if intermediate:
      pairs.append((outputs[f'P_{d}l'], outputs[f'F_{d}l']))
      pairs.append((outputs[f'P_{d}b'], outputs[f'F_{d}b']))
  return pairs


def generator_objective(outputs, disc, batch, idx_s, idx_t, au_weights, loss_cfg):
  """Everything but the discriminators (Eq. 13), against the given discriminator outputs.

  `disc` must come from the *updated* discriminators applied to `outputs` (ADLD order).
  """
  src, tgt = batch['source'], batch['target']
  ce = losses.landmark_classification_loss
  terms = {
      # Eq. 3 as ADLD applies it: real features train E_l, generated ones the generators.
      'lr': 0.5 * (ce(outputs['logits_sl'], idx_s) + ce(outputs['logits_tl'], idx_t) +
                   ce(outputs['logits_tl_prime'], idx_t) +
                   ce(outputs['logits_sl_prime'], idx_s)),
      'adlb': 0.5 * (losses.landmark_adversarial_loss(disc['dl_sb']) +
                     losses.landmark_adversarial_loss(disc['dl_tb'])),
      'adst': 0.5 * (losses.domain_adversarial_loss(disc['dd_s_fake']) +
                     losses.domain_adversarial_loss(disc['dd_t_fake'])),
      'au': (au_loss(outputs['au_s'], src['au'], src['au_mask'], au_weights, loss_cfg) +
             au_loss(outputs['au_sltb'], src['au'], src['au_mask'], au_weights,
                     loss_cfg)),
      'sr': losses.feature_alignment_loss(
          alignment_pairs(outputs, loss_cfg.intermediate_alignment)),
  }
  fl = jnp.zeros(())
  if loss_cfg.source_landmark_branch:
    fl += losses.landmark_regression_loss(outputs['FL_s'], src['landmarks'])
  if loss_cfg.target_landmark_branch:
    fl += losses.landmark_regression_loss(outputs['FL_t'], tgt['landmarks'])
  terms['fl'] = fl
  if 'au_t' in outputs:  # pseudo-label mode
    terms['au_pseudo'] = (
        au_loss(outputs['au_t'], tgt['pseudo_au'], tgt['pseudo_mask'], au_weights,
                loss_cfg) +
        au_loss(outputs['au_tlsb'], tgt['pseudo_au'], tgt['pseudo_mask'], au_weights,
                loss_cfg))
  if 'F_s_self' in outputs:  # ADLD's self-reconstruction (baseline config)
    terms['self_reconstruction'] = (
        losses.mean_absolute_error(outputs['F_s_self'], outputs['F_s']) +
        losses.mean_absolute_error(outputs['F_t_self'], outputs['F_t']))
  total = (loss_cfg.lr * terms['lr'] + loss_cfg.adlb * terms['adlb'] +
           loss_cfg.adst * terms['adst'] + loss_cfg.au * terms['au'] +
           loss_cfg.fl * terms['fl'] + loss_cfg.sr * terms['sr'] +
           loss_cfg.au * terms.get('au_pseudo', 0.0) +
           loss_cfg.self_reconstruction * terms.get('self_reconstruction', 0.0))
  return total, terms


def stage1_objective(landmarks_s, landmarks_t, batch, source=True, target=True):
  """Stage 1: L_fl (Eq. 1) of the enabled landmark branches."""
  terms = {
      'fl_s': losses.landmark_regression_loss(landmarks_s, batch['source']['landmarks']),
      'fl_t': losses.landmark_regression_loss(landmarks_t, batch['target']['landmarks']),
  }
  total = source * terms['fl_s'] + target * terms['fl_t']
  return total, terms
