"""E_l, the facial texture (landmark) encoder (paper §3.3, Eq. 3; docs/method.md §1)."""

import flax.linen as nn
import jax.numpy as jnp

from au_jax.models import layers


def landmark_feature(logits):
  """F_l: the per-pixel sum of the n softmax maps, softmax over the d² positions of each
  (in float32 whatever the computation dtype)."""
  logits = logits.astype(jnp.float32)
  b, h, w, n = logits.shape
  probs = nn.softmax(logits.reshape(b, h * w, n), axis=1)
  return jnp.sum(probs, axis=-1).reshape(b, h, w, 1)


class LandmarkEncoder(nn.Module):
  """F (B, d, d, C) → (landmark logits (B, d, d, n), F_l (B, d, d, 1))."""
  hidden: int = 64
  num_landmarks: int = 49
  depth: int = 4
  dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, features):
    x = layers.check_input(features, 4, 'LandmarkEncoder')
    for i in range(self.depth):
      x = layers.ConvINPReLU(self.hidden, self.dtype, name=f'layer{i}')(x)
    logits = layers.conv3x3(self.num_landmarks, name='logits', dtype=self.dtype)(nn.tanh(x))
    return logits.astype(jnp.float32), landmark_feature(logits)
