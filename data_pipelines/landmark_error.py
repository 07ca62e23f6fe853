"""`au-jax landmark-error`: a face detector's landmark error per group on a labelled
data set, and the groups fit to supervise the wild landmark path.

A target domain such as EmotioNet has no landmark annotations: its heat maps come from
a detector (`prepare --detect-landmarks`). Where the detector is unreliable, Eq. 2's
one-hot cells of a group point at the wrong cells. The labelled domain has both the
annotations and images to run the same detector on, so its error per group, in
heat-map cells of the aligned crop (a cell is 4 pixels: d = l / 4), is the evidence a
user has. A group whose mean error is under `--max-cells` is kept; the others can be
left out of the target heat-map terms with `--config.loss.target_landmark_groups`
(docs/method.md §11).
"""

import json
import sys

import numpy as np

from data_pipelines.errors import DataError

CELL = 4  # aligned-crop pixels per heat-map cell (d = l / 4, Eq. 2)


def add_parser(subparsers):
  parser = subparsers.add_parser(
      'landmark-error',
      help="a face detector's landmark error per group on a labelled manifest",
      description=__doc__.split('\n\n', 1)[1],
      formatter_class=__import__('argparse').RawDescriptionHelpFormatter)
  parser.add_argument('--manifest', required=True,
                      help='manifest CSV with landmark columns (the labelled domain; '
                           'docs/method.md §8)')
  parser.add_argument('--images', type=int, default=300,
                      help='rows to measure, evenly spread (default: %(default)s)')
  parser.add_argument('--aligned-size', type=int, default=200,
                      help="prepare's --aligned-size (default: %(default)s)")
  parser.add_argument('--detector', default='hog', choices=('hog', 'cnn', 'blazeface', 'auto'),
                      help="the detector of prepare --detect-landmarks (default: hog)")
  parser.add_argument('--max-cells', type=float, default=1.0,
                      help='keep groups whose mean error is under this many heat-map '
                           'cells (default: %(default)s)')
  parser.add_argument('--out', help='also write the measurement as JSON')
  parser.set_defaults(func=run)
  return parser


def measure(manifest, images=300, aligned_size=200, detector='hog', max_cells=1.0,
            detect=None):
  """{'groups': {group: mean error in cells}, 'keep': (groups), 'found', 'measured'}."""
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
    pixels = np.linalg.norm(align.transform_points(points, matrix) -
                            align.transform_points(truth, matrix), axis=1)
    for g, index in lm.GROUPS_49.items():
      errors[g].append(float(pixels[index].mean()) / CELL)
  if not found:
    raise DataError(f'{manifest}: the detector found no face in the {len(picked)} images')
  groups = {g: round(float(np.mean(v)), 3) for g, v in errors.items()}
  return {'manifest': manifest, 'detector': detector, 'aligned_size': aligned_size,
          'measured': len(picked), 'found': found, 'max_cells': max_cells,
          'groups': groups, 'keep': tuple(g for g, e in groups.items() if e < max_cells)}


def run(args):
  result = measure(args.manifest, args.images, args.aligned_size, args.detector,
                   args.max_cells)
  print(f"{args.detector} found {result['found']} of {result['measured']} faces; mean "
        f'landmark error per group, in heat-map cells ({CELL} aligned pixels):')
  for g, e in result['groups'].items():
    print(f"  {g:<6} {e:6.2f}  {'keep' if g in result['keep'] else 'leave out'}")
  if not result['keep']:
    print(f'no group is under {args.max_cells} cells: this detector cannot supervise the '
          'wild landmark path; consider another --detector')
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
