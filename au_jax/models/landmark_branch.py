"""Facial landmark detection branch (paper §3.2, docs/method.md §1): five conv blocks, CBAM, two FCs.

Two branches exist, one per domain; blocks 3–4 are one set of parameters shared by both,
so the shared blocks are built by the parent module and passed in.
"""

import flax.linen as nn
import jax.numpy as jnp

from au_jax.models import layers


class CBAM(nn.Module):
  """Convolutional Block Attention Module (Woo et al., 2018): channel then spatial gate.

  Follows the authors' code: a shared two-layer MLP (reduction r) on average- and
  max-pooled descriptors, then a 7×7 conv without bias + BN on [max, mean] over channels.
  """
  reduction: int = 16
  kernel_size: int = 7
  dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    channels = x.shape[-1]
    hidden = layers.Dense(max(channels // self.reduction, 1), name='mlp_hidden',
                          dtype=self.dtype)
    out = layers.Dense(channels, name='mlp_out', dtype=self.dtype)
    mlp = lambda v: out(nn.relu(hidden(v)))
    gate = nn.sigmoid(mlp(jnp.mean(x, axis=(1, 2))) + mlp(jnp.max(x, axis=(1, 2))))
    x = x * gate[:, None, None, :]
    pooled = jnp.concatenate(
        [jnp.max(x, axis=-1, keepdims=True), jnp.mean(x, axis=-1, keepdims=True)], -1)
    s = layers.Conv(1, (self.kernel_size, self.kernel_size), padding='SAME',
                    use_bias=False, name='spatial_conv', dtype=self.dtype)(pooled)
    s = layers.BatchNorm(use_running_average=not train, name='spatial_bn',
                         dtype=self.dtype)(s)
    return x * nn.sigmoid(s)


class LandmarkBranch(nn.Module):
  """Regresses n landmarks (x, y) in crop pixels from an image (trained with L_fl, Eq. 1).

  Attributes:
    shared: the ConvBlocks module for blocks 3–4, owned by the parent and shared by both
      branches.
    channels: channels of all five blocks, e.g. (32, 64, 96, 128, 160).
  """
  shared: nn.Module
  channels: tuple[int, ...] = (32, 64, 96, 128, 160)
  num_landmarks: int = 49
  dense_units: int = 512
  cbam_reduction: int = 16
  dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, images, train: bool):
    layers.check_input(images, 4, 'LandmarkBranch', channels=3)
    x = layers.ConvBlocks(tuple(self.channels[:2]), self.dtype, name='front')(images, train)
    x = self.shared(x, train)
    x = layers.ConvBlocks(tuple(self.channels[4:]), self.dtype, name='back')(x, train)
    x = CBAM(self.cbam_reduction, dtype=self.dtype, name='cbam')(x, train)
    x = x.reshape(x.shape[0], -1)
    x = layers.Dense(self.dense_units, name='fc1', dtype=self.dtype)(x)
    x = layers.Dense(2 * self.num_landmarks, name='fc2', dtype=self.dtype)(x)
    return x.reshape(x.shape[0], self.num_landmarks, 2).astype(jnp.float32)
