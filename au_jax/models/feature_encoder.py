"""E_f, the initial facial feature extractor (paper §3.2, docs/method.md §1).

Blocks 1–2 of the landmark-branch structure followed by tanh. Its parameters have the same
tree as a landmark branch's `front` blocks, so stage 1 can initialise E_f^s and E_f^t by
copying them (see `au_jax.models.multitask.init_feature_encoders_from_branches`).
"""

import flax.linen as nn
import jax.numpy as jnp

from au_jax.models import layers


class FeatureEncoder(nn.Module):
  """Image (B, l, l, 3) → facial feature F (B, l/4, l/4, channels[1])."""
  channels: tuple[int, ...] = (32, 64)
  dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, images, train: bool, groups: int = 1):
    layers.check_input(images, 4, 'FeatureEncoder', channels=3)
    x = layers.ConvBlocks(tuple(self.channels), self.dtype, name='front')(
        images, train, groups)
    return nn.tanh(x)
