"""D_d, the feature-domain discriminator, one per domain (paper §3.3, Eq. 7; docs/method.md §1)."""

import flax.linen as nn
import jax.numpy as jnp

from au_jax.models import layers


class DomainDiscriminator(nn.Module):
  """Facial feature (B, d, d, C) → one least-squares score per image (B, 1).

  Three [4×4 conv stride 2 pad 1, IN, PReLU] halve the map (44 → 22 → 11 → 5), then a
  4×4 stride-2 VALID conv + PReLU reaches 1×1 and a 1×1 conv gives the score. On maps
  smaller than the paper's the last kernel shrinks to the remaining side (never above 4),
  so the same module runs at the CPU presets; at 44 it is exactly ADLD's. Instance norm
  is skipped on a 1×1 map (only at test sizes), where it would zero the features.
  """
  channels: tuple[int, ...] = (64, 64, 128, 128)
  dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, features):
    x = layers.check_input(features, 4, 'DomainDiscriminator')
    for i, c in enumerate(self.channels[:-1]):
      x = layers.Conv(c, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)),
                      name=f'down{i}', dtype=self.dtype)(x)
      if x.shape[1] * x.shape[2] > 1:  # IN of a 1×1 map is identically 0
        x = layers.InstanceNorm(dtype=self.dtype)(x)
      x = layers.PReLU()(x)
    k = min(4, x.shape[1], x.shape[2])
    x = layers.Conv(self.channels[-1], (k, k), strides=(2, 2), padding='VALID',
                    name='last', dtype=self.dtype)(x)
    x = layers.PReLU()(x)
    x = layers.Conv(1, (1, 1), name='score', dtype=self.dtype)(x)
    return jnp.mean(x.astype(jnp.float32), axis=(1, 2))
