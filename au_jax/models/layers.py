"""Building blocks shared by the modules of docs/method.md §1.

Conventions that make the Flax modules match ADLD's PyTorch ones:
- PReLU has one learnable slope per layer initialised to 0.25 (PyTorch's default; Flax's
  own default is 0.01).
- Instance norm has no learnable scale or bias (PyTorch's `affine=False`), eps 1e-5.
- BatchNorm uses PyTorch's momentum 0.1 (Flax momentum 0.9) and eps 1e-5.
- Kernels use PyTorch's default init, U(±1/sqrt(fan_in)) (variance 1/(3·fan_in)), so the
  learning rates tuned for ADLD keep their meaning.
- `dtype` is the computation dtype (bfloat16 with `config.half_precision`); parameters
  always stay float32, and normalisation statistics are computed in float32.
"""

import functools
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

Dtype = Any

torch_kernel_init = nn.initializers.variance_scaling(1 / 3, 'fan_in', 'uniform')

Conv = functools.partial(nn.Conv, kernel_init=torch_kernel_init)
Dense = functools.partial(nn.Dense, kernel_init=torch_kernel_init)
PReLU = functools.partial(nn.PReLU, negative_slope_init=0.25)
InstanceNorm = functools.partial(
    nn.InstanceNorm, use_scale=False, use_bias=False, epsilon=1e-5)
BatchNorm = functools.partial(nn.BatchNorm, momentum=0.9, epsilon=1e-5)


def conv3x3(features, name=None, dtype=jnp.float32):
  return Conv(features, (3, 3), padding='SAME', name=name, dtype=dtype)


class ConvINPReLU(nn.Module):
  """conv 3×3 → instance norm → PReLU, the unit of E_l, G_b, D_l and G_st."""
  features: int
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    x = conv3x3(self.features, dtype=self.dtype)(x)
    return PReLU()(InstanceNorm(dtype=self.dtype)(x))


class ConvBNPReLU(nn.Module):
  """conv 3×3 → batch norm → PReLU, the unit of the landmark branches and E_au."""
  features: int
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    x = conv3x3(self.features, dtype=self.dtype)(x)
    x = BatchNorm(use_running_average=not train, dtype=self.dtype)(x)
    return PReLU()(x)


class ConvBlock(nn.Module):
  """One "integral module" of a landmark branch: [conv, BN, PReLU] ×2, avg-pool 2×2."""
  features: int
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    x = ConvBNPReLU(self.features, self.dtype)(x, train)
    x = ConvBNPReLU(self.features, self.dtype)(x, train)
    return nn.avg_pool(x, (2, 2), strides=(2, 2), padding='VALID')


class ConvBlocks(nn.Module):
  """Consecutive ConvBlocks; used for blocks 1–2 (E_f), the shared 3–4 and block 5."""
  channels: tuple[int, ...]
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    for i, c in enumerate(self.channels):
      x = ConvBlock(c, self.dtype, name=f'block{i}')(x, train)
    return x


def check_input(x, rank, name, channels=None):
  """Fails with the module's name on a wrong-rank or wrong-channel input."""
  if x.ndim != rank:
    raise ValueError(f'{name}: expected a rank-{rank} input, got shape {x.shape}')
  if channels is not None and x.shape[-1] != channels:
    raise ValueError(
        f'{name}: expected {channels} input channels, got shape {x.shape}')
  return jnp.asarray(x)
