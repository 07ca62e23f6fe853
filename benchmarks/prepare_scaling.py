"""`au-jax prepare`'s images/s by worker count, and against an earlier checkout.

    python benchmarks/prepare_scaling.py [--baseline DIR] [--out benchmarks/prepare_scaling_cpu2.json]

0. Whether dlib releases the GIL (the longest a Python thread waits while another
   thread detects, against one detection's time; and 1 against 2 threads), and whether
   two processes of this session get more CPU than one on this machine.
1. With --detect-landmarks (dlib HOG at upsample 1 and 68 points) on 640x480 images
   with one face each (scikit-image's astronaut, moved, scaled and mirrored), at 1 and 2
   workers, alternately.
2. Without detection (the given landmarks) at BP4D's frame size, 1392x1040: this
   checkout at its default workers, and `--baseline DIR` (a checkout of the code to
   compare with, e.g. `git archive COMMIT data_pipelines au_jax | tar -x -C DIR`) at
   its own default, alternately.
3. `--beam`: the same two samples through `prepare --beam` on Beam's DirectRunner in
   multi-processing mode with 2 workers (needs apache-beam: pip install -e ".[beam]").
Each run is one `prepare.prepare` call in a fresh process, after an untimed 2-image one
that loads TensorFlow and the models; starting the workers is timed. From the rates it estimates wall times for BP4D, DISFA and 200k
EmotioNet images (docs/data_formats.md).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = {'BP4D': 140_000, 'DISFA': 130_000, 'EmotioNet 200k': 200_000}


def write_faces(folder, count, height, width, real_faces):
  """A manifest of `count` JPEGs; real_faces: the astronaut (HOG finds her face), else
  fake faces with exact landmarks."""
  from data_pipelines import benchmark, fakes  # pylint: disable=g-import-not-at-top
  if not real_faces:
    return benchmark.write_images(folder, count, height, width)
  import cv2  # pylint: disable=g-import-not-at-top
  import skimage.data  # pylint: disable=g-import-not-at-top
  astronaut = skimage.data.astronaut()
  rng = np.random.default_rng(0)
  header = ['image', 'subject', 'split', 'AU1']
  rows = []
  for i in range(count):
    side = int(rng.uniform(0.6, 0.9) * height)
    face = cv2.resize(astronaut, (side, side), interpolation=cv2.INTER_AREA)
    face = face[:, ::-1] if i % 2 else face
    image = np.full((height, width, 3), rng.integers(40, 200), np.uint8)
    y, x = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
    image[y:y + side, x:x + side] = face
    name = f'images/{i:05d}.jpg'
    fakes.write_image(os.path.join(folder, name), image)
    rows.append([name, f's{i % 5}', 'train', str(i % 2)])
  return fakes.write_csv(os.path.join(folder, 'manifest.csv'), header, rows)


BEAM_OPTIONS = 'direct_num_workers=2,direct_running_mode=multi_processing'


def run_once(manifest, workers, detect, beam=False):
  """One prepare in this process; prints {seconds, examples, skipped} as JSON."""
  from data_pipelines import prepare  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as tmp:
    kwargs = dict(detect_landmarks=True, detector='hog') if detect else {}
    if beam:
      kwargs['beam_options'] = BEAM_OPTIONS
    # Untimed: a 2-image prepare loads TensorFlow (on first use) and the models.
    with open(manifest) as f:
      lines = f.readlines()[:3]
    warm = os.path.join(os.path.dirname(manifest), 'warm.csv')
    with open(warm, 'w') as f:
      f.writelines(lines)
    prepare.prepare('manifest', [warm], os.path.join(tmp, 'warm'), 'warm',
                    aligned_size=200, workers=workers, progress=False, **kwargs)
    cpu = _cpu_seconds()
    start = time.perf_counter()
    _, info, _ = prepare.prepare('manifest', [manifest], tmp, 'bench', aligned_size=200,
                                 workers=workers, progress=False, **kwargs)
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu  # The workers have ended: their time is counted.
  print(json.dumps({'seconds': seconds, 'cpu_seconds': round(cpu, 2),
                    'examples': info['counts']['train']['examples'],
                    'skipped': info['counts']['train']['skipped']}))


def _cpu_seconds():
  """CPU time of this process and its ended children: on a shared machine it shows
  whether more workers did more work per image, whatever the others' load."""
  own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                       resource.RUSAGE_CHILDREN))
  return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(code, manifest, workers, detect, images, beam=False):
  env = dict(os.environ, PYTHONPATH=code, TF_CPP_MIN_LOG_LEVEL='2')
  command = [sys.executable, os.path.abspath(__file__), '--one', manifest,
             '--workers', str(workers)] + (['--detect'] if detect else []) + (
                 ['--beam-one'] if beam else [])
  out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
  result = json.loads(out.stdout.strip().splitlines()[-1])
  result.update(workers=workers, images=images,
                images_per_s=round(images / result['seconds'], 2))
  result['seconds'] = round(result['seconds'], 2)
  print(f'  {os.path.basename(code) or code}, {workers} workers: {result}', flush=True)
  return result


