"""One tiny training run (both stages) into a workdir, slowed down so that a test can
kill -9 it mid-run; run again with the same workdir, it resumes.

  python kill_worker.py WORKDIR [--delay SECONDS]
"""

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def config():
  from au_jax import config_lib  # pylint: disable=g-import-not-at-top
  c = config_lib.load_config(os.path.join(ROOT, 'configs', 'tiny.py'))
  c.stage1.epochs = 1
  c.stage2.epochs = 2
  c.stage2.constant_epochs = 1
  c.stage2.decay_epochs = 1
  c.train.checkpoint_every_steps = 3
  c.train.log_every_steps = 1
  c.train.eval_batch_size = 8
  return c


def data(delay):
  import numpy as np  # pylint: disable=g-import-not-at-top
  from au_jax import data as data_lib  # pylint: disable=g-import-not-at-top

  class Slow(data_lib.ArrayData):
    def source_batches(self, global_batch_size, start_step=0):
      for batch in super().source_batches(global_batch_size, start_step):
        time.sleep(delay)
        yield batch

  rng = np.random.default_rng(0)
  return Slow(data_lib.fake_arrays(rng, 16, 32, 3), data_lib.fake_arrays(rng, 16, 32, 3),
              np.array([0.5, 1.0, 1.5], np.float32),
              eval_sets={'target_validation': ('target', data_lib.fake_arrays(rng, 10, 32, 3))})


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('workdir')
  parser.add_argument('--delay', type=float, default=0.0, help='seconds per source batch')
  args = parser.parse_args()
  from au_jax import train  # pylint: disable=g-import-not-at-top
  train.train_and_evaluate(config(), args.workdir, data(args.delay))
  print('finished', flush=True)


if __name__ == '__main__':
  main()
