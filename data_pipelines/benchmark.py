"""Measures prepare (images/s) and the training pipeline (batches/s) on fake faces.

  python -m data_pipelines.benchmark [--images 200] [--height 480 --width 640]
"""

import argparse
import os
import tempfile
import time

import numpy as np

from data_pipelines import fakes


def write_images(folder, count, height, width):
  """A manifest of `count` JPEG faces of height x width pixels."""
  rng = np.random.default_rng(0)
  header = ['image', 'subject', 'split'] + [f'{a}{i}' for i in range(1, 69)
                                            for a in 'xy'] + ['AU1', 'AU2']
  rows = []
  for i in range(count):
    image, points = fakes.fake_face(rng, height, width, face=0.45 * min(height, width))
    name = f'images/{i:05d}.jpg'
    fakes.write_image(os.path.join(folder, name), image)
    rows.append([name, f's{i % 5}', 'train'] + [f'{v:.2f}' for v in points.reshape(-1)]
                + [str(i % 2), str(int(i % 3 == 0))])
  return fakes.write_csv(os.path.join(folder, 'manifest.csv'), header, rows)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument('--images', type=int, default=200)
  parser.add_argument('--height', type=int, default=480)
  parser.add_argument('--width', type=int, default=640)
  parser.add_argument('--aligned-size', type=int, default=200)
  parser.add_argument('--crop-size', type=int, default=176)
  parser.add_argument('--batch-size', type=int, default=8)
  parser.add_argument('--batches', type=int, default=100)
  parser.add_argument('--workers', type=int, default=min(4, os.cpu_count() or 1))
  args = parser.parse_args(argv)

  from au_jax import input_pipeline  # pylint: disable=g-import-not-at-top
  from data_pipelines import prepare  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as tmp:
    manifest = write_images(os.path.join(tmp, 'raw'), args.images, args.height, args.width)
    start = time.perf_counter()
    prepare.prepare('manifest', [manifest], os.path.join(tmp, 'data'), 'bench',
                    aligned_size=args.aligned_size, workers=args.workers, progress=False)
    seconds = time.perf_counter() - start
    print(f'prepare: {args.images} images of {args.width}x{args.height} -> '
          f'{args.aligned_size}: {seconds:.2f} s, {args.images / seconds:.1f} images/s '
          f'({args.workers} workers)')

    ds = input_pipeline.create_dataset(
        os.path.join(tmp, 'data'), 'bench', 'train', global_batch_size=args.batch_size,
        train=True, seed=0, crop_size=args.crop_size, process_index=0, process_count=1)
    it = ds.as_numpy_iterator()
    for _ in range(5):
      next(it)
    start = time.perf_counter()
    for _ in range(args.batches):
      next(it)
    seconds = time.perf_counter() - start
    print(f'pipeline: {args.batches} batches of {args.batch_size}x{args.crop_size}x'
          f'{args.crop_size}: {seconds:.2f} s, {args.batches / seconds:.1f} batches/s, '
          f'{args.batches * args.batch_size / seconds:.0f} images/s')


if __name__ == '__main__':
  main()