def best(runs):
  return max(r['images_per_s'] for r in runs)


def _busy_loop(_):
  start, x = time.perf_counter(), 0
  for i in range(6_000_000):
    x += i
  return time.perf_counter() - start


def machine_checks(repeats=6):
  """Why threads or processes: (1) dlib's HOG detector and 68-point predictor in 1 and
  2 threads (a speedup would mean they release the GIL); (2) one and two busy
  processes of this session (whether more processes get more CPU on this machine)."""
  import threading  # pylint: disable=g-import-not-at-top
  import multiprocessing  # pylint: disable=g-import-not-at-top
  import dlib  # pylint: disable=g-import-not-at-top
  import skimage.data  # pylint: disable=g-import-not-at-top
  from au_jax.faces import models  # pylint: disable=g-import-not-at-top
  image = np.ascontiguousarray(skimage.data.astronaut())
  predictor = models.hog_and_shape_predictor()[1]
  box = dlib.rectangle(170, 60, 290, 180)
  def detect(detector):
    for _ in range(repeats):
      detector(image, 1)
  def place(_):
    for _ in range(50 * repeats):
      predictor(image, box)
  def threads(target, n, make):
    workers = [threading.Thread(target=target, args=(make(),)) for _ in range(n)]
    start = time.perf_counter()
    for w in workers:
      w.start()
    for w in workers:
      w.join()
    return time.perf_counter() - start
  def longest_pause(target, arg):
    """The longest this thread waited between two steps of a Python loop while
    `target` ran in another thread: about one call's time if the call holds the GIL,
    a few milliseconds (the switch interval, or the machine's load) if it releases it."""
    worker = threading.Thread(target=target, args=(arg,))
    worker.start()
    last, longest = time.perf_counter(), 0.0
    while worker.is_alive():
      now = time.perf_counter()
      longest, last = max(longest, now - last), now
    return round(longest * 1000, 1)
  start = time.perf_counter()
  detect(dlib.get_frontal_face_detector())
  out = {'load_average': os.getloadavg(),
         'hog_call_ms': round((time.perf_counter() - start) / repeats * 1000, 1),
         'longest_pause_ms': {
             'hog_detect': longest_pause(detect, dlib.get_frontal_face_detector()),
             'shape_predictor': longest_pause(place, None),
             'time_sleep': longest_pause(time.sleep, repeats * 0.2)}}
  for name, target, make in (('hog', detect, dlib.get_frontal_face_detector),
                             ('shape_predictor', place, lambda: None)):
    one, two = threads(target, 1, make), threads(target, 2, make)
    out[f'{name}_threads_speedup'] = round(2 * one / two, 2)  # 2x the work in `two`
  with multiprocessing.get_context('spawn').Pool(2) as pool:
    one = pool.map(_busy_loop, [0])[0]
    two = pool.map(_busy_loop, [0, 1])
  out['two_processes_throughput'] = round(2 * one / max(two), 2)
  return out


