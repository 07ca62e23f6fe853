"""D_l, the landmark discriminator on background features (paper §3.3, Eq. 4; docs/method.md §1)."""

import flax.linen as nn
import jax.numpy as jnp

from au_jax.models import layers


class LandmarkDiscriminator(nn.Module):
  """F_b (B, d, d, C) → n landmark maps (B, d, d, n), no softmax (least-squares targets)."""
  hidden: int = 64
  num_landmarks: int = 49
  depth: int = 4
  dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, background):
    x = layers.check_input(background, 4, 'LandmarkDiscriminator')
    for i in range(self.depth):
      x = layers.ConvINPReLU(self.hidden, self.dtype, name=f'layer{i}')(x)
    return layers.conv3x3(self.num_landmarks, name='maps', dtype=self.dtype)(x)
