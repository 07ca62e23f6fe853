"""Building blocks shared by the modules of docs/method.md §1.

Conventions that make the Flax modules match ADLD's PyTorch ones:
- PReLU has one learnable slope per layer initialised to 0.25 (PyTorch's default; Flax's
  own default is 0.01).
- Instance norm has no learnable scale or bias (PyTorch's `affine=False`), eps 1e-5.
- BatchNorm uses PyTorch's momentum 0.1 (Flax momentum 0.9) and eps 1e-5; `groups` lets
  one call normalise several calls' concatenated inputs apart (`BatchNorm`).
- Every module's BatchNorm-bearing `__call__` takes `groups` (default 1) and passes it on.
- Kernels use PyTorch's default init, U(±1/sqrt(fan_in)) (variance 1/(3·fan_in)), so the
  learning rates tuned for ADLD keep their meaning.
- `dtype` is the computation dtype (bfloat16 with `config.half_precision`); parameters
  always stay float32, and normalisation statistics are computed in float32.
"""

import functools
from typing import Any

import flax.linen as nn
from flax.linen import normalization
import jax.numpy as jnp

Dtype = Any

torch_kernel_init = nn.initializers.variance_scaling(1 / 3, 'fan_in', 'uniform')

Conv = functools.partial(nn.Conv, kernel_init=torch_kernel_init)
Dense = functools.partial(nn.Dense, kernel_init=torch_kernel_init)
PReLU = functools.partial(nn.PReLU, negative_slope_init=0.25)
InstanceNorm = functools.partial(
    nn.InstanceNorm, use_scale=False, use_bias=False, epsilon=1e-5)


class BatchNorm(nn.Module):
  """flax's nn.BatchNorm (same variables, same arithmetic) with PyTorch's momentum and
  eps, whose batch may be several calls' inputs concatenated along the batch axis.

  With `groups` = k in training, the batch is k equal slices, one per call: each slice is
  normalised by its own statistics, and the running averages are updated once per
  slice, in order, exactly as k calls one after another would update them. This lets a
  module that the forward graph calls several times run as one call (docs/method.md
  §2, "Batched calls"). Normalisation itself is flax's own (`_compute_stats`,
  `_normalize`), so k = 1 is nn.BatchNorm.
  """
  use_running_average: bool | None = None
  momentum: float = 0.9
  epsilon: float = 1e-5
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, x, groups: int = 1):
    features = (x.shape[-1],)
    ra_mean = self.variable('batch_stats', 'mean', jnp.zeros, features, jnp.float32)
    ra_var = self.variable('batch_stats', 'var', jnp.ones, features, jnp.float32)
    if self.use_running_average:
      return self._normalize(x, ra_mean.value, ra_var.value)
    if x.shape[0] % groups:
      raise ValueError(f'BatchNorm: a batch of {x.shape[0]} is not {groups} equal calls')
    xg = x.reshape(groups, x.shape[0] // groups, *x.shape[1:]) if groups > 1 else x
    axes = tuple(range(xg.ndim - x.ndim, xg.ndim - 1))  # all but the group and channels
    # pylint: disable-next=protected-access
    mean, var = normalization._compute_stats(xg, axes, dtype=self.dtype)
    if not self.is_initializing():
      for k in range(groups):  # one update per call, in call order
        m, v = (mean[k], var[k]) if groups > 1 else (mean, var)
        ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * m
        ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * v
    return self._normalize(xg, mean, var).reshape(x.shape)

  def _normalize(self, x, mean, var):
    """flax's normalisation of x by mean, var: (C,), or (k, C) for k groups."""
    return normalization._normalize(  # pylint: disable=protected-access
        self, x, mean, var, tuple(range(mean.ndim - 1, x.ndim - 1)), (x.ndim - 1,),
        self.dtype, jnp.float32, self.epsilon, True, True, nn.initializers.zeros,
        nn.initializers.ones)


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
  def __call__(self, x, train: bool, groups: int = 1):
    x = conv3x3(self.features, dtype=self.dtype)(x)
    x = BatchNorm(use_running_average=not train, dtype=self.dtype)(x, groups)
    return PReLU()(x)


class ConvBlock(nn.Module):
  """One "integral module" of a landmark branch: [conv, BN, PReLU] ×2, avg-pool 2×2."""
  features: int
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool, groups: int = 1):
    x = ConvBNPReLU(self.features, self.dtype)(x, train, groups)
    x = ConvBNPReLU(self.features, self.dtype)(x, train, groups)
    return nn.avg_pool(x, (2, 2), strides=(2, 2), padding='VALID')


class ConvBlocks(nn.Module):
  """Consecutive ConvBlocks; used for blocks 1–2 (E_f), the shared 3–4 and block 5."""
  channels: tuple[int, ...]
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool, groups: int = 1):
    for i, c in enumerate(self.channels):
      x = ConvBlock(c, self.dtype, name=f'block{i}')(x, train, groups)
    return x


def check_input(x, rank, name, channels=None):
  """Fails with the module's name on a wrong-rank or wrong-channel input."""
  if x.ndim != rank:
    raise ValueError(f'{name}: expected a rank-{rank} input, got shape {x.shape}')
  if channels is not None and x.shape[-1] != channels:
    raise ValueError(
        f'{name}: expected {channels} input channels, got shape {x.shape}')
  return jnp.asarray(x)
