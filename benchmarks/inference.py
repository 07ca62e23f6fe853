"""Inference speed: the network alone, and `au-jax predict` end to end on a video.

    python benchmarks/inference.py [--config configs/default.py] [--frames 120]
    python benchmarks/inference.py --video-modes --out benchmarks/inference_video.json

It imports au_jax as installed (pip install -e . from the repository's root).

1. Images per second of both inference paths (docs/method.md §2) at the config's crop size
   (176 for the paper) for batches of 1 and 64, with and without the model's landmarks
   (the landmark branch; `predict --no-model-landmarks` skips it), after compilation,
   with random weights (speed does not depend on the values).
2. `au-jax predict` frames per second on a generated 640x360 video with one face per
   frame (scikit-image's astronaut, moving), and the share of the time spent in dlib face
   detection and in the network. The weights are random, saved as a checkpoint in a
   temporary workdir, so the whole path (restore, detect, align, batch, CSV) runs.
3. With --video-modes, instead of 1 and 2: `au-jax predict` on that video in three
   modes, in one run and on the same predictor: frame by frame as before tracks
   (detection on every frame, no reader thread), `--detect-every 1` and
   `--detect-every 5` (reader thread beside the network, faces followed between
   detections). Each mode runs `--repeats` times, interleaved, and keeps its fastest
   run; it reports frames/s, face rows and the largest AU probability difference to
   the first mode on frames where both found a face. --out writes it as JSON.
4. With --onnx, instead: the target path (with the model's landmarks) at batch 1 in
   JAX against the same function exported to ONNX and run by ONNX Runtime and by
   OpenVINO (f32), interleaved in one run; the export goes through jax2onnx on the
   function's jaxpr, with average pools written as reshapes and sums (jax2onnx turns
   XLA's window sums into 6-D convolutions OpenVINO rejects). Needs
   `pip install onnxruntime openvino` and `pip install --no-deps jax2onnx onnx onnx-ir`
   (jax2onnx's own requirements would downgrade orbax-checkpoint). Not part of
   au_jax: neither runtime was faster here (docs/speed.md).
5. --example-video FILE writes the video behind docs/video_plot.png instead: two SynthAU
   people (lab style) who smile and raise and lower their brows at known times, and
   leave the picture for half a second.
"""

import argparse
import csv
import dataclasses
import io
import json
import os
import shutil
import sys
import tempfile
import time

import jax
import numpy as np

from au_jax import config_lib
from au_jax import errors
from au_jax import faces
from au_jax import inference
from au_jax import predict
from au_jax import random_weights
from data_pipelines import fakes

# The default --config, and the config's path in --out, are relative to the repository.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def write_video(path, frames, size=(640, 360), fps=25):
  """A video with the astronaut's face (about 150 pixels) drifting across the frame."""
  return fakes.write_face_video(path, frames, size, fps, period=15)


def end_to_end(workdir, video, batch_size=32):
  predictor = inference.load(workdir)
  options = predict.PredictOptions(batch_size=batch_size, progress=False)
  compile_seconds = predict.warm_up(predictor, options)
  summary = predict.predict_files(predictor, [video], csv.writer(io.StringIO()),
                                  detector=faces.DlibDetector(), options=options)
  summary.timer['compile'] = compile_seconds
  return summary


# (name, PredictOptions fields); the first is the reference.
VIDEO_MODES = (
    ('frame by frame (before tracks)', {'detect_every': 1, 'overlap': False}),
    ('--detect-every 1', {'detect_every': 1}),
    ('--detect-every 5', {'detect_every': 5}),
)


def _probabilities(rows, au_ids):
  """{frame: (n_au,) probabilities} of the first face of each frame with a face."""
  out = {}
  for row in rows:
    if row['success'] == '1' and row['face'] == '0':
      out[row['frame']] = np.array([float(row[f'AU{a:02d}_prob']) for a in au_ids])
  return out


