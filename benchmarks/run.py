"""All of au_jax's speed numbers in one command, on whatever devices JAX sees.

    python benchmarks/run.py [--quick] [--out benchmarks/results.json] [--table T.md]

Measures, and prints as a markdown table (also written to JSON):

1. training steps, stage 1 and stage 2, at the paper's size (configs/default.py: 176
   crops, batch 8) and the small preset (configs/synthetic.py: 64 crops, batch 16), and
   at the paper's size the stage-2 step of Table 7's row A (ADLD, equal work with ADLD's
   PyTorch iteration): step time, images/s, XLA compile time, FLOPs per step from XLA's
   cost analysis, the achieved FLOP/s, its share of a jitted 4096² float32 matmul's
   FLOP/s measured in the same run, and its fraction of the device's peak where known;
2. the tf.data input pipeline at both sizes (batches/s), and `prepare` (images/s);
3. inference, both paths, at both sizes (reusing benchmarks/inference.py);
4. the multi-device check: the same stage-2 steps on 1 and 8 simulated CPU devices in
   subprocesses (max parameter difference, step time of each), and on the real
   accelerators when there are several;
5. peak host memory, and the machine's load average (other jobs skew CPU timings);
6. with `--torch-python PY` (a Python that has PyTorch, which au_jax does not need), the
   same row-A stage-2 step ported to PyTorch (benchmarks/torch_reference.py), timed in a
   subprocess right after the JAX one: au_jax's speed against PyTorch at equal work.

Step timing (benchmarks/timing.py) follows the training loop: the state is put on the
mesh's replicated sharding, the step is compiled ahead of time and that one executable
runs two warm-up calls, then timed calls that each wait for the result. The Markdown
table is benchmarks/report.py's. `--quick` runs the small sizes only, with fewer repetitions (a smoke
test of this script, about two minutes on 2 CPU cores).
"""

import argparse
import datetime
import functools
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

