"""E_au, the AU detector (paper §3.5; docs/method.md §1): one small conv head per AU."""

import flax.linen as nn
import jax.numpy as jnp

from au_jax.models import layers


class AUHead(nn.Module):
  """One AU: 3× [conv, BN, PReLU], conv, global average pool, Dense 1."""
  hidden: int = 64
  train: bool = False
  dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, features):
    x = features
    for i in range(3):
      x = layers.ConvBNPReLU(self.hidden, self.dtype, name=f'layer{i}')(x, self.train)
    x = layers.conv3x3(self.hidden, name='last', dtype=self.dtype)(x)
    x = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
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
  def __call__(self, features, train: bool):
    layers.check_input(features, 4, 'AUDetector')
    logits = [AUHead(self.hidden, train, self.dtype, name=f'head{i}')(features)
              for i in range(self.num_aus)]
    return jnp.stack(logits, axis=-1)