def compare_video(workdir, video, modes=VIDEO_MODES, batch_size=32, repeats=2,
                  landmarks=True):
  """{mode: {frames_per_s, seconds, face_rows, detection and network shares,
  max_au_difference}} of `au-jax predict` on `video` in each mode, on one predictor."""
  predictor = inference.load(workdir)
  base = predict.PredictOptions(batch_size=batch_size, landmarks=landmarks,
                                progress=False)
  predict.warm_up(predictor, base)
  detector = faces.DlibDetector()
  best = {}
  for _ in range(repeats):
    for name, options in modes:
      stream = io.StringIO()
      summary = predict.predict_files(predictor, [video], csv.writer(stream),
                                      detector=detector,
                                      options=dataclasses.replace(base, **options))
      if name not in best or summary.seconds < best[name][0].seconds:
        best[name] = (summary, list(csv.DictReader(io.StringIO(stream.getvalue()))))
  reference = _probabilities(best[modes[0][0]][1], predictor.au_ids)
  results = {}
  for name, _ in modes:
    summary, rows = best[name]
    probs = _probabilities(rows, predictor.au_ids)
    common = sorted(set(probs) & set(reference))
    results[name] = {
        'frames_per_s': round(summary.frames / summary.seconds, 2),
        'seconds': round(summary.seconds, 2),
        'frames': summary.frames,
        'face_rows': summary.faces,
        'detector_frames': summary.detected,
        'detection_share': round(summary.timer['detection'] / summary.seconds, 3),
        'network_share': round(summary.timer['network'] / summary.seconds, 3),
        'max_au_difference': round(float(max(
            (np.abs(probs[f] - reference[f]).max() for f in common), default=0.0)), 4),
        'frames_compared': len(common)}
  return results


def _load():
  try:
    return os.getloadavg()[0]
  except OSError:
    return None


def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--config', default=os.path.join(REPO, 'configs', 'default.py'))
  parser.add_argument('--frames', type=int, default=120)
  parser.add_argument('--seconds', type=float, default=3.0,
                      help='timing per (path, batch) measurement')
  parser.add_argument('--video-modes', action='store_true',
                      help='compare the video modes of predict (3. above) instead')
  parser.add_argument('--repeats', type=int, default=2)
  parser.add_argument('--no-model-landmarks', dest='landmarks', action='store_false')
  parser.add_argument('--onnx', action='store_true',
                      help='compare ONNX Runtime and OpenVINO with JAX (4. above) instead')
  parser.add_argument('--out', help='with --video-modes or --onnx: write the results '
                      'as JSON')
  parser.add_argument('--example-video', metavar='FILE',
                      help='write the example video of docs/video_plot.png (5. above)')
  args = parser.parse_args()
  if args.example_video:
    return write_example_video(args.example_video)
  if args.video_modes:
    return video_modes(args)
  if args.onnx:
    return onnx_runtimes(args)
  config = config_lib.prepare_config(config_lib.load_config(args.config))
  model = config_lib.create_model(config)
  variables = random_weights.random_variables(model, config.data.crop_size, config=config)
  predictor = inference.Predictor(model, variables, config)
  print(f'{jax.devices()[0].device_kind}, {os.cpu_count()} CPUs, jax {jax.__version__}; '
        f'{config.data.crop_size}-pixel crops, {len(config.data.au_ids)} AUs')
  for (path, batch, marks), rate in network_rates(predictor, seconds=args.seconds).items():
    print(f'  network, {path} path, batch {batch:2d}, '
          f'{"with" if marks else "without"} model landmarks: {rate:7.1f} images/s')
  root = tempfile.mkdtemp(prefix='au_jax_bench_')
  try:
    random_weights.write_workdir(os.path.join(root, 'work'), config, variables)
    video = os.path.join(root, 'clip.avi')
    write_video(video, args.frames)
    summary = end_to_end(os.path.join(root, 'work'), video)
    print(f'  predict on a 640x360 video: {summary.report()}')
  finally:
    shutil.rmtree(root, ignore_errors=True)


def video_modes(args):
  config = config_lib.prepare_config(config_lib.load_config(args.config))
  model = config_lib.create_model(config)
  variables = random_weights.random_variables(model, config.data.crop_size, config=config)
  root = tempfile.mkdtemp(prefix='au_jax_bench_')
  try:
    random_weights.write_workdir(os.path.join(root, 'work'), config, variables)
    video = os.path.join(root, 'clip.avi')
    write_video(video, args.frames)
    load = _load()
    results = compare_video(os.path.join(root, 'work'), video, repeats=args.repeats,
                            landmarks=args.landmarks)
  finally:
    shutil.rmtree(root, ignore_errors=True)
  reference = results[VIDEO_MODES[0][0]]['frames_per_s']
  print(f'{jax.devices()[0].device_kind}, {os.cpu_count()} CPUs, jax {jax.__version__}; '
        f'{config.data.crop_size}-pixel crops; 640x360 video, {args.frames} frames, one '
        f'face; load average {load} at the start')
  for name, r in results.items():
    print(f'  {name:32s} {r["frames_per_s"]:6.1f} frames/s ({r["frames_per_s"] / reference:.2f}x)'
          f'  face rows {r["face_rows"]}  detector on {r["detector_frames"]} frames  '
          f'detection {100 * r["detection_share"]:.0f}%  network '
          f'{100 * r["network_share"]:.0f}%  max AU difference {r["max_au_difference"]}')
  if args.out:
    with open(args.out, 'w', encoding='utf-8') as f:
      json.dump({'device': jax.devices()[0].device_kind, 'cpus': os.cpu_count(),
                 'jax': jax.__version__, 'config': os.path.relpath(args.config, REPO),
                 'crop_size': config.data.crop_size, 'frames': args.frames,
                 'model_landmarks': args.landmarks, 'load_average_at_start': load,
                 'modes': results}, f, indent=1)
    print(f'wrote {args.out}')