# Several JAX processes may share a GPU here (the scaling workers): allocate on demand.
os.environ.setdefault('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from au_jax import config_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from data_pipelines import fakes  # pylint: disable=g-import-not-at-top,wrong-import-position
from au_jax import sharding  # pylint: disable=g-import-not-at-top,wrong-import-position
from au_jax import train  # pylint: disable=g-import-not-at-top,wrong-import-position
from benchmarks import report  # pylint: disable=g-import-not-at-top,wrong-import-position
from benchmarks import timing  # pylint: disable=g-import-not-at-top,wrong-import-position

P = jax.sharding.PartitionSpec

# name -> (config file, global batch). Batch sizes are the configs' own.
PRESETS = {'paper': ('default.py', 8), 'small': ('synthetic.py', 16)}

# Dense peak FLOP/s per JAX device at the precision XLA uses for float32 convolutions and
# matmuls by default (vendor data sheets): TF32 tensor cores on NVIDIA Ampere and newer,
# bf16 passes on TPUs, plain fp32 on older GPUs. Matched against device_kind.
PEAKS = (
    ('H200', 494.7e12, 'TF32 tensor cores, dense (H200 SXM)'),
    ('H100 PCIe', 378e12, 'TF32 tensor cores, dense (H100 PCIe)'),
    ('H100', 494.7e12, 'TF32 tensor cores, dense (H100 SXM)'),
    ('A100', 156e12, 'TF32 tensor cores, dense'),
    ('L4', 60e12, 'TF32 tensor cores, dense'),
    ('T4', 8.1e12, 'fp32'),
    ('V100', 15.7e12, 'fp32 (SXM2)'),
    ('TPU v2', 22.5e12, 'bf16, one core (45 TFLOP/s per chip)'),
    ('TPU v3', 61.5e12, 'bf16, one core (123 TFLOP/s per chip)'),
    ('TPU v4', 275e12, 'bf16, one chip'),
    ('TPU v5 lite', 197e12, 'bf16, one chip (v5e)'),
    ('TPU v5', 459e12, 'bf16, one chip (v5p)'),
    ('TPU v6 lite', 918e12, 'bf16, one chip (v6e)'),
)


def peak_flops(device):
  """(peak FLOP/s, basis) of one device, or (None, why not)."""
  if device.platform == 'cpu':
    return None, ('unknown: a shared virtual CPU whose clock and vector units are not '
                  'known')
  for name, value, basis in PEAKS:
    if name.lower() in device.device_kind.lower():
      return value, basis
  return None, f'unknown device kind {device.device_kind!r}'


def host_memory_mib():
  """Peak resident memory of this process so far (getrusage; KiB on Linux). Workers
  report their own (see _scaling_worker.py: a child's getrusage would count this
  process's memory at the fork too)."""
  scale = 1 / 1024 if sys.platform != 'darwin' else 1 / 2**20
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def cpu_name():
  try:
    with open('/proc/cpuinfo', encoding='utf-8') as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or 'unknown'


def environment():
  device = jax.devices()[0]
  peak, basis = peak_flops(device)
  return {'date': datetime.datetime.now().isoformat(timespec='seconds'),
          'jax': jax.__version__, 'python': platform.python_version(),
          'backend': jax.default_backend(), 'device_kind': device.device_kind,
          'device_count': jax.device_count(), 'cpu': cpu_name(),
          'cpu_count': os.cpu_count(), 'peak_flops_per_device': peak,
          'peak_basis': basis, 'load_average_start': os.getloadavg()}


def load_config(preset):
  name, _ = PRESETS[preset]
  return config_lib.prepare_config(
      config_lib.load_config(os.path.join(REPO, 'configs', name)))


def fake_batch(config, batch_size, seed=0):
  rng = np.random.default_rng(seed)
  n_au, size = config_lib.num_aus(config), config.data.crop_size
  return {'source': fakes.fake_arrays(rng, batch_size, size, n_au),
          'target': fakes.fake_arrays(rng, batch_size, size, n_au)}


def model_flops(step_fn, state, batch):
  """FLOPs of one step (all devices together), from XLA's cost analysis of the step
  lowered for one CPU device: the HLO before optimisation, where convolutions are still
  convolutions. A GPU's own analysis gives none before compilation and, after it, leaves
  out the convolutions done by cuDNN."""
  mesh = jax.sharding.Mesh(np.array(jax.devices('cpu')[:1]), ('data',))

  def abstract(tree, spec):
    sharding = jax.sharding.NamedSharding(mesh, spec)
    return jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(np.shape(x), x.dtype, sharding=sharding), tree)

  lowered = train.jit_step(step_fn, mesh).lower(abstract(state, P()),
                                                abstract(batch, P('data')))
  return timing.cost(lowered)[0]


def measure_step(model, config, variables, stage, batch_size, iters):
  """Compile and step times of one training stage, as the training loop runs it."""
  mesh = sharding.make_mesh()
  spe = 100  # only shapes the learning-rate schedules
  # A copy: the step donates its state, and the next stage starts from `variables` again.
  state = train.create_state(jax.tree.map(jnp.copy, variables), config, stage, spe)
  if stage == 1:
    fn = train.make_stage1_step(model, config, spe)
  else:
    fn = train.make_stage2_step(model, config, spe, np.ones(config_lib.num_aus(config)))
  step = train.jit_step(fn, mesh)
  state = jax.device_put(state, jax.sharding.NamedSharding(mesh, P()))
  host_batch = fake_batch(config, batch_size)
  batch = sharding.to_global(host_batch, mesh)

  lowered, compiled, lower_s, compile_s = timing.compile_step(step, state, batch)
  compiled_flops, bytes_accessed = timing.cost(compiled)  # per device, after optimisation
  if jax.default_backend() == 'cpu' and jax.device_count() == 1:
    flops, _ = timing.cost(lowered)  # already the one-CPU lowering
  else:
    try:
      flops = model_flops(fn, state, host_batch)
    except RuntimeError:  # no CPU backend (JAX_PLATFORMS names only an accelerator)
      flops = None
  _, warmup, times, step_s = timing.time_steps(compiled, state, [batch], iters)
  peak, _ = peak_flops(jax.devices()[0])
  achieved = flops / step_s if flops else None
  return {'stage': stage, 'batch': batch_size, 'crop': config.data.crop_size,
          'lower_s': lower_s, 'compile_s': compile_s, 'warmup_s': warmup,
          'step_s': step_s, 'step_times_s': times, 'images_per_s': batch_size / step_s,
          'flops_per_step': flops, 'compiled_flops_per_step': compiled_flops,
          'compiled_bytes_per_step': bytes_accessed,
          'flops_per_s': achieved,
          'fraction_of_peak': (achieved / (peak * jax.device_count())
                               if achieved and peak else None)}


