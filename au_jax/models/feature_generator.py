"""G_st (the paper's G_sl), the feature generator (paper §3.3, Eq. 7; docs/method.md §1).

Mixes a landmark feature F_l with a background feature F_b into a facial feature, e.g.
F_sltb = G_st(F_sl, F_tb): the source face on the target background.
"""

import flax.linen as nn
import jax.numpy as jnp

from au_jax.models import layers


class FeatureGenerator(nn.Module):
  """concat(F_l, F_b) (B, d, d, 1 + C_b) → facial feature (B, d, d, out_channels).

  `channels` are the widths of all but the last conv; the last has `out_channels`, the
  width of E_f's output (64 at the paper's size, giving ADLD's 128, 128, 64, 64, 64).
  """
  channels: tuple[int, ...] = (128, 128, 64, 64)
  out_channels: int = 64
  dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, landmark, background):
    layers.check_input(landmark, 4, 'FeatureGenerator(landmark)', channels=1)
    x = jnp.concatenate([landmark.astype(self.dtype), layers.check_input(
        background, 4, 'FeatureGenerator(background)').astype(self.dtype)], axis=-1)
    for i, c in enumerate((*self.channels, self.out_channels)):
      x = layers.ConvINPReLU(c, self.dtype, name=f'layer{i}')(x)
    return nn.tanh(x)
