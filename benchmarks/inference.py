"""Inference speed: the network alone, and `au-jax predict` end to end on a video.

    python benchmarks/inference.py [--config configs/default.py] [--frames 120]

1. Images per second of both inference paths (docs/method.md §2) at the config's crop size
   (176 for the paper) for batches of 1 and 64, with and without the model's landmarks
   (the landmark branch; `predict --no-model-landmarks` skips it), after compilation,
   with random weights (speed does not depend on the values).
2. `au-jax predict` frames per second on a generated 640x360 video with one face per
   frame (scikit-image's astronaut, moving), and the share of the time spent in dlib face
   detection and in the network. The weights are random, saved as a checkpoint in a
   temporary workdir, so the whole path (restore, detect, align, batch, CSV) runs.
"""

import argparse
import csv
import io
import os
import shutil
import sys
import tempfile
import time

import jax
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from au_jax import config_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from au_jax import inference  # pylint: disable=g-import-not-at-top,wrong-import-position


def random_variables(model, crop_size, seed=0):
  """Variables of the inference paths with random values of plausible scale."""
  shapes = inference.inference_shapes(model, crop_size)
  leaves, tree = jax.tree.flatten(shapes)
  keys = jax.random.split(jax.random.key(seed), len(leaves))
  paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(
      shapes)[0]]
  values = []
  for key, leaf, path in zip(keys, leaves, paths):
    if path.endswith("['var']") or path.endswith("['scale']"):
      values.append(jax.numpy.ones(leaf.shape, leaf.dtype))
    else:
      values.append(0.05 * jax.random.normal(key, leaf.shape, leaf.dtype))
  return jax.tree.unflatten(tree, values)


def network_rates(predictor, batches=(1, 64), seconds=3.0, landmarks=(True, False)):
  """{(path, batch, landmarks): images/s} of predictor calls, compilation excluded."""
  size = predictor.crop_size
  rates = {}
  for path in ('source', 'target'):
    for with_landmarks in landmarks:
      for batch in batches:
        images = np.random.default_rng(0).integers(0, 256, (batch, size, size, 3),
                                                   np.uint8)
        call = lambda: jax.block_until_ready(  # pylint: disable=cell-var-from-loop
            predictor(images, path=path, landmarks=with_landmarks).au_probs)
        call()  # compile
        calls, start = 0, time.perf_counter()
        while calls < 2 or time.perf_counter() - start < seconds:
          call()
          calls += 1
        rates[path, batch, with_landmarks] = calls * batch / (time.perf_counter() - start)
  return rates


def write_workdir(workdir, config, variables):
  """A workdir with config.json and a stage-2 checkpoint holding `variables`."""
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  os.makedirs(workdir, exist_ok=True)
  config_lib.save_config(config, workdir)
  manager = ocp.CheckpointManager(os.path.join(workdir, 'checkpoints', 'stage2'),
                                  item_names=('state', 'meta'))
  state = {'step': np.int32(0), **variables}
  manager.save(0, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                          meta=ocp.args.JsonSave({'stage': '2'})))
  manager.wait_until_finished()


def write_video(path, frames, size=(640, 360), fps=25):
  """A video with the astronaut's face (about 150 pixels) drifting across the frame."""
  import cv2  # pylint: disable=g-import-not-at-top
  from skimage import data  # pylint: disable=g-import-not-at-top
  face = cv2.resize(data.astronaut()[30:300, 90:360], (220, 220))
  writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), fps, size)
  rng = np.random.default_rng(0)
  for i in range(frames):
    frame = np.full((size[1], size[0], 3), 110, np.uint8)
    frame += rng.integers(0, 20, frame.shape, dtype=np.uint8)
    x = int(40 + (size[0] - 300) * (0.5 + 0.5 * np.sin(i / 15)))
    frame[70:290, x:x + 220] = face
    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
  writer.release()


def end_to_end(workdir, video, batch_size=32):
  from au_jax import predict  # pylint: disable=g-import-not-at-top
  from au_jax.geometry import faces  # pylint: disable=g-import-not-at-top
  predictor = inference.load(workdir)
  compile_seconds = predict.warm_up(predictor, batch_size, None)
  summary = predict.predict_files(predictor, [video], csv.writer(io.StringIO()),
                                  detector=faces.DlibDetector(), batch_size=batch_size,
                                  progress=False)
  summary.timer['compile'] = compile_seconds
  return summary


def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--config', default=os.path.join(REPO, 'configs', 'default.py'))
  parser.add_argument('--frames', type=int, default=120)
  parser.add_argument('--seconds', type=float, default=3.0,
                      help='timing per (path, batch) measurement')
  args = parser.parse_args()
  config = config_lib.prepare_config(config_lib.load_config(args.config))
  model = config_lib.create_model(config)
  variables = random_variables(model, config.data.crop_size)
  predictor = inference.Predictor(model, variables, config)
  print(f'{jax.devices()[0].device_kind}, {os.cpu_count()} CPUs, jax {jax.__version__}; '
        f'{config.data.crop_size}-pixel crops, {len(config.data.au_ids)} AUs')
  for (path, batch, marks), rate in network_rates(predictor, seconds=args.seconds).items():
    print(f'  network, {path} path, batch {batch:2d}, '
          f'{"with" if marks else "without"} model landmarks: {rate:7.1f} images/s')
  root = tempfile.mkdtemp(prefix='au_jax_bench_')
  try:
    write_workdir(os.path.join(root, 'work'), config, variables)
    video = os.path.join(root, 'clip.avi')
    write_video(video, args.frames)
    summary = end_to_end(os.path.join(root, 'work'), video)
    print(f'  predict on a 640x360 video: {summary.report()}')
  finally:
    shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
  main()