def _ramp(frame, start, full, end, stop):
  """0 before `start`, rising to 1 at `full`, 1 until `end`, 0 again at `stop`."""
  return float(np.interp(frame, (start, full, end, stop), (0, 1, 1, 0)))


def write_example_video(path, frames=80, fps=10, size=(640, 360)):
  """Two SynthAU people side by side: the left one smiles (AU6 and AU12) over frames
  15-60, the right one raises the brows (AU1, AU2) over 8-32 and frowns (AU4) over
  42-66; both leave the picture for frames 68-72."""
  import cv2  # pylint: disable=g-import-not-at-top
  from data_pipelines.synthau import dataset, domains, labels  # pylint: disable=g-import-not-at-top
  people = []
  for subject, x in ((3, 40), (8, 360)):
    ident, backdrop = dataset.subject_identity(0, subject)
    people.append((ident, domains.Scene('lab', 240, scale=240 * 0.27, backdrop=backdrop), x))
  writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), fps, size)
  for f in range(frames):
    frame = np.full((size[1], size[0], 3), 120, np.uint8)
    if not 68 <= f <= 72:
      smile = _ramp(f, 15, 28, 48, 60)
      brows, frown = _ramp(f, 8, 16, 24, 32), _ramp(f, 42, 50, 58, 66)
      for (ident, scene, x), au in zip(people, (
          {6: smile, 12: smile}, {1: brows, 2: 0.8 * brows, 4: frown})):
        intensity = np.zeros(len(labels.AUS))
        for a, v in au.items():
          intensity[labels.INDEX[a]] = v
        image, _ = domains.render(ident, intensity, scene)  # BGR
        frame[60:300, x:x + 240] = image
    else:
      frame = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    writer.write(frame)
  writer.release()
  print(f'wrote {path}')


