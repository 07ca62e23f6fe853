"""Keeping the device fed: resuming the input pipeline, its speed per core, and how long
a checkpoint save blocks the training loop.

    python benchmarks/feeding.py [--images 256] [--out benchmarks/feeding_cpu2.json]

1. Resume: time from building the training stream at step k (0, 1,000 and 10,000, batch
   8, paper size: 200-pixel aligned faces, 176 crops) to its first batch. `after` is the
   pipeline's own start_step (the skipped records are read, not decoded, and whole
   epochs not at all); `before` is how au_jax.data resumed before it: the same stream
   from step 0 with `ds.skip(k)` on the decoded batches.
2. Pipeline images/s per core: training batches at paper size through a tf.data private
   thread pool of one thread (uint8 crops, as sent to the device; and with the former
   float32 normalisation in tf.data, for comparison), against what a stage-2 step needs
   (source + target images per step / step time: benchmarks/results_cpu2.json's CPU
   step and the README's H200 step).
3. Checkpoint saves: how long checkpointing.save() blocks for the paper-size stage-2
   training state, with orbax's synchronous save (before) and its asynchronous one
   (after), and how long the asynchronous write takes to finish in the background.
"""

import argparse
import datetime
import json
import os
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

BATCH, ALIGNED, CROP = 8, 200, 176
# benchmarks/README.md, "One NVIDIA H200": a paper-size stage-2 step at batch 8.
H200_STAGE2_STEP_S = (0.036, 0.047)


def prepared(tmp, images):
  """A prepared data set of `images` fake faces aligned to 200 pixels (train split)."""
  from data_pipelines import benchmark, prepare  # pylint: disable=g-import-not-at-top
  manifest = benchmark.write_images(os.path.join(tmp, 'raw'), images, 240, 320)
  prepare.prepare('manifest', [manifest], os.path.join(tmp, 'data'), 'bench',
                  aligned_size=ALIGNED, workers=min(4, os.cpu_count() or 1),
                  progress=False)
  return os.path.join(tmp, 'data')


def stream(data_dir, **kwargs):
  from au_jax import input_pipeline  # pylint: disable=g-import-not-at-top
  return input_pipeline.create_dataset(data_dir, 'bench', 'train', global_batch_size=BATCH,
                                       train=True, seed=0, crop_size=CROP, **kwargs)


def first_batch_seconds(make):
  start = time.perf_counter()
  next(make().as_numpy_iterator())
  return time.perf_counter() - start


def measure_resume(data_dir, steps, before_steps):
  out = {'batch': BATCH, 'crop': CROP, 'aligned': ALIGNED, 'after_s': {}, 'before_s': {}}
  from au_jax import input_pipeline  # pylint: disable=g-import-not-at-top
  n = input_pipeline.num_examples(data_dir, 'bench', 'train')
  out.update(examples=n, records_skipped_after={
      str(k): (k * BATCH) % n for k in steps}, decoded_skipped_before={
      str(k): k * BATCH for k in before_steps})
  first_batch_seconds(lambda: stream(data_dir))  # TensorFlow's first-use costs, not timed
  for k in steps:
    out['after_s'][str(k)] = first_batch_seconds(lambda k=k: stream(data_dir, start_step=k))
    print(f'  resume at {k}: after {out["after_s"][str(k)]:.2f} s', flush=True)
  for k in before_steps:
    out['before_s'][str(k)] = first_batch_seconds(lambda k=k: stream(data_dir).skip(k))
    print(f'  resume at {k}: before {out["before_s"][str(k)]:.2f} s', flush=True)
  return out


def measure_pipeline(data_dir, batches, step_s):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  @tf.autograph.experimental.do_not_convert
  def as_float(b):  # what the pipeline did before: normalise in tf.data
    return {**b, 'image': (tf.cast(b['image'], tf.float32) / 255.0 - 0.5) / 0.5}

  out = {'batch': BATCH, 'crop': CROP, 'threads': 1, 'batches': batches}
  for name, make in (('uint8', lambda: stream(data_dir, threads=1)),
                     ('float32', lambda: stream(data_dir, threads=1).map(as_float))):
    it = make().as_numpy_iterator()
    for _ in range(5):
      batch = next(it)
    start = time.perf_counter()
    for _ in range(batches):
      next(it)
    seconds = time.perf_counter() - start
    out[name] = {'images_per_s_per_core': batches * BATCH / seconds,
                 'image_bytes_per_batch': int(batch['image'].nbytes)}
    print(f'  pipeline {name}: {batches * BATCH / seconds:.0f} images/s on one thread',
          flush=True)
  per_core = out['uint8']['images_per_s_per_core']
  images_per_step = 2 * BATCH  # a source and a target batch
  need = {'cpu2_stage2': {'step_s': step_s, 'source': 'benchmarks/results_cpu2.json'},
          'h200_stage2': {'step_s': list(H200_STAGE2_STEP_S),
                          'source': 'benchmarks/README.md, One NVIDIA H200'}}
  for v in need.values():
    fastest = min(np.atleast_1d(v['step_s']))
    v['images_per_step'] = images_per_step
    v['images_per_s_needed'] = images_per_step / fastest
    v['cores_needed'] = v['images_per_s_needed'] / per_core
  out['step_need'] = need
  return out


