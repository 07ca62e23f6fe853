"""Test doubles: training data in memory (no tf.data), shaped like au_jax.data's."""

import dataclasses
import os

import numpy as np

from au_jax import checkpointing
from au_jax import config_lib
from data_pipelines import fakes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass
class ArrayData:
  """In-memory data for tests and notebooks: dicts of numpy arrays per domain.

  Each domain dict holds image (N, l, l, 3) float32, landmarks (N, 49, 2), au and au_mask
  (N, n_au). Training streams walk a fixed permutation per pass (seeded), no augmentation.
  """
  source: dict
  target: dict
  au_weights: np.ndarray
  eval_sets: dict = dataclasses.field(default_factory=dict)  # name -> (domain, arrays)
  seed: int = 0
  process_index: int = 0   # this host gets its slice of each global batch
  process_count: int = 1

  @property
  def eval_splits(self):
    return {name: domain for name, (domain, _) in self.eval_sets.items()}

  def steps_per_epoch(self, global_batch_size):
    return len(self.source['image']) // global_batch_size

  def _stream(self, arrays, global_batch_size, start_step, salt):
    n = len(arrays['image'])
    per_pass = n // global_batch_size
    step = start_step
    while True:
      epoch, k = divmod(step, per_pass)
      order = np.random.default_rng([self.seed, salt, epoch]).permutation(n)
      idx = order[k * global_batch_size:(k + 1) * global_batch_size]
      local = global_batch_size // self.process_count
      idx = idx[self.process_index * local:(self.process_index + 1) * local]
      yield {key: value[idx] for key, value in arrays.items()}
      step += 1

  def source_batches(self, global_batch_size, start_step=0):
    return self._stream(self.source, global_batch_size, start_step, 0)

  def target_batches(self, global_batch_size, start_step=0):
    return self._stream(self.target, global_batch_size, start_step, 1)

  def eval_batches(self, name, global_batch_size):
    return self._eval_pass(self.eval_sets[name][1], global_batch_size)

  def source_train_eval_batches(self, global_batch_size):
    return self._eval_pass(self.source, global_batch_size)

  def _eval_pass(self, arrays, global_batch_size):
    n = len(arrays['image'])
    for start in range(0, n, global_batch_size):
      idx = np.arange(start, start + global_batch_size)
      valid = (idx < n).astype(np.float32)
      idx = np.minimum(idx, n - 1)
      batch = {key: value[idx] for key, value in arrays.items()}
      batch['valid'] = valid
      yield batch


def tiny(**overrides):
  """configs/tiny.py with dotted-key overrides, logging every step."""
  config = config_lib.load_config(os.path.join(ROOT, 'configs', 'tiny.py'))
  config.train.log_every_steps = 1
  config.train.eval_batch_size = 8
  for key, value in overrides.items():
    node = config
    *path, last = key.split('.')
    for p in path:
      node = node[p]
    node[last] = value
  return config


def tiny_data(n=16, seed=0):
  """ArrayData of fake faces at 32 pixels, with a target validation set."""
  rng = np.random.default_rng(seed)
  return ArrayData(
      fakes.fake_arrays(rng, n, 32, 3), fakes.fake_arrays(rng, n, 32, 3),
      np.array([0.5, 1.0, 1.5], np.float32),
      eval_sets={'target_validation': ('target', fakes.fake_arrays(rng, 10, 32, 3))})


def stage2_params(workdir, config):
  """(latest stage-2 step, its params) of a training workdir."""
  mngr = checkpointing.manager(workdir, 'stage2', config)
  step = mngr.latest_step()
  restored = mngr.restore(step, args=checkpointing.ocp.args.Composite(
      state=checkpointing.ocp.args.StandardRestore()))
  return step, restored['state']['params']
