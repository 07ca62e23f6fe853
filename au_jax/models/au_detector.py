"""E_au, the AU detector (paper §3.5; docs/method.md §1): one small conv head per AU."""

import flax.linen as nn
import jax.numpy as jnp

from au_jax.models import layers


def window_sums(x):
  """(B, H, W, C) → (B, 3, 3, C): for each tap (i, j) of a 3×3 'SAME' conv, the sum of
  the input positions that tap reads (tap 0 never reads the last row or column, tap 2
  never the first: those face the zero padding)."""
  rows = jnp.stack([x[:, :-1].sum(1), x.sum(1), x[:, 1:].sum(1)], axis=1)
  return jnp.stack([rows[:, :, :-1].sum(2), rows.sum(2), rows[:, :, 1:].sum(2)], axis=2)


class MeanOfConv3x3(nn.Module):
  """The spatial mean of a 3×3 'SAME' conv, (B, H, W, C) → (B, features), without
  running the conv.

  A conv is linear, so the mean of its output is its kernel applied to the window sums
  above, divided by H·W: the same numbers up to float rounding, for 1/(H·W) of the cost.
  Parameters are those of `layers.conv3x3` (same names, shapes and initialisers), so
  checkpoints and ADLD's head structure are unchanged. Computed in float32.
  """
  features: int

  @nn.compact
  def __call__(self, x):
    kernel = self.param('kernel', layers.torch_kernel_init,
                        (3, 3, x.shape[-1], self.features), jnp.float32)
    bias = self.param('bias', nn.initializers.zeros_init(), (self.features,), jnp.float32)
    sums = window_sums(x.astype(jnp.float32))
    return jnp.einsum('bijc,ijco->bo', sums, kernel) / (x.shape[1] * x.shape[2]) + bias


class AUHead(nn.Module):
  """One AU: 3× [conv, BN, PReLU], conv, global average pool, Dense 1."""
  hidden: int = 64
  train: bool = False
  dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, features, groups: int = 1):
    x = features
    for i in range(3):
      x = layers.ConvBNPReLU(self.hidden, self.dtype, name=f'layer{i}')(x, self.train,
                                                                         groups)
    x = MeanOfConv3x3(self.hidden, name='last')(x)  # conv, then global average pool
    return layers.Dense(1, name='logit', dtype=self.dtype)(x)[:, 0].astype(jnp.float32)


class AUDetector(nn.Module):
  """Facial feature (B, d, d, C) → AU logits (B, n_au).

  The n_au heads are separate modules (head0, head1, ...). A `nn.vmap` over stacked
  heads would read shorter but becomes a grouped convolution, which XLA runs about
  25× slower on CPU (measured), so they stay a plain loop.
  """
  num_aus: int
  hidden: int = 64
  dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, features, train: bool, groups: int = 1):
    layers.check_input(features, 4, 'AUDetector')
    logits = [AUHead(self.hidden, train, self.dtype, name=f'head{i}')(features, groups)
              for i in range(self.num_aus)]
    return jnp.stack(logits, axis=-1)
