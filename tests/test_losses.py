"""Each loss of docs/method.md §3 against a direct NumPy computation, with the edge cases."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from au_jax.geometry import landmarks as lm
from au_jax import losses


def np_sigmoid(z):
  return 1.0 / (1.0 + np.exp(-z))


def np_interocular(points):
  left = points[:, 19:25].mean(1)
  right = points[:, 25:31].mean(1)
  return np.linalg.norm(left - right, axis=-1)


def random_landmarks(rng, batch=3, size=176.0):
  base = rng.uniform(30, size - 30, (batch, 49, 2)).astype(np.float32)
  base[:, 19:25, 0] = rng.uniform(40, 60, (batch, 6))   # left eye region
  base[:, 25:31, 0] = rng.uniform(110, 130, (batch, 6))  # right eye region
  return base


# -- Eq. 1 -------------------------------------------------------------------------------

def test_landmark_regression_loss_matches_numpy():
  rng = np.random.default_rng(0)
  target = random_landmarks(rng)
  pred = target + rng.normal(0, 3, target.shape).astype(np.float32)
  s = np_interocular(target)
  expected = np.mean(np.sum((pred - target) ** 2, axis=(1, 2)) / (2 * s ** 2))
  got = losses.landmark_regression_loss(jnp.asarray(pred), jnp.asarray(target))
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  assert got > 0  # the paper's minus sign is a typo
  assert losses.landmark_regression_loss(jnp.asarray(target), jnp.asarray(target)) == 0


def test_landmark_regression_loss_degenerate_eyes_is_finite():
  target = np.zeros((1, 49, 2), np.float32)  # eyes at one point: s = 0
  pred = np.ones((1, 49, 2), np.float32)
  value, grad = jax.value_and_grad(losses.landmark_regression_loss)(
      jnp.asarray(pred), jnp.asarray(target))
  assert np.isfinite(value) and np.all(np.isfinite(grad))


# -- Eq. 2 -------------------------------------------------------------------------------

def np_refine(points):
  p = points.copy()
  ruler = np.abs(p[:, 22, 0] - p[:, 25, 0])
  for i, f in ((4, -1 / 2), (5, -1 / 2), (1, -1 / 3), (8, -1 / 3), (2, 1 / 3), (7, 1 / 3),
               (24, 1), (29, 1), (15, -1 / 2), (17, -1 / 2), (39, 1 / 2), (41, 1 / 2)):
    p[:, i, 1] += f * ruler
  return p


def np_indices(points, l, d, refine):
  if refine:
    points = np_refine(points)
  col = np.clip(np.round(points[..., 0] * d / l), 0, d - 1).astype(int)
  row = np.clip(np.round(points[..., 1] * d / l), 0, d - 1).astype(int)
  return row * d + col


@pytest.mark.parametrize('refine', [False, True])
def test_heatmap_indices_match_numpy(refine):
  rng = np.random.default_rng(1)
  points = random_landmarks(rng)
  got = losses.heatmap_target_indices(jnp.asarray(points), 176, 44, refine)
  np.testing.assert_array_equal(got, np_indices(points, 176, 44, refine))
  assert got.dtype == jnp.int32


def test_heatmap_indices_known_points_and_borders():
  points = np.zeros((1, 49, 2), np.float32)
  points[0, 0] = (0, 0)            # top-left corner → 0
  points[0, 1] = (175, 175)        # bottom-right pixel → row 43 (rounded 43.75 → 44 → clip)
  points[0, 2] = (176, 0)          # exactly on the right border → clipped to col 43
  points[0, 3] = (-3, 200)         # outside the crop → clipped into the map
  points[0, 4] = (8, 4)            # col 2, row 1 → 1·44 + 2
  got = np.asarray(losses.heatmap_target_indices(jnp.asarray(points), 176, 44, False))
  assert got[0, 0] == 0
  assert got[0, 1] == 43 * 44 + 43
  assert got[0, 2] == 43
  assert got[0, 3] == 43 * 44 + 0
  assert got[0, 4] == 1 * 44 + 2
  assert got.min() >= 0 and got.max() < 44 * 44


def test_heatmap_indices_of_a_flipped_sample():
  rng = np.random.default_rng(2)
  points = random_landmarks(rng, batch=2)
  flipped = lm.flip_horizontal(points, 176)
  # Independent flip: mirror x, then reorder with the 1-based reflect list of docs/method.md §5.
  reflect = np.array([10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 11, 12, 13, 14, 19, 18, 17, 16, 15,
                      29, 28, 27, 26, 31, 30, 23, 22, 21, 20, 25, 24, 38, 37, 36, 35, 34,
                      33, 32, 43, 42, 41, 40, 39, 46, 45, 44, 49, 48, 47]) - 1
  mirrored = points.copy()
  mirrored[..., 0] = 175 - mirrored[..., 0]
  np.testing.assert_allclose(flipped, mirrored[:, reflect])
  got = losses.heatmap_target_indices(jnp.asarray(flipped), 176, 44, True)
  np.testing.assert_array_equal(got, np_indices(mirrored[:, reflect], 176, 44, True))
  # Flipping twice is the identity.
  np.testing.assert_allclose(lm.flip_horizontal(flipped, 176), points, atol=1e-5)


# -- Eq. 3, 4, 5 -------------------------------------------------------------------------

def np_log_softmax(x, axis):
  x = x - x.max(axis=axis, keepdims=True)
  return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def test_landmark_classification_loss_matches_numpy():
  rng = np.random.default_rng(3)
  b, d, n = 2, 4, 3
  logits = rng.normal(0, 2, (b, d, d, n)).astype(np.float32)
  idx = rng.integers(0, d * d, (b, n))
  logp = np_log_softmax(logits.reshape(b, d * d, n), axis=1)
  expected = -np.mean([[logp[i, idx[i, j], j] for j in range(n)] for i in range(b)])
  got = losses.landmark_classification_loss(jnp.asarray(logits), jnp.asarray(idx))
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  assert got > 0  # a negative log-likelihood


def test_landmark_classification_loss_extreme_logits_finite():
  logits = np.full((1, 4, 4, 2), -50.0, np.float32)
  logits[0, 0, 0] = 50.0
  idx = np.array([[5, 0]])
  value, grad = jax.value_and_grad(losses.landmark_classification_loss)(
      jnp.asarray(logits), jnp.asarray(idx))
  assert np.isfinite(value) and np.all(np.isfinite(grad))
  np.testing.assert_allclose(value, 0.5 * 100.0, rtol=1e-4)  # one map off by 100 nats


def test_landmark_discriminator_and_adversarial_losses_match_numpy():
  rng = np.random.default_rng(4)
  b, d, n = 2, 3, 2
  maps = rng.normal(0, 1, (b, d, d, n)).astype(np.float32)
  idx = rng.integers(0, d * d, (b, n))
  one_hot = np.zeros((b, d * d, n))
  for i in range(b):
    for j in range(n):
      one_hot[i, idx[i, j], j] = 1
  flat = maps.reshape(b, d * d, n)
  np.testing.assert_allclose(
      losses.landmark_discriminator_loss(jnp.asarray(maps), jnp.asarray(idx)),
      np.mean((flat - one_hot) ** 2), rtol=1e-5)
  np.testing.assert_allclose(losses.landmark_adversarial_loss(jnp.asarray(maps)),
                             np.mean((maps - 1 / (d * d)) ** 2), rtol=1e-5)


# -- Eq. 7 -------------------------------------------------------------------------------

def test_domain_losses_match_numpy():
  real = np.array([[0.9], [1.4]], np.float32)
  fake = np.array([[0.2], [-0.3]], np.float32)
  np.testing.assert_allclose(
      losses.domain_discriminator_loss(jnp.asarray(real), jnp.asarray(fake)),
      np.mean((real - 1) ** 2) + np.mean(fake ** 2), rtol=1e-6)
  np.testing.assert_allclose(losses.domain_adversarial_loss(jnp.asarray(fake)),
                             np.mean((fake - 1) ** 2), rtol=1e-6)


# -- Eq. 8 -------------------------------------------------------------------------------

def test_feature_alignment_loss_matches_numpy_and_stops_target_gradient():
  rng = np.random.default_rng(5)
  pairs = [(rng.normal(size=(2, 3, 3, c)).astype(np.float32),
            rng.normal(size=(2, 3, 3, c)).astype(np.float32)) for c in (4, 1, 4)]
  expected = sum(np.mean(np.abs(p - f)) for p, f in pairs)
  jpairs = [(jnp.asarray(p), jnp.asarray(f)) for p, f in pairs]
  np.testing.assert_allclose(losses.feature_alignment_loss(jpairs), expected, rtol=1e-5)
  g_pred, g_target = jax.grad(
      lambda p, f: losses.feature_alignment_loss([(p, f)]), argnums=(0, 1))(*jpairs[0])
  assert np.all(g_target == 0) and np.any(g_pred != 0)


# -- Eq. 9 and the weights -----------------------------------------------------------------

def np_wal(logits, labels, weights, beta, mask):
  p = np_sigmoid(logits.astype(np.float64))
  term = labels * np.log(p) + (1 - labels) * p ** beta * np.log(1 - p)
  return -np.mean(np.sum(term * mask * weights, axis=1) / logits.shape[1])


def test_au_occurrence_weights_match_formula():
  rates = np.array([0.184, 0.146, 0.198, 0.44, 0.54, 0.342])
  inv = 1 / rates
  expected = len(rates) * inv / inv.sum()
  got = losses.au_occurrence_weights(rates)
  np.testing.assert_allclose(got, expected, rtol=1e-6)
  np.testing.assert_allclose(np.mean(got), 1.0, rtol=1e-6)
  assert got[0] > got[4]  # rarer AU, larger weight


def test_weighted_asymmetric_loss_matches_numpy_with_mask():
  rng = np.random.default_rng(6)
  logits = rng.normal(0, 2, (4, 3)).astype(np.float32)
  labels = rng.integers(0, 2, (4, 3))
  mask = np.array([[1, 1, 0], [1, 0, 1], [1, 1, 1], [0, 0, 0]], np.float32)
  weights = np.array([0.5, 1.0, 1.5], np.float32)
  got = losses.weighted_asymmetric_loss(jnp.asarray(logits), jnp.asarray(labels),
                                        jnp.asarray(weights), 0.7, jnp.asarray(mask))
  np.testing.assert_allclose(got, np_wal(logits, labels, weights, 0.7, mask), rtol=1e-5)


def test_missing_markers_are_masked_without_a_mask():
  logits = jnp.array([[2.0, -1.0, 0.5]])
  labels = jnp.array([[1, 999, 9]])
  weights = jnp.ones(3)
  got = losses.weighted_asymmetric_loss(logits, labels, weights)
  np.testing.assert_allclose(
      got, np_wal(np.array([[2.0, 0, 0]]), np.array([[1, 0, 0]]), np.ones(3), 0.7,
                  np.array([[1, 0, 0]])), rtol=1e-6)


def test_all_labels_missing_gives_zero_value_and_gradient():
  logits = jnp.array([[3.0, -2.0], [0.1, 0.2]])
  labels = jnp.ones((2, 2), jnp.int32)
  mask = jnp.zeros((2, 2))
  value, grad = jax.value_and_grad(losses.weighted_asymmetric_loss)(
      logits, labels, jnp.ones(2), 0.7, mask)
  assert value == 0 and np.all(grad == 0)


@pytest.mark.parametrize('beta', [0.0, 0.7])
def test_extreme_logits_are_finite(beta):
  logits = jnp.array([[50.0, -50.0, 50.0, -50.0]])
  labels = jnp.array([[1, 0, 0, 1]])
  value, grad = jax.value_and_grad(losses.weighted_asymmetric_loss)(
      logits, labels, jnp.ones(4), beta)
  assert np.isfinite(value) and np.all(np.isfinite(grad))
  # A confident wrong negative (logit 50, label 0) costs about 50·1^β, a wrong positive
  # (logit −50, label 1) about 50: the loss is (50 + 50)/4 up to tiny terms.
  np.testing.assert_allclose(value, 25.0, rtol=1e-3)


def test_beta_zero_is_weighted_bce():
  rng = np.random.default_rng(7)
  logits = jnp.asarray(rng.normal(0, 3, (5, 4)).astype(np.float32))
  labels = jnp.asarray(rng.integers(0, 2, (5, 4)))
  weights = jnp.asarray([0.3, 0.8, 1.2, 1.7])
  wal = losses.weighted_asymmetric_loss(logits, labels, weights, beta=0.0)
  bce = losses.weighted_bce_loss(logits, labels, weights)
  p = np_sigmoid(np.asarray(logits, np.float64))
  y = np.asarray(labels)
  direct = -np.mean(np.sum(np.asarray(weights) * (y * np.log(p) + (1 - y) * np.log(1 - p)),
                           axis=1) / 4)
  np.testing.assert_allclose(wal, direct, rtol=1e-5)
  np.testing.assert_allclose(bce, direct, rtol=1e-5)


def test_asymmetric_gradient_follows_eq_11():
  # For a negative, dL/dp = -(β p^(β-1) log(1-p) - p^β/(1-p)) / n_au, times w (Eq. 11).
  beta, z = 0.7, 0.4
  p = np_sigmoid(z)
  dl_dp = -(beta * p ** (beta - 1) * np.log(1 - p) - p ** beta / (1 - p))
  expected = dl_dp * p * (1 - p)  # chain rule through the sigmoid; n_au = 1, w = 1
  grad = jax.grad(lambda x: losses.weighted_asymmetric_loss(
      x, jnp.array([[0]]), jnp.ones(1), beta))(jnp.array([[z]]))
  np.testing.assert_allclose(grad[0, 0], expected, rtol=1e-5)
  stopped = jax.grad(lambda x: losses.weighted_asymmetric_loss(
      x, jnp.array([[0]]), jnp.ones(1), beta, stop_focus_gradient=True))(
          jnp.array([[z]]))
  np.testing.assert_allclose(stopped[0, 0], p ** beta * p, rtol=1e-5)  # p^β·(−d log(1−p))


def test_asymmetric_loss_downweights_easy_negatives():
  easy = jnp.array([[-4.0]])
  bce = losses.weighted_bce_loss(easy, jnp.array([[0]]), jnp.ones(1))
  wal = losses.weighted_asymmetric_loss(easy, jnp.array([[0]]), jnp.ones(1), 0.7)
  assert wal < 0.1 * bce


def test_sub_cell_heatmap_targets_keep_the_position():
  """heatmap_target_maps: unit mass per landmark, its mean at x·d/l (inside the map),
  the border cell beyond it, and Eq. 2's cell when the landmark sits on a cell centre."""
  rng = np.random.default_rng(0)
  points = rng.uniform(0, 171, (3, 49, 2)).astype(np.float32)  # cells 0..42.75
  maps = np.asarray(losses.heatmap_target_maps(jnp.asarray(points), 176, 44, False))
  assert maps.shape == (3, 44 * 44, 49)
  np.testing.assert_allclose(maps.sum(1), 1.0, atol=1e-5)
  rows, cols = np.divmod(np.arange(44 * 44), 44)
  mean_x = np.einsum('bpn,p->bn', maps, cols)
  mean_y = np.einsum('bpn,p->bn', maps, rows)
  np.testing.assert_allclose(mean_x, points[..., 0] * 44 / 176, atol=1e-3)
  np.testing.assert_allclose(mean_y, points[..., 1] * 44 / 176, atol=1e-3)
  centres = np.array([[[8.0, 12.0], [400.0, -3.0]]], np.float32)  # a cell centre; outside
  maps = losses.heatmap_target_maps(jnp.asarray(centres), 176, 44, False)
  cells = losses.heatmap_target_indices(jnp.asarray(centres), 176, 44, False)
  np.testing.assert_allclose(np.asarray(maps), np.asarray(jax.nn.one_hot(cells, 44 * 44, axis=1)),
                             atol=1e-6)


def test_soft_targets_give_the_one_hot_losses_on_one_hot_maps():
  rng = np.random.default_rng(1)
  logits = jnp.asarray(rng.normal(size=(2, 8, 8, 5)).astype(np.float32))
  cells = jnp.asarray(rng.integers(0, 64, (2, 5)))
  maps = jax.nn.one_hot(cells, 64, axis=1)
  np.testing.assert_allclose(losses.landmark_classification_loss(logits, cells),
                             losses.landmark_classification_loss(logits, maps), rtol=1e-6)
  np.testing.assert_allclose(losses.landmark_discriminator_loss(logits, cells),
                             losses.landmark_discriminator_loss(logits, maps), rtol=1e-6)
  # A target split between two cells costs more than either alone when the logits
  # favour one of them.
  half = 0.5 * (maps + jax.nn.one_hot((cells + 1) % 64, 64, axis=1))
  assert float(losses.landmark_classification_loss(logits, half)) > 0
