"""P, the projector of the pixel-level feature alignment scheme (paper §3.4, Eq. 8).

1×1 conv → 3×3 conv → 1×1 conv, widening the receptive field of each feature pixel.
The paper names only the convolutions, so there is no activation between them; the hidden
width (64 at the paper's size) is our choice. The output has the channels of the
feature it aligns. One projector per feature kind (F, F_l, F_b), shared by both domains.
"""

import flax.linen as nn
import jax.numpy as jnp

from au_jax.models import layers


class Projector(nn.Module):
  out_channels: int
  hidden: int = 64
  dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    x = layers.check_input(x, 4, 'Projector', channels=self.out_channels)
    x = layers.Conv(self.hidden, (1, 1), name='in', dtype=self.dtype)(x)
    x = layers.conv3x3(self.hidden, name='mid', dtype=self.dtype)(x)
    return layers.Conv(self.out_channels, (1, 1), name='out', dtype=self.dtype)(x)
