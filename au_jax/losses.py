"""Every loss of the paper (docs/method.md §3), each a pure function of arrays.

Equation numbers refer to Shang & Liu's paper; the paper's typos are fixed as docs/method.md §3 says
(positive L_fl, negative log-likelihood in L_lr, 0-based heat-map indices, the AU weight
formula). Shapes: B batch, d heat-map side, n landmarks, n_au AUs, features NHWC.
"""

import jax
import jax.numpy as jnp

from au_jax.geometry import landmarks as lm

sg = jax.lax.stop_gradient


# -- landmarks -------------------------------------------------------------------------

def landmark_regression_loss(pred, target):
  """L_fl, Eq. 1: Σ_i [(x_i − x̂_i)² + (y_i − ŷ_i)²] / (2 s²), mean over the batch.

  pred, target: (B, n, 2) coordinates; s is the inter-ocular distance of `target`
  (eye centres as in JAA-Net). The paper's leading minus sign is a typo.
  """
  s2 = sg(lm.inter_ocular_distance(target, xp=jnp)) ** 2
  s2 = jnp.maximum(s2, 1e-6)  # a degenerate target must not give inf
  per_image = jnp.sum((pred - target) ** 2, axis=(-2, -1)) / (2.0 * s2)
  return jnp.mean(per_image)


def heatmap_target_indices(landmarks, crop_size, map_size, refine_au_centres=True):
  """Eq. 2 (docs/method.md §3.2): the flat index row·d + col of each landmark on the d×d
  map, from (B, n, 2) crop-pixel landmarks; int32 (B, n). See `geometry.landmarks.
  heatmap_cells`, which also moves 12 points to AU centres first when asked."""
  return lm.heatmap_cells(landmarks, crop_size, map_size, refine_au_centres, xp=jnp)


def heatmap_target_maps(landmarks, crop_size, map_size, refine_au_centres=True):
  """Eq. 2 at sub-cell precision (`loss.heatmap_targets='bilinear'`, a deviation):
  each landmark's unit mass is split over the four cells around its position x·d/l,
  y·d/l by bilinear weights, so that a motion smaller than a cell still moves the
  target. (B, n, 2) crop pixels → float32 (B, d², n); the mass of a landmark beyond the
  border goes to the border cells, as Eq. 2's clipping does."""
  if refine_au_centres:
    landmarks = lm.refine_au_centres(landmarks, xp=jnp)
  d = map_size
  pos = jnp.clip(landmarks * (d / crop_size), 0.0, d - 1.0)  # (B, n, 2) in cells
  low = jnp.floor(pos)
  frac = pos - low
  low = low.astype(jnp.int32)
  high = jnp.minimum(low + 1, d - 1)

  def axis(i):  # (B, n, d): the landmark's mass along one axis
    return (jax.nn.one_hot(low[..., i], d) * (1.0 - frac[..., i:i + 1]) +
            jax.nn.one_hot(high[..., i], d) * frac[..., i:i + 1])

  maps = axis(1)[..., :, None] * axis(0)[..., None, :]  # (B, n, row, col)
  b, n = landmarks.shape[:2]
  return jnp.moveaxis(maps.reshape(b, n, d * d), 1, 2)


def _target_maps(targets, positions):
  """(B, d², n) float maps from Eq. 2 indices (B, n) (one-hot) or soft maps as given."""
  if jnp.issubdtype(targets.dtype, jnp.integer):
    return jax.nn.one_hot(targets, positions, axis=1)
  return targets


def landmark_classification_loss(logits, indices, weights=None):
  """Eq. 3: softmax cross-entropy over the d² positions of each landmark map.

  logits (B, d, d, n); indices (B, n) int (Eq. 2's cells), or (B, d², n) float target
  maps (`heatmap_target_maps`, the sub-cell deviation). Negative log-likelihood (the
  paper's sign is a typo), mean over landmarks and batch; `weights` (n,) makes it the
  weighted mean over landmarks (`loss.target_landmark_groups`, a deviation).
  """
  b, h, w, n = logits.shape
  log_probs = jax.nn.log_softmax(logits.reshape(b, h * w, n), axis=1)
  if jnp.issubdtype(indices.dtype, jnp.integer):
    picked = jnp.take_along_axis(log_probs, indices[:, None, :], axis=1)[:, 0, :]
  else:
    picked = jnp.sum(indices * log_probs, axis=1)
  return -_landmark_mean(picked, weights)


def _landmark_mean(values, weights):
  """Mean of (B, n) per-landmark values; with (n,) weights, weighted over landmarks."""
  if weights is None:
    return jnp.mean(values)
  weights = jnp.asarray(weights, values.dtype)
  return jnp.mean(jnp.sum(values * weights, axis=-1) / jnp.sum(weights))