def measure_matmul(n=4096, iters=10):
  """FLOP/s of a jitted n×n float32 matmul on one device: the rate this machine's
  XLA reaches on the easiest dense kernel, the yardstick for the training steps."""
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
  f = jax.jit(jnp.matmul).lower(a, b).compile()
  jax.block_until_ready(f(a, b))
  times = []
  for _ in range(iters):
    start = time.perf_counter()
    jax.block_until_ready(f(a, b))
    times.append(time.perf_counter() - start)
  seconds = float(np.median(times))
  print(f'  {n}² float32 matmul: {2 * n ** 3 / seconds / 1e9:.1f} GFLOP/s', flush=True)
  return {'n': n, 'seconds': seconds, 'flops_per_s': 2 * n ** 3 / seconds}


def _init(model, config):
  start = time.perf_counter()
  variables = jax.jit(functools.partial(train.init_variables, model, config))(
      jax.random.key(0))
  jax.block_until_ready(variables)
  return variables, time.perf_counter() - start


def measure_training(presets, iters, adld_row=True):
  """Stage 1 and stage 2 at each preset; at the paper's size also the stage-2 step of
  Table 7's row A (ADLD: one E_f, no landmark branches, self-reconstruction), the
  equal-work figure for a comparison with ADLD's PyTorch iteration."""
  out = {}
  for preset in presets:
    config = load_config(preset)
    model = config_lib.create_model(config)
    variables, init_s = _init(model, config)
    stages = {}
    runs = [(1, 'stage1', config, model, variables), (2, 'stage2', config, model, variables)]
    if adld_row and preset == 'paper':
      config_a = config_lib.load_config(os.path.join(REPO, 'configs', PRESETS[preset][0]))
      config_a.ablation = 'A'
      config_a = config_lib.prepare_config(config_a)
      model_a = config_lib.create_model(config_a)
      runs.append((2, 'stage2_rowA', config_a, model_a, _init(model_a, config_a)[0]))
    for stage, key, cfg, mdl, var in runs:
      stages[key] = measure_step(mdl, cfg, var, stage, PRESETS[preset][1],
                                 iters[preset][stage])
      r = stages[key]
      print(f'  {preset} {key}: {r["step_s"]:.3f} s/step, '
            f'{r["images_per_s"]:.1f} images/s, compile {r["compile_s"]:.1f} s',
            flush=True)
    out[preset] = {'init_s': init_s, **stages}
  return out


