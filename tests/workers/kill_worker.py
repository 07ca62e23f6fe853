"""One tiny training run (both stages) into a workdir, slowed down so that a test can
kill -9 it mid-run; run again with the same workdir, it resumes.

  cd tests && python -m workers.kill_worker WORKDIR [--delay SECONDS]

Run as a module from tests/, so that `fixtures` imports as it does under pytest.
"""

import argparse
import time


def config():
  from fixtures import tiny  # pylint: disable=g-import-not-at-top
  return tiny(**{'stage1.epochs': 1, 'stage2.epochs': 2, 'stage2.constant_epochs': 1,
                 'stage2.decay_epochs': 1, 'train.checkpoint_every_steps': 3})


def data(delay):
  import fixtures  # pylint: disable=g-import-not-at-top
  from fixtures import tiny_data  # pylint: disable=g-import-not-at-top

  class Slow(fixtures.ArrayData):
    def source_batches(self, global_batch_size, start_step=0):
      for batch in super().source_batches(global_batch_size, start_step):
        time.sleep(delay)
        yield batch

  base = tiny_data()
  return Slow(base.source, base.target, base.au_weights, base.eval_sets)


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