def _evaluate(jaxpr, consts, *args):
  """Evaluates a jaxpr, inlining nested jits and writing non-overlapping window sums
  (average pools) as reshapes and sums, which ONNX exporters handle well."""
  env = {}
  read = lambda v: v.val if type(v).__name__ == 'Literal' else env[v]
  env.update(zip(jaxpr.constvars, consts))
  env.update(zip(jaxpr.invars, args))
  for eqn in jaxpr.eqns:
    ins = [read(v) for v in eqn.invars]
    name, params = eqn.primitive.name, eqn.params
    if name == 'jit':
      outs = _evaluate(params['jaxpr'].jaxpr, params['jaxpr'].consts, *ins)
    elif name == 'custom_jvp_call':
      outs = _evaluate(params['call_jaxpr'].jaxpr, params['call_jaxpr'].consts, *ins)
    elif (name == 'reduce_window_sum' and ins[0].ndim == 4
          and tuple(params['window_dimensions']) == tuple(params['window_strides'])
          and params['window_dimensions'][0] == params['window_dimensions'][3] == 1
          and not any(a or b for a, b in params['padding'])):
      x, (_, kh, kw, _) = ins[0], params['window_dimensions']
      b, h, w, c = x.shape
      x = x[:, :h // kh * kh, :w // kw * kw]
      outs = [x.reshape(b, h // kh, kh, w // kw, kw, c).sum(axis=(2, 4))]
    else:
      outs = eqn.primitive.bind(*ins, **params)
      if not eqn.primitive.multiple_results:
        outs = [outs]
    env.update(zip(eqn.outvars, outs))
  return [read(v) for v in jaxpr.outvars]


def to_onnx(predictor, path='target', batch=1):
  """The inference path (weights inside) as an ONNX ModelProto: uint8 images ->
  (au_probs, landmarks)."""
  from jax2onnx import to_onnx as convert  # pylint: disable=g-import-not-at-top
  size = predictor.crop_size
  apply, variables = predictor.apply(path), predictor.variables
  spec = jax.ShapeDtypeStruct((batch, size, size, 3), jax.numpy.uint8)
  closed = jax.make_jaxpr(lambda images: tuple(apply(variables, images)))(spec)
  return convert(lambda images: tuple(_evaluate(closed.jaxpr, closed.consts, images)),
                 [spec], model_name='au_jax')


def _rate(call, seconds):
  call()
  calls, start = 0, time.perf_counter()
  while calls < 3 or time.perf_counter() - start < seconds:
    call()
    calls += 1
  return calls / (time.perf_counter() - start)


ONNX_INSTALL = ('pip install onnxruntime openvino && pip install --no-deps jax2onnx onnx '
                'onnx-ir')


def onnx_packages():
  """(onnxruntime, openvino), after checking jax2onnx too: MissingPackage with the
  install line when one is absent, before anything is built."""
  for module in ('jax2onnx', 'onnx'):
    errors.require(module, '--onnx', ONNX_INSTALL)
  return (errors.require('onnxruntime', '--onnx', ONNX_INSTALL),
          errors.require('openvino', '--onnx', ONNX_INSTALL))


def onnx_runtimes(args, rounds=3):
  onnxruntime, openvino = onnx_packages()
  config = config_lib.prepare_config(config_lib.load_config(args.config))
  model = config_lib.create_model(config)
  variables = random_weights.random_variables(model, config.data.crop_size, config=config)
  predictor = inference.Predictor(model, variables, config)
  size = predictor.crop_size
  start = time.perf_counter()
  proto = to_onnx(predictor)
  convert_seconds = time.perf_counter() - start
  data = proto.SerializeToString()
  options = onnxruntime.SessionOptions()
  options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
  session = onnxruntime.InferenceSession(data, options,
                                         providers=['CPUExecutionProvider'])
  core = openvino.Core()
  with tempfile.TemporaryDirectory() as folder:
    file = os.path.join(folder, 'au_jax.onnx')
    with open(file, 'wb') as f:
      f.write(data)
    compiled = core.compile_model(file, 'CPU', {
        'PERFORMANCE_HINT': 'LATENCY', 'INFERENCE_PRECISION_HINT': 'f32'})
  request = compiled.create_infer_request()
  images = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), np.uint8)
  name = session.get_inputs()[0].name
  want = predictor(images, path='target')
  runners = {
      'jax': lambda: jax.block_until_ready(predictor(images, path='target').au_probs),
      'onnxruntime': lambda: session.run(None, {name: images}),
      'openvino': lambda: request.infer({0: images}),
  }
  outputs = {'onnxruntime': session.run(None, {name: images}),
             'openvino': list(request.infer({0: images}).values())}
  agreement = {k: {'au_probs': float(np.abs(v[0] - np.asarray(want.au_probs)).max()),
                   'landmarks': float(np.abs(v[1] - np.asarray(want.landmarks)).max())}
               for k, v in outputs.items()}
  load = _load()
  rates = {k: [] for k in runners}
  for _ in range(rounds):
    for k, call in runners.items():
      rates[k].append(round(_rate(call, args.seconds), 2))
  ops = {}
  for node in proto.graph.node:
    ops[node.op_type] = ops.get(node.op_type, 0) + 1
  result = {'device': jax.devices()[0].device_kind, 'cpus': os.cpu_count(),
            'jax': jax.__version__, 'onnxruntime': onnxruntime.__version__,
            'openvino': openvino.__version__, 'crop_size': size, 'batch': 1,
            'path': 'target', 'model_landmarks': True, 'load_average_at_start': load,
            'export_seconds': round(convert_seconds, 1),
            'images_per_s': rates, 'best_ratio_to_jax': {
                k: round(max(rates[k]) / max(rates['jax']), 2) for k in rates},
            'max_abs_difference_to_jax': agreement,
            'onnx_ops': dict(sorted(ops.items(), key=lambda kv: -kv[1])[:8])}
  print(json.dumps(result, indent=1))
  if args.out:
    with open(args.out, 'w', encoding='utf-8') as f:
      json.dump(result, f, indent=1)
    print(f'wrote {args.out}')


if __name__ == '__main__':
  try:
    main()
  except errors.UserError as e:  # a missing optional package, a bad file: one line
    sys.exit(f'benchmarks/inference.py: error: {e}')