def estimate(out):
  """Adds estimated hours for the real data sets on dedicated cores: the CPU seconds an
  image took at 2 workers (worker start included) over the cores, assuming every
  worker has a core of its own. On a shared machine the measured wall rates are lower:
  this machine's scheduler groups a session's processes (sched_autogroup), so more
  workers get no larger share of a busy machine."""
  def cpu_per_image(runs):
    return min(r['cpu_seconds'] / r['images'] for r in runs if 'cpu_seconds' in r)
  per_image = {'plain': cpu_per_image(out['no_detection_1392x1040']['new']),
               'detect': cpu_per_image(out['detect_landmarks_640x480']['workers_2'])}
  hours = lambda images, kind, cores: round(images * per_image[kind] / cores / 3600, 3)
  out['cpu_seconds_per_image'] = {k: round(v, 4) for k, v in per_image.items()}
  out['estimated_hours'] = {
      f'{cores} cores': {
          'BP4D': hours(SIZES['BP4D'], 'plain', cores),
          'DISFA': hours(SIZES['DISFA'], 'plain', cores),
          'EmotioNet 200k (--detect-landmarks)': hours(SIZES['EmotioNet 200k'], 'detect',
                                                       cores)}
      for cores in (2, 32)}
  beam_runs = {kind: out[key].get('beam_direct_2') for kind, key in (
      ('plain', 'no_detection_1392x1040'), ('detect', 'detect_landmarks_640x480'))}
  if all(beam_runs.values()):  # Beam: its own CPU per image, over 10 hosts x 32 cores
    per_image.update({f'beam_{k}': cpu_per_image(v) for k, v in beam_runs.items()})
    out['cpu_seconds_per_image'] = {k: round(v, 4) for k, v in per_image.items()}
    out['estimated_hours']['Beam, 10 x 32 cores'] = {
        'BP4D': hours(SIZES['BP4D'], 'beam_plain', 320),
        'DISFA': hours(SIZES['DISFA'], 'beam_plain', 320),
        'EmotioNet 200k (--detect-landmarks)': hours(SIZES['EmotioNet 200k'],
                                                     'beam_detect', 320)}
  out['estimate_note'] = ('hours = images x CPU seconds per image at 2 workers / cores; '
                          'DISFA uses the BP4D-size rate (its 1024x768 video frames are '
                          'decoded in full); EmotioNet the 640x480 detection rate')


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--baseline', help='checkout of the earlier code (see above)')
  parser.add_argument('--detect-images', type=int, default=120)
  parser.add_argument('--plain-images', type=int, default=400)
  parser.add_argument('--rounds', type=int, default=2)
  parser.add_argument('--out', default=os.path.join(REPO, 'benchmarks',
                                                    'prepare_scaling_cpu2.json'))
  parser.add_argument('--estimate', metavar='JSON',
                      help='only recompute the estimates of a results file')
  parser.add_argument('--checks-only', action='store_true',
                      help='only run the thread and process checks into --out')
  parser.add_argument('--one', help=argparse.SUPPRESS)
  parser.add_argument('--workers', type=int, default=1, help=argparse.SUPPRESS)
  parser.add_argument('--detect', action='store_true', help=argparse.SUPPRESS)
  parser.add_argument('--beam-one', action='store_true', help=argparse.SUPPRESS)
  parser.add_argument('--beam', action='store_true',
                      help="also time prepare --beam (Beam's DirectRunner, 2 processes)")
  args = parser.parse_args(argv)
  if args.one:
    return run_once(args.one, args.workers, args.detect, args.beam_one)
  if args.estimate:
    with open(args.estimate) as f:
      out = json.load(f)
    estimate(out)
    with open(args.estimate, 'w') as f:
      json.dump(out, f, indent=1)
    return print(json.dumps(out['estimated_hours'], indent=1))

  from data_pipelines import parallel  # pylint: disable=g-import-not-at-top
  if args.checks_only:
    with open(args.out) as f:
      out = json.load(f)
    out['machine_checks'] = machine_checks()
    with open(args.out, 'w') as f:
      json.dump(out, f, indent=1)
    return print(out['machine_checks'])
  cores = parallel.available_cores()
  try:
    with open('/proc/sys/kernel/sched_autogroup_enabled') as f:
      autogroup = f.read().strip() == '1'
  except OSError:
    autogroup = None
  out = {'cores': cores, 'load_average_before': os.getloadavg(),
         'sched_autogroup': autogroup,
         'started': time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}
  with tempfile.TemporaryDirectory() as tmp:
    print(f'detect-landmarks, {args.detect_images} images of 640x480', flush=True)
    manifest = write_faces(os.path.join(tmp, 'faces'), args.detect_images, 480, 640, True)
    runs = {1: [], 2: [], 'beam': []}
    for _ in range(args.rounds):
      for workers in (1, 2):
        runs[workers].append(measure(REPO, manifest, workers, True, args.detect_images))
      if args.beam:
        runs['beam'].append(measure(REPO, manifest, 1, True, args.detect_images, True))
    out['detect_landmarks_640x480'] = {
        'workers_1': runs[1], 'workers_2': runs[2],
        'speedup_best': round(best(runs[2]) / best(runs[1]), 2)}
    if args.beam:
      out['detect_landmarks_640x480'].update(
          beam_direct_2=runs['beam'],
          beam_against_workers_2=round(best(runs['beam']) / best(runs[2]), 2))

    print(f'no detection, {args.plain_images} images of 1392x1040', flush=True)
    manifest = write_faces(os.path.join(tmp, 'bp4d'), args.plain_images, 1040, 1392,
                           False)
    runs = {'new': [], 'baseline': [], 'beam': []}
    for _ in range(args.rounds):
      runs['new'].append(measure(REPO, manifest, cores, False, args.plain_images))
      if args.baseline:  # Its default: min(4, cores) alignment threads.
        runs['baseline'].append(measure(args.baseline, manifest, min(4, cores), False,
                                        args.plain_images))
      if args.beam:
        runs['beam'].append(measure(REPO, manifest, 1, False, args.plain_images, True))
    plain = {'new': runs['new']}
    if args.beam:
      plain.update(beam_direct_2=runs['beam'],
                   beam_against_new=round(best(runs['beam']) / best(runs['new']), 2))
    if args.baseline:
      plain.update(baseline=runs['baseline'],
                   speedup_best=round(best(runs['new']) / best(runs['baseline']), 2))
    out['no_detection_1392x1040'] = plain
  out['load_average_after'] = os.getloadavg()
  out['machine_checks'] = machine_checks()

  estimate(out)
  with open(args.out, 'w') as f:
    json.dump(out, f, indent=1)
  print(json.dumps(out['estimated_hours'], indent=1))
  print(f'wrote {args.out}')


if __name__ == '__main__':
  main()
