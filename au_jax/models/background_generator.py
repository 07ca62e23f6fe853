"""G_b, the background feature generator (paper §3.3, Eqs. 5–6; docs/method.md §1).

Its input is stop_gradient(F) (ADLD): the adversarial loss L_adlb trains G_b only and never
reaches E_f. The caller applies the stop-gradient (see `MultiTaskAUNet`).
"""

import flax.linen as nn
import jax.numpy as jnp

from au_jax.models import layers


class BackgroundGenerator(nn.Module):
  """F (B, d, d, C) → landmark-free background feature F_b (B, d, d, hidden)."""
  hidden: int = 64
  depth: int = 4
  dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, features):
    x = layers.check_input(features, 4, 'BackgroundGenerator')
    for i in range(self.depth):
      x = layers.ConvINPReLU(self.hidden, self.dtype, name=f'layer{i}')(x)
    return nn.tanh(x)
