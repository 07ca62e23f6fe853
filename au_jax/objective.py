"""The stage-1 and stage-2 objectives: the losses of `au_jax.losses` combined as Eq. 13.

Pure functions of the model's outputs (`MultiTaskAUNet.features` / `.discriminate`), the
batch and the loss config; `au_jax.train` differentiates them. Each returns
(total, dict of the unweighted terms) so every term can be logged.
"""

import jax
import jax.numpy as jnp

from au_jax import losses
from au_jax.geometry import landmarks as lm

sg = jax.lax.stop_gradient


def heatmap_indices(outputs, batch, loss_cfg, crop_size):
  """Heat-map targets (Eq. 2) of both domains (docs/method.md §2 step 6).

  Source: the annotations. Target: the target landmark branch's prediction FL_t with
  stop-gradient (the paper), or the target annotations (`target_heatmaps='annotation'`).
  Eq. 2's cell indices, or with `heatmap_targets='bilinear'` sub-cell target maps.
  """
  make = (losses.heatmap_target_maps if loss_cfg.get('heatmap_targets', 'cell') == 'bilinear'
          else losses.heatmap_target_indices)
  index = lambda points: make(points, crop_size, crop_size // 4, loss_cfg.refine_au_centres)
  target_points = (sg(outputs['FL_t']) if loss_cfg.target_heatmaps == 'branch'
                   else batch['target']['landmarks'])
  return index(batch['source']['landmarks']), index(target_points)


def target_landmark_weights(loss_cfg):
  """(49,) weights of the target heat-map terms: None (all points) unless
  `loss.target_landmark_groups` leaves groups out, whose points then stop supervising
  the wild landmark path (a detector's unreliable groups; docs/method.md §11)."""
  groups = tuple(loss_cfg.get('target_landmark_groups', tuple(lm.GROUPS_49)))
  if set(groups) == set(lm.GROUPS_49):
    return None
  return lm.group_weights(groups)


def discriminator_objective(disc, idx_s, idx_t, target_weights=None):
  """D_l (Eq. 4) and D_d^s, D_d^t (Eq. 7) on stop-gradient features, averaged as ADLD
  does: 0.5·(D_l source + D_l target) + 0.5·(D_d^s + D_d^t), each D_d term the mean of
  its real and mixed parts. Unweighted: D_l and D_d have disjoint parameters and Adam is
  invariant to a loss's scale, so λ_adlb and λ_adst would change nothing here.
  """
  terms = {
      'd_landmark': 0.5 * (
          losses.landmark_discriminator_loss(disc['dl_sb'], idx_s) +
          losses.landmark_discriminator_loss(disc['dl_tb'], idx_t, target_weights)),
      'd_domain': 0.25 * (
          losses.domain_discriminator_loss(disc['dd_s_real'], disc['dd_s_fake']) +
          losses.domain_discriminator_loss(disc['dd_t_real'], disc['dd_t_fake'])),
  }
  return terms['d_landmark'] + terms['d_domain'], terms


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


def reconstruction_terms(outputs, loss_cfg):
  """{name: (weight, value)} of the feature-reconstruction terms (docs/method.md §3.6).

  - With the alignment scheme (Table 7 "AS", `intermediate_alignment`): L_sr of Eq. 8,
    the SUM of the six pairs, weight λ_sr (`loss.sr`).
  - Without it (rows A–D): ADLD's cross-cycle term, the MEAN of the two pairs
    (F'_s, F_s), (F'_t, F_t), weight `loss.cross_cycle` (ADLD: 40).
  - ADLD's self-reconstruction G_st(sg(F_l), F_b) against sg(F), the mean of the two
    domains, weight `loss.self_reconstruction` (ADLD: 3), when the model computes it.
  """
  out = {}
  if loss_cfg.intermediate_alignment:
    out['sr'] = (loss_cfg.sr, losses.feature_alignment_loss(alignment_pairs(outputs, True)))
  else:
    out['cross_cycle'] = (loss_cfg.cross_cycle, 0.5 * losses.feature_alignment_loss(
        alignment_pairs(outputs, False)))
  if 'F_s_self' in outputs:
    out['self_reconstruction'] = (loss_cfg.self_reconstruction, 0.5 * (
        losses.mean_absolute_error(outputs['F_s_self'], outputs['F_s']) +
        losses.mean_absolute_error(outputs['F_t_self'], outputs['F_t'])))
  return out


def generator_objective(outputs, disc, batch, idx_s, idx_t, au_weights, loss_cfg):
  """Everything but the discriminators (Eq. 13), against the given discriminator outputs.

  `disc` must come from the *updated* discriminators applied to `outputs` (ADLD order).
  Averaging follows ADLD where the paper is silent: the AU term is the mean of its
  source and mixed parts (of all four with pseudo labels), the landmark CE half the sum
  of its four parts, the adversarial terms the means over the two domains.
  """
  src, tgt = batch['source'], batch['target']
  ce = losses.landmark_classification_loss
  w_t = target_landmark_weights(loss_cfg)
  au = [(outputs['au_s'], src['au'], src['au_mask']),
        (outputs['au_sltb'], src['au'], src['au_mask'])]
  if 'au_t' in outputs:  # pseudo-label mode ("-P"): E_au(F_t), E_au(F_tlsb)
    au += [(outputs['au_t'], tgt['pseudo_au'], tgt['pseudo_mask']),
           (outputs['au_tlsb'], tgt['pseudo_au'], tgt['pseudo_mask'])]
  terms = {
      # Eq. 3 as ADLD applies it: real features train E_l, generated ones the generators.
      'lr': 0.5 * (ce(outputs['logits_sl'], idx_s) + ce(outputs['logits_tl'], idx_t, w_t) +
                   ce(outputs['logits_tl_prime'], idx_t, w_t) +
                   ce(outputs['logits_sl_prime'], idx_s)),
      'adlb': 0.5 * (losses.landmark_adversarial_loss(disc['dl_sb']) +
                     losses.landmark_adversarial_loss(disc['dl_tb'])),
      'adst': 0.5 * (losses.domain_adversarial_loss(disc['dd_s_fake']) +
                     losses.domain_adversarial_loss(disc['dd_t_fake'])),
      'au': sum(au_loss(logits, y, m, au_weights, loss_cfg) for logits, y, m in au) / len(au),
  }
  fl = jnp.zeros(())
  if loss_cfg.source_landmark_branch:
    fl += losses.landmark_regression_loss(outputs['FL_s'], src['landmarks'])
  if loss_cfg.target_landmark_branch:
    fl += losses.landmark_regression_loss(outputs['FL_t'], tgt['landmarks'])
  terms['fl'] = fl
  total = (loss_cfg.lr * terms['lr'] + loss_cfg.adlb * terms['adlb'] +
           loss_cfg.adst * terms['adst'] + loss_cfg.au * terms['au'] +
           loss_cfg.fl * terms['fl'])
  for name, (weight, value) in reconstruction_terms(outputs, loss_cfg).items():
    terms[name] = value
    total += weight * value
  return total, terms


def stage1_objective(landmarks_s, landmarks_t, batch, source=True, target=True):
  """Stage 1: L_fl (Eq. 1) of the enabled landmark branches."""
  terms = {
      'fl_s': losses.landmark_regression_loss(landmarks_s, batch['source']['landmarks']),
      'fl_t': losses.landmark_regression_loss(landmarks_t, batch['target']['landmarks']),
  }
  total = source * terms['fl_s'] + target * terms['fl_t']
  return total, terms
