"""What wild landmarks from a detector, or from the target landmark branch, keep of the truth.

    python benchmarks/synthau_landmarks.py --presets small medium --count 300 \
        --out benchmarks/synthau_landmarks.json
    python benchmarks/synthau_landmarks.py --branch runs/detected/G+branch_seed0 \
        --out benchmarks/synthau_landmarks.json      # adds the branch of a trained run

For faces drawn as SynthAU's wild domain draws them (seed 1000: not in the data set of
seed 0), records recall, the landmark error in inter-ocular distances per landmark
group, and per AU the share of its landmark motion that the points keep (the slope of
found against true displacement, from the same face and scene drawn with and without
the AU; `data_pipelines/synthau/detected.py`). `--branch WORKDIR` measures the target
landmark branch FL_t of a trained run the same way, on faces aligned with their exact
landmarks (the branch sees aligned crops, as in training), next to the source branch
FL_s on the same wild crops and dlib on the same faces. Results are merged into --out under `detector/PRESET` and `branch/RUN`.
"""

import argparse
import json
import os

import numpy as np

from data_pipelines.synthau import detected


def measure_branch(workdir, count, seed):
  """FL_t of a trained run against dlib, on the same aligned wild faces."""
  # pylint: disable=import-outside-toplevel
  import cv2
  from au_jax import inference
  from au_jax.geometry import align
  from au_jax.geometry import landmarks as lm
  predictor = inference.load(workdir)
  config = predictor.config
  crop, aligned_size = config.data.crop_size, config.data.aligned_size
  offset = (aligned_size - crop) // 2
  preset = {64: 'small', 128: 'medium', 176: 'paper'}[crop]
  detect = detected.make_detector('hog')

  def aligned(image, truth68, matrix=None):
    """Centre crop of the face aligned by `matrix` (or by its exact landmarks)."""
    points49 = lm.to_49(truth68)
    if matrix is None:
      matrix = align.alignment_matrix(points49, aligned_size)
    out = cv2.warpAffine(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), matrix,
                         (aligned_size, aligned_size), borderValue=(128, 128, 128))
    return out[offset:offset + crop, offset:offset + crop], matrix

  def to_crop(points68, matrix):
    p = lm.to_49(points68) @ matrix[:, :2].T + matrix[:, 2]
    return p - offset

  def iod(p):
    return float(lm.inter_ocular_distance(p))

  moves = {'branch': {}, 'source_branch': {}, 'dlib': {}}
  errors = {'branch': [], 'source_branch': [], 'dlib': []}
  group_of = np.concatenate([[g] * len(i) for g, i in detected.GROUPS.items()])
  group_of = group_of[lm.INDICES_68_TO_49]
  group_errors = {k: {g: [] for g in detected.GROUPS if g != 'jaw'} for k in errors}
  for ex, pairs in detected.motion_pairs(seed, preset, count):
    crop_image, matrix = aligned(ex['image'], ex['landmarks'])
    truth = to_crop(ex['landmarks'], matrix)
    images = [crop_image] + [aligned(img, t0, matrix)[0] for _, img, t0 in pairs]
    batch = np.stack(images)
    points = {'branch': np.asarray(predictor(batch, path='target').landmarks, np.float64),
              'source_branch': np.asarray(predictor(batch, path='source').landmarks,
                                          np.float64)}
    dlib_points = [detected.largest_face(detect, cv2.cvtColor(ex['image'], cv2.COLOR_BGR2RGB))]
    dlib_points += [detected.largest_face(detect, cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
                    for _, img, _ in pairs]
    scale = iod(truth)
    for kind in errors:
      if kind in points:
        mine = list(points[kind])
      else:
        mine = [None if p is None else to_crop(p, matrix) for p in dlib_points]
      if mine[0] is None:
        continue
      err = np.linalg.norm(mine[0] - truth, axis=1) / scale
      errors[kind].append(float(err.mean()))
      for g in group_errors[kind]:
        group_errors[kind][g].append(float(err[group_of == g].mean()))
      for (au, _, truth0), p0 in zip(pairs, mine[1:]):
        if p0 is None:
          continue
        true_move = (truth - to_crop(truth0, matrix)) / scale
        moved = np.linalg.norm(true_move, axis=1) > detected.MOVED
        if moved.any():
          moves[kind].setdefault(au, []).append(((mine[0] - p0)[moved] / scale,
                                                 true_move[moved]))
  out = {'workdir': workdir, 'count': count, 'seed': seed, 'preset': preset}
  for kind in errors:
    out[kind] = {
        'found': len(errors[kind]),
        'nme49_mean': round(float(np.mean(errors[kind])), 4),
        'group_error': {g: round(float(np.mean(v)), 4) for g, v in group_errors[kind].items()},
        'retention': {f'AU{a}': detected.retention(m) for a, m in sorted(moves[kind].items())},
    }
  return out


def main():
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--presets', nargs='*', default=[], help='measure dlib at these presets')
  p.add_argument('--detector', default='hog')
  p.add_argument('--branch', nargs='*', default=[], metavar='WORKDIR',
                 help="measure these runs' target landmark branch")
  p.add_argument('--count', type=int, default=300)
  p.add_argument('--seed', type=int, default=1000)
  p.add_argument('--out', default='benchmarks/synthau_landmarks.json')
  args = p.parse_args()
  done = json.load(open(args.out)) if os.path.isfile(args.out) else {}
  for preset in args.presets:
    result = detected.measure(args.seed, preset, args.count, args.detector, progress=True)
    done[f'detector/{preset}'] = result
    print(json.dumps(result))
    with open(args.out, 'w') as f:
      json.dump(done, f, indent=1)
  for workdir in args.branch:
    result = measure_branch(workdir, args.count, args.seed)
    done[f'branch/{os.path.basename(os.path.normpath(workdir))}'] = result
    print(json.dumps(result))
    with open(args.out, 'w') as f:
      json.dump(done, f, indent=1)


if __name__ == '__main__':
  main()