def measure_pipeline(presets, images, batches):
  """`prepare` images/s and input-pipeline batches/s at each preset's sizes."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.set_visible_devices([], 'GPU')  # tf.data only; the accelerators are JAX's
  from au_jax import input_pipeline  # pylint: disable=g-import-not-at-top
  from data_pipelines import benchmark, prepare  # pylint: disable=g-import-not-at-top
  out = {}
  with tempfile.TemporaryDirectory() as tmp:
    manifest = benchmark.write_images(os.path.join(tmp, 'raw'), images, 480, 640)
    for preset in presets:
      config = load_config(preset)
      batch_size = PRESETS[preset][1]
      workers = min(4, os.cpu_count() or 1)
      start = time.perf_counter()
      prepare.prepare('manifest', [manifest], os.path.join(tmp, preset), 'bench',
                      aligned_size=config.data.aligned_size, workers=workers,
                      progress=False)
      prepare_s = time.perf_counter() - start
      ds = input_pipeline.create_dataset(
          os.path.join(tmp, preset), 'bench', 'train', global_batch_size=batch_size,
          train=True, seed=0, crop_size=config.data.crop_size,
          aligned_size=config.data.aligned_size, process_index=0, process_count=1)
      it = ds.as_numpy_iterator()
      for _ in range(5):
        next(it)
      start = time.perf_counter()
      for _ in range(batches):
        next(it)
      seconds = time.perf_counter() - start
      out[preset] = {'batch': batch_size, 'crop': config.data.crop_size,
                     'aligned': config.data.aligned_size,
                     'batches_per_s': batches / seconds,
                     'images_per_s': batches * batch_size / seconds,
                     'prepare_images': images, 'prepare_source': '640x480 JPEG',
                     'prepare_workers': workers,
                     'prepare_images_per_s': images / prepare_s}
      print(f'  {preset} pipeline: {batches / seconds:.1f} batches/s; prepare '
            f'{images / prepare_s:.1f} images/s', flush=True)
  return out


def inference_module():
  spec = importlib.util.spec_from_file_location('benchmark_inference',
                                                os.path.join(HERE, 'inference.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def measure_inference(presets, batches, seconds):
  from au_jax import inference  # pylint: disable=g-import-not-at-top
  from au_jax import random_weights  # pylint: disable=g-import-not-at-top
  bench = inference_module()  # its network_rates, the measurement inference.py reports
  out = {}
  for preset in presets:
    config = load_config(preset)
    model = config_lib.create_model(config)
    predictor = inference.Predictor(
        model, random_weights.random_variables(model, config.data.crop_size, config=config), config)
    rates = bench.network_rates(predictor, batches=batches, seconds=seconds)
    out[preset] = {f'{path}_batch{batch}' + ('' if marks else '_nolandmarks'): rate
                   for (path, batch, marks), rate in rates.items()}
    print(f'  {preset} inference: ' + ', '.join(f'{k} {v:.1f}/s'
                                                for k, v in out[preset].items()),
          flush=True)
  return out


def run_worker(config_file, batch, env_extra, devices, steps, iters, folder, tag):
  """Runs _scaling_worker.py; returns (its result dict, the params .npz path)."""
  params = os.path.join(folder, f'{tag}.npz')
  result = os.path.join(folder, f'{tag}.json')
  env = dict(os.environ, **env_extra)
  command = [sys.executable, os.path.join(HERE, '_scaling_worker.py'), '--config',
             config_file, '--batch', str(batch), '--devices', str(devices), '--steps',
             str(steps), '--iters', str(iters), '--params', params, '--result', result]
  start = time.perf_counter()
  done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
  if done.returncode:
    raise RuntimeError(f'scaling worker {tag} failed:\n{done.stderr[-3000:]}')
  with open(result, encoding='utf-8') as f:
    out = json.load(f)
  out['wall_s'] = time.perf_counter() - start
  return out, params


def compare_params(base_path, other_path):
  """How far a run's parameters are from the one-device run's.

  The max absolute difference is dominated by Adam: it scales each gradient element to
  about ±lr, so elements whose true gradient is nearly zero (e.g. conv biases that a
  normalisation follows) turn the all-reduce's rounding noise into lr-sized steps of
  either sign. The update mismatch, ||p_N - p_1|| / ||p_1 - p_init|| over all
  parameters, says how much of the training update that noise changes.
  """
  base, other = np.load(base_path), np.load(other_path)
  init = np.load(base_path.replace('.npz', '.init.npz'))
  assert sorted(base.files) == sorted(other.files)
  diffs = {k: float(np.max(np.abs(base[k] - other[k]))) for k in base.files}
  worst = max(diffs, key=diffs.get)
  mismatch = np.sqrt(sum(float(np.sum((base[k] - other[k]) ** 2)) for k in base.files))
  update = np.sqrt(sum(float(np.sum((base[k] - init[k]) ** 2)) for k in base.files))
  return {'max_param_diff': diffs[worst], 'worst_param': worst,
          'update_mismatch': mismatch / update if update else None}


def measure_scaling(name, batch, counts, steps, iters):
  """Stage-2 steps of configs/<name> on 1 and N devices: simulated CPU devices, and the
  real accelerators if there are several."""
  config_file = os.path.join(REPO, 'configs', name)
  runs = []
  with tempfile.TemporaryDirectory() as tmp:
    for kind in ('simulated cpu', 'accelerator'):
      if kind == 'accelerator':
        if jax.default_backend() == 'cpu' or jax.device_count() < 2:
          continue
        plan = [(1, {}), (jax.device_count(), {})]
      else:
        plan = [(n, {'JAX_PLATFORMS': 'cpu',
                     'XLA_FLAGS': f'--xla_force_host_platform_device_count={n}'})
                for n in counts]
      results = []
      for n, env in plan:
        tag = f'{kind.split()[0]}{n}'
        result, params = run_worker(config_file, batch, env, n, steps, iters, tmp, tag)
        results.append((result, params))
        print(f'  {kind}, {n} device(s): {result["step_s"]:.3f} s/step, compile '
              f'{result["compile_s"]:.1f} s', flush=True)
      base, base_params = results[0]
      for result, params in results:
        result.update(compare_params(base_params, params), kind=kind, config=name,
                      step_ratio_vs_1=result['step_s'] / base['step_s'],
                      steps_compared=steps)
        runs.append(result)
  return runs


def measure_torch_reference(python, seconds):
  """benchmarks/torch_reference.py's results, run by `python` (it must have torch)."""
  with tempfile.TemporaryDirectory() as folder:
    out = os.path.join(folder, 'torch.json')
    subprocess.run([python, os.path.join(HERE, 'torch_reference.py'), '--out', out,
                    '--seconds', str(seconds)], check=True)
    with open(out, encoding='utf-8') as f:
      return json.load(f)


