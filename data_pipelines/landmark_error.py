"""`au-jax landmark-error`: a face detector's landmark error per group on a labelled
data set, and the groups fit to supervise the wild landmark path.

A target domain such as EmotioNet has no landmark annotations: its heat maps come from
a detector (`prepare --detect-landmarks`). Where the detector is unreliable, Eq. 2's
one-hot cells of a group point at the wrong cells, or stay put while the face moves.
The labelled domain has both the annotations and images to run the same detector on,
so two measurements per group are the evidence a user has:
  - error: the mean distance to the annotations, in heat-map cells of the aligned crop
    (a cell is 4 pixels: d = l / 4);
  - retention: how much of the annotated motion the detected points follow, the slope
    of detected against annotated displacement from each subject's mean shape (1
    follows the expressions, 0 ignores them; rows with a subject of one image are
    left out of it). Over all 49 points it is the R of SynthAU's calibrated detector
    (`au-jax synth --calibrate R`) that keeps as much motion as this detector.
A group is kept when its error is under `--max-cells` and its retention at least
`--min-retention`; the others can be left out of the target heat-map terms with
`--config.loss.target_landmark_groups` (docs/method.md §11).
"""

import argparse
import json
import sys

import numpy as np

from au_jax.errors import DataError
from data_pipelines.prepare import DETECTORS

CELL = 4  # aligned-crop pixels per heat-map cell (d = l / 4, Eq. 2)


def add_parser(subparsers):
  parser = subparsers.add_parser(
      'landmark-error',
      help="a face detector's landmark error per group on a labelled manifest",
      description=__doc__.split('\n\n', 1)[1],
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--manifest', required=True,
                      help='manifest CSV with landmark columns (the labelled domain; '
                           'docs/method.md §8)')
  parser.add_argument('--images', type=int, default=300,
                      help='rows to measure, evenly spread (default: %(default)s)')
  parser.add_argument('--aligned-size', type=int, default=200,
                      help="prepare's --aligned-size (default: %(default)s)")
  parser.add_argument('--detector', default='hog', choices=DETECTORS,
                      help="the detector of prepare --detect-landmarks (default: hog)")
  parser.add_argument('--max-cells', type=float, default=1.0,
                      help='keep groups whose mean error is under this many heat-map '
                           'cells (default: %(default)s)')
  parser.add_argument('--min-retention', type=float, default=0.5,
                      help='keep groups whose retention is at least this (default: '
                           '%(default)s)')
  parser.add_argument('--out', help='also write the measurement as JSON')
  parser.set_defaults(func=run)
  return parser


def retention(detected, annotated, subjects, index):
  """The slope of detected against annotated displacement of the points `index` from
  each subject's mean shape, over the subjects with two or more faces (None without)."""
  num = den = 0.0
  for subject in set(subjects):
    rows = [i for i, s in enumerate(subjects) if s == subject]
    if len(rows) < 2:
      continue
    true = annotated[rows][:, index] - annotated[rows][:, index].mean(0)
    found = detected[rows][:, index] - detected[rows][:, index].mean(0)
    num, den = num + float(np.sum(found * true)), den + float(np.sum(true * true))
  return num / den if den > 0 else None


def measure(manifest, images=300, aligned_size=200, detector='hog', max_cells=1.0,
            detect=None, min_retention=0.5):
  """{'groups': {group: mean error in cells}, 'retention': {group: slope or None},
  'keep': (groups), 'found', 'measured'}."""
  # pylint: disable=import-outside-toplevel
  from au_jax.geometry import align
  from au_jax.geometry import landmarks as lm
  from data_pipelines import prepare
  from data_pipelines.readers import manifest as manifest_reader
  from data_pipelines.records import load_image_file
  from data_pipelines.errors import SkipRecord
  records = [r for r in manifest_reader.read([manifest], None).records
             if r.landmarks is not None]
  if not records:
    raise DataError(f'{manifest}: no row has landmarks to compare with')
  picked = [records[i] for i in
            np.unique(np.linspace(0, len(records) - 1, min(images, len(records))).astype(int))]
  if detect is None:
    from au_jax import faces
    detect = faces.make_detector(detector, **prepare.DETECTOR_OPTIONS.get(detector, {}))
  errors, found = {g: [] for g in lm.GROUPS_49}, 0
  aligned = []  # (detected, annotated) aligned points and the subject, per found face
  for record in picked:
    try:
      image = load_image_file(record.image_path)
    except SkipRecord as e:
      raise DataError(f'{record.source}: {e.reason}') from None
    truth = lm.to_49(np.asarray(record.landmarks, np.float64))
    faces_found = detect(image)
    if not faces_found:
      continue
    found += 1
    matrix = align.alignment_matrix(truth, aligned_size)
    points = lm.to_49(np.asarray(faces_found[0].landmarks68, np.float64))
    points, truth = (align.transform_points(p, matrix) for p in (points, truth))
    aligned.append((points, truth, record.subject))
    pixels = np.linalg.norm(points - truth, axis=1)
    for g, index in lm.GROUPS_49.items():
      errors[g].append(float(pixels[index].mean()) / CELL)
  if not found:
    raise DataError(f'{manifest}: the detector found no face in the {len(picked)} images')
  groups = {g: round(float(np.mean(v)), 3) for g, v in errors.items()}
  detected = np.array([points for points, _, _ in aligned])
  annotated = np.array([truth for _, truth, _ in aligned])
  subjects = [subject for _, _, subject in aligned]
  kept = {g: retention(detected, annotated, subjects, index)
          for g, index in lm.GROUPS_49.items()}
  kept = {g: None if v is None else round(v, 3) for g, v in kept.items()}
  overall = retention(detected, annotated, subjects, np.arange(lm.NUM_LANDMARKS))
  keep = tuple(g for g, e in groups.items()
               if e < max_cells and (kept[g] is None or kept[g] >= min_retention))
  return {'manifest': manifest, 'detector': detector, 'aligned_size': aligned_size,
          'measured': len(picked), 'found': found, 'max_cells': max_cells,
          'min_retention': min_retention, 'groups': groups, 'retention': kept,
          'retention_all': None if overall is None else round(overall, 3), 'keep': keep}


def run(args):
  result = measure(args.manifest, args.images, args.aligned_size, args.detector,
                   args.max_cells, min_retention=args.min_retention)
  print(f"{args.detector} found {result['found']} of {result['measured']} faces; per "
        f'group the mean error in heat-map cells ({CELL} aligned pixels) and the '
        'retention of the annotated motion:')
  for g, e in result['groups'].items():
    r = result['retention'][g]
    print(f"  {g:<6} {e:6.2f}  {'-' if r is None else f'{r:5.2f}'}  "
          f"{'keep' if g in result['keep'] else 'leave out'}")
  if result['retention_all'] is not None:
    print(f"retention over all 49 points: {result['retention_all']:.2f} (the R of SynthAU's "
          'calibrated detector that matches it, docs/results.md)')
  if not result['keep']:
    print('no group passes: this detector cannot supervise the wild landmark path; '
          'consider another --detector')
  else:
    print(f"--config.loss.target_landmark_groups=\"{result['keep']}\"")
  if args.out:
    from au_jax import paths  # pylint: disable=import-outside-toplevel
    paths.resolve(args.out).write_text(json.dumps(result, indent=1) + '\n')
    print(f'wrote {args.out}')
  return 0


if __name__ == '__main__':
  from au_jax import cli  # pylint: disable=import-outside-toplevel
  sys.exit(cli.main(['landmark-error', *sys.argv[1:]]))