def landmark_discriminator_loss(maps, indices, weights=None):
  """Eq. 4, D_l's side: least squares of each map toward the one-hot landmark map (or
  the soft target map of `heatmap_target_maps`).

  maps (B, d, d, n) = D_l(sg(F_b)); mean over positions, landmarks and batch (weighted
  over landmarks by `weights` (n,), as in landmark_classification_loss).
  """
  b, h, w, n = maps.shape
  target = _target_maps(indices, h * w)  # (B, d², n)
  return _landmark_mean(jnp.mean((maps.reshape(b, h * w, n) - target) ** 2, axis=1),
                        weights)


def landmark_adversarial_loss(maps):
  """L_adlb, Eqs. 5–6, G_b's side: least squares of D_l(F_b) toward 1/d² everywhere.

  ADLD's `land_adaptation_loss`: the background should locate no landmark anywhere.
  """
  h, w = maps.shape[1:3]
  return jnp.mean((maps - 1.0 / (h * w)) ** 2)


# -- domains ---------------------------------------------------------------------------

def domain_discriminator_loss(real_scores, fake_scores):
  """L_adst, Eq. 7, D_d's side (least squares): real → 1, mixed → 0."""
  return jnp.mean((real_scores - 1.0) ** 2) + jnp.mean(fake_scores ** 2)


def domain_adversarial_loss(fake_scores):
  """L_adst, Eq. 7, G_st's side (least squares): mixed features → 1."""
  return jnp.mean((fake_scores - 1.0) ** 2)


# -- feature alignment -----------------------------------------------------------------

def mean_absolute_error(pred, target):
  """L1 between two features, averaged over every element; `target` is stop-gradient."""
  return jnp.mean(jnp.abs(pred - sg(target)))


def feature_alignment_loss(pairs):
  """L_sr, Eq. 8: Σ over pairs of the mean absolute error |P(F') − sg(F)|.

  pairs: sequence of (projected reconstructed feature, original feature). The full
  scheme has six pairs (F'_s,F_s) (F'_sl,F_sl) (F'_sb,F_sb) (F'_t,F_t) (F'_tl,F_tl)
  (F'_tb,F_tb); ablation row D keeps only the first and fourth.
  """
  return sum(mean_absolute_error(p, f) for p, f in pairs)


# -- AUs -------------------------------------------------------------------------------

def au_occurrence_weights(rates):
  """AU loss weights from occurrence rates r_i (Eq. 9, formula fixed):

  w_i = n_au · (1/r_i) / Σ_j (1/r_j), so the weights average to 1 and rare AUs weigh
  more. r_i must be computed over labelled frames of the source training set.
  """
  inv = 1.0 / jnp.asarray(rates, jnp.float32)
  return inv.shape[-1] * inv / jnp.sum(inv)


def _label_mask(labels, mask):
  """Mask of labelled entries: the given mask, and only labels that are 0 or 1."""
  valid = (labels == 0) | (labels == 1)
  if mask is not None:
    valid = valid & (mask > 0)
  return valid.astype(jnp.float32)


def weighted_asymmetric_loss(logits, labels, weights, beta=0.7, mask=None,
                             stop_focus_gradient=False):
  """L_au, Eq. 9: −(1/n_au) Σ_i w_i [y_i log p_i + (1 − y_i) p_i^β log(1 − p_i)].

  p = sigmoid(logits), computed stably from logits with log-sigmoid, so logits of ±50
  give finite values and gradients. logits, labels, mask: (B, n_au); weights (n_au,);
  mask 1 = labelled (labels outside {0, 1}, e.g. 9 or 999, are unlabelled too). The
  value is the batch mean of (1/n_au)·Σ over labelled AUs. The gradient flows through
  p^β as Eq. 11 states; `stop_focus_gradient=True` stops it there (ME-GraphAU's variant).
  With beta = 0 this is the weighted BCE.
  """
  labels_f = labels.astype(jnp.float32)
  log_p = jax.nn.log_sigmoid(logits)
  log_not_p = jax.nn.log_sigmoid(-logits)
  focus = jnp.exp(beta * log_p)  # p^β, finite for every logit
  if stop_focus_gradient:
    focus = sg(focus)
  per_au = labels_f * log_p + (1.0 - labels_f) * focus * log_not_p
  per_au = per_au * _label_mask(labels, mask) * weights
  return -jnp.mean(jnp.sum(per_au, axis=-1) / logits.shape[-1])


def weighted_bce_loss(logits, labels, weights, mask=None):
  """ADLD's AU loss for the baseline config: weighted binary cross-entropy, the
  β = 0 case of Eq. 9, same masking and averaging as `weighted_asymmetric_loss`."""
  return weighted_asymmetric_loss(logits, labels, weights, beta=0.0, mask=mask)