def ratios(results):
  """The comparisons that matter more than any single time."""
  out = {}
  training = results.get('training', {})
  for preset, r in training.items():
    out[f'{preset}: stage-2 / stage-1 step time'] = (r['stage2']['step_s'] /
                                                     r['stage1']['step_s'])
  if 'paper' in training and 'small' in training:
    for stage in ('stage1', 'stage2'):
      out[f'{stage}: small / paper images/s'] = (training['small'][stage]['images_per_s'] /
                                                 training['paper'][stage]['images_per_s'])
      out[f'{stage}: paper / small compile time'] = (
          training['paper'][stage]['compile_s'] / training['small'][stage]['compile_s'])
  matmul = results.get('matmul', {}).get('flops_per_s')
  for preset, r in training.items():
    for key, step in r.items():
      if isinstance(step, dict) and matmul and step.get('flops_per_s'):
        out[f'{preset} {key}: achieved FLOP/s / {results["matmul"]["n"]}² matmul FLOP/s'] = (
            step['flops_per_s'] / matmul)
    if 'stage2_rowA' in r:
      out[f'{preset}: row A (ADLD) / full method stage-2 step time'] = (
          r['stage2_rowA']['step_s'] / r['stage2']['step_s'])
      if 'torch_reference' in results:
        out[f'{preset}: row A, PyTorch port / au_jax step time (>1: au_jax faster)'] = (
            results['torch_reference']['step_s'] / r['stage2_rowA']['step_s'])
  for preset, p in results.get('pipeline', {}).items():
    if preset in training:
      out[f'{preset}: pipeline batches/s / stage-2 steps/s'] = (
          p['batches_per_s'] * training[preset]['stage2']['step_s'])
  for preset, r in results.get('inference', {}).items():
    batches = sorted({int(k.split('batch')[1].split('_')[0]) for k in r})
    for b in batches:
      if f'target_batch{b}_nolandmarks' in r:
        out[f'{preset}: inference target path without / with model landmarks, batch {b}'] = (
            r[f'target_batch{b}_nolandmarks'] / r[f'target_batch{b}'])
      out[f'{preset}: inference source / target path images/s, batch {b}'] = (
          r[f'source_batch{b}'] / r[f'target_batch{b}'])
  torch_ref = results.get('torch_reference')
  if torch_ref and 'target_batch1_nolandmarks' in results.get('inference', {}).get(
      'paper', {}):
    out['paper: inference target path batch 1, au_jax / PyTorch port images/s'] = (
        results['inference']['paper']['target_batch1_nolandmarks'] /
        torch_ref['inference_target_batch1_images_per_s'])
  for run in results.get('scaling', []):
    if run['devices'] > 1:
      out[f'{run["kind"]}: {run["devices"]}-device / 1-device step time'] = (
          run['step_ratio_vs_1'])
  return out


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--quick', action='store_true',
                      help='small preset only, fewer repetitions (a smoke test)')
  parser.add_argument('--out', default=os.path.join(HERE, 'results.json'),
                      help='JSON file for the results')
  parser.add_argument('--table', help='also write the printed table to this file')
  parser.add_argument('--skip', default='',
                      help='comma-separated sections to skip: training, pipeline, '
                           'inference, scaling')
  parser.add_argument('--torch-python',
                      help='a Python with PyTorch: also time benchmarks/torch_reference.py')
  args = parser.parse_args(argv)
  skip = set(filter(None, args.skip.split(',')))
  if args.torch_python:  # before minutes of JAX timings, not after them
    try:
      subprocess.run([args.torch_python, '-c', 'import torch'], check=True,
                     capture_output=True)
    except (OSError, subprocess.CalledProcessError):
      parser.error(f'--torch-python {args.torch_python}: not a Python that can import '
                   'torch; give one that has PyTorch (pip install torch)')

  jax.config.update('jax_enable_compilation_cache', False)  # measure real compiles
  start = time.perf_counter()
  results = {'environment': environment(), 'quick': args.quick}
  print(f'{results["environment"]["device_count"]} × '
        f'{results["environment"]["device_kind"]}, jax {jax.__version__}', flush=True)
  presets = ['small'] if args.quick else ['paper', 'small']
  memory = results['peak_memory_mib'] = {}
  if 'training' not in skip:
    results['matmul'] = measure_matmul(2048 if args.quick else 4096,
                                       3 if args.quick else 10)
    iters = {'paper': {1: 5, 2: 3}, 'small': {1: 3, 2: 3} if args.quick else
             {1: 10, 2: 10}}
    results['training'] = measure_training(presets, iters)
    memory['training'] = host_memory_mib()
    if args.torch_python and not args.quick:
      results['torch_reference'] = measure_torch_reference(args.torch_python, 20.0)
  if 'pipeline' not in skip:
    results['pipeline'] = measure_pipeline(presets, 24 if args.quick else 120,
                                           10 if args.quick else 50)
    memory['pipeline'] = host_memory_mib()
  if 'inference' not in skip:
    results['inference_batches'] = (1, 8) if args.quick else (1, 64)
    results['inference'] = measure_inference(presets, results['inference_batches'],
                                             0.5 if args.quick else 3.0)
    memory['inference'] = host_memory_mib()
  if 'scaling' not in skip:
    # The small preset (batch 16 = 8 × 2); --quick: configs/tiny.py, batch 8.
    name, batch = ('tiny.py', 8) if args.quick else PRESETS['small']
    results['scaling'] = measure_scaling(name, batch, (1, 8), 3, 2 if args.quick else 5)
    memory['scaling'] = host_memory_mib()
  results['ratios'] = ratios(results)
  results['environment']['load_average_end'] = os.getloadavg()
  results['seconds'] = time.perf_counter() - start
  table = report.format_table(results)
  print('\n' + table)
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  with open(args.out, 'w', encoding='utf-8') as f:
    json.dump(results, f, indent=1)
  if args.table:
    with open(args.table, 'w', encoding='utf-8') as f:
      f.write(table)
  print(f'wrote {args.out}' + (f' and {args.table}' if args.table else ''))


if __name__ == '__main__':
  main()