def paper_state():
  """The paper-size stage-2 TrainState (configs/default.py), filled with random values:
  its arrays have the real shapes and dtypes, without compiling the initialisation."""
  from au_jax import config_lib, train  # pylint: disable=g-import-not-at-top
  config = config_lib.prepare_config(config_lib.load_config(
      os.path.join(REPO, 'configs', 'default.py')))
  model = config_lib.create_model(config)

  def init():
    variables = train.init_variables(model, config, jax.random.key(0))
    return train.create_state(variables, config, 2, 100)
  shapes = jax.eval_shape(init)
  rng = np.random.default_rng(0)
  state = jax.tree.map(lambda s: jax.device_put(
      rng.standard_normal(s.shape).astype(s.dtype) if np.issubdtype(s.dtype, np.floating)
      else np.zeros(s.shape, s.dtype)), shapes)
  return config, state


def measure_saves(tmp, repeats):
  from au_jax import checkpointing  # pylint: disable=g-import-not-at-top
  config, state = paper_state()
  leaves = jax.tree.leaves(state)
  out = {'arrays': len(leaves), 'bytes': int(sum(x.nbytes for x in leaves)),
         'repeats': repeats}
  for name, async_save in (('before_sync', False), ('after_async', True)):
    mngr = checkpointing.manager(os.path.join(tmp, name), 'stage2', config,
                                 async_save=async_save)
    blocked, cpu, finished = [], [], []
    for i in range(repeats):
      start, start_cpu = time.perf_counter(), time.process_time()
      checkpointing.save(mngr, i + 1, state, {checkpointing.METRIC: 0.1 * i}, {'stage': '2'})
      blocked.append(time.perf_counter() - start)
      cpu.append(time.process_time() - start_cpu)
      mngr.wait_until_finished()  # saves are far apart in training: the last one is done
      finished.append(time.perf_counter() - start)
    mngr.close()
    # CPU seconds of the whole process (all threads) during the call: on a shared,
    # loaded machine the wall time also counts the waits for a core.
    out[name] = {'save_blocks_s': blocked, 'process_cpu_s_during_save': cpu,
                 'written_after_s': finished}
    print(f'  save {name}: blocks {np.median(blocked):.2f} s (median of {repeats}), '
          f'written after {np.median(finished):.2f} s', flush=True)
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--images', type=int, default=256)
  parser.add_argument('--steps', type=int, nargs='+', default=[0, 1000, 10000])
  parser.add_argument('--before-steps', type=int, nargs='*', default=[0, 1000, 10000])
  parser.add_argument('--batches', type=int, default=100)
  parser.add_argument('--saves', type=int, default=3)
  parser.add_argument('--skip', nargs='*', default=[], choices=['resume', 'pipeline', 'saves'])
  parser.add_argument('--out', default=os.path.join(REPO, 'benchmarks', 'feeding_cpu2.json'))
  args = parser.parse_args()

  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.set_visible_devices([], 'GPU')
  with open(os.path.join(REPO, 'benchmarks', 'results_cpu2.json')) as f:
    step_s = json.load(f)['training']['paper']['stage2']['step_s']
  results = {'environment': {
      'date': datetime.datetime.now().isoformat(timespec='seconds'),
      'backend': jax.default_backend(), 'cpu_count': os.cpu_count(),
      'load_average_start': os.getloadavg(), 'images': args.images}}
  with tempfile.TemporaryDirectory() as tmp:
    if 'resume' not in args.skip or 'pipeline' not in args.skip:
      data_dir = prepared(tmp, args.images)
    if 'resume' not in args.skip:
      results['resume_to_first_batch'] = measure_resume(data_dir, args.steps,
                                                        args.before_steps)
    if 'pipeline' not in args.skip:
      results['pipeline'] = measure_pipeline(data_dir, args.batches, step_s)
    if 'saves' not in args.skip:
      results['checkpoint_save'] = measure_saves(tmp, args.saves)
  results['environment']['load_average_end'] = os.getloadavg()
  with open(args.out, 'w') as f:
    json.dump(results, f, indent=1)
  print(f'wrote {args.out}')


if __name__ == '__main__':
  main()
