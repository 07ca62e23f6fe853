"""`au-jax synth`: writes the SynthAU data set (wired into au_jax/cli.py by add_parser)."""

import argparse
import os
import sys

from data_pipelines.prepare import DETECTORS
from data_pipelines.synthau.presets import (DEFAULT_LAB_IMAGES, DEFAULT_LAB_SUBJECTS,
                                            DEFAULT_WILD_IMAGES, PRESETS,
                                            PROTOCOL_WILD_TEST)


def add_parser(subparsers):
  """Registers the `synth` subcommand on an argparse subparsers object."""
  parser = subparsers.add_parser(
      'synth', help='write the synthetic lab->wild AU data set (SynthAU)',
      description=('Draws SynthAU deterministically from a seed: a labelled lab domain '
                   '(frontal, plain, subject-disjoint splits; PNG) and a wild domain (pose, '
                   'clutter, lighting, occluders, blur, noise; JPEG) whose train split is '
                   'unlabelled. Writes OUTPUT/{lab,wild}/manifest.csv (the manifest CSV of '
                   'docs/method.md §8, 68 landmarks, AU1 AU2 AU4 AU6 AU9 AU12 AU15 AU17 AU25 AU26), '
                   'the images and OUTPUT/synthau.json.'))
  parser.add_argument('--output', '-o', default=os.path.join('data', 'synthau'), metavar='DIR',
                      help='folder to write into (default: %(default)s)')
  parser.add_argument('--preset', choices=sorted(PRESETS), default='small',
                      help='small (default): 96x96 raw images, to align to 72, crop 64, '
                           'heat maps 16; medium: 192x192 raw, to align to 144, crop 128, '
                           'heat maps 32; paper: 256x256 raw, to align to 200, crop 176, '
                           'heat maps 44')
  parser.add_argument('--seed', type=int, default=0,
                      help='random seed; the same seed gives the same bytes (default: 0)')
  counts = dict(nargs=3, type=int, metavar=('TRAIN', 'VAL', 'TEST'))
  shown = lambda value: ' '.join(map(str, value))
  parser.add_argument('--lab-subjects', default=list(DEFAULT_LAB_SUBJECTS), **counts,
                      help='lab subjects per split, disjoint across splits '
                           f'(default: {shown(DEFAULT_LAB_SUBJECTS)})')
  parser.add_argument('--lab-images', default=list(DEFAULT_LAB_IMAGES), **counts,
                      help=f'lab images per split (default: {shown(DEFAULT_LAB_IMAGES)})')
  parser.add_argument('--wild-images', default=list(DEFAULT_WILD_IMAGES), **counts,
                      help='wild images per split; train is unlabelled '
                           f'(default: {shown(DEFAULT_WILD_IMAGES)})')
  parser.add_argument('--wild-test-images', type=int, default=None, metavar='N',
                      help='wild test images, in place of the third --wild-images count '
                           f'(the evaluation protocol of docs/results.md uses {PROTOCOL_WILD_TEST}: '
                           'a larger test split costs time only at evaluation)')
  parser.add_argument('--image-size', type=int, default=None, metavar='PIXELS',
                      help="raw image side (default: the preset's)")
  parser.add_argument('--workers', type=int, default=min(4, os.cpu_count() or 1),
                      help='processes drawing images; the output does not depend on it '
                           '(default: %(default)s)')
  parser.add_argument('--contact-sheet', metavar='PATH', default=None,
                      help='also write a contact sheet PNG (lab and wild images with '
                           'landmarks and labels, and an AU gallery) to PATH')
  parser.add_argument('--detect-wild-landmarks', action='store_true',
                      help='also write wild/manifest_detected.csv: the wild train, '
                           'validation and test landmarks as `prepare --detect-landmarks` '
                           'finds them (empty where it finds no face, so prepare drops the '
                           'row, as for EmotioNet), and the test faces again with exact '
                           'landmarks as split test_exact (a control); recall and error '
                           'per split go to wild/detected.json (needs the faces extra)')
  parser.add_argument('--detector', default='hog', choices=DETECTORS,
                      help='face detector of --detect-wild-landmarks (default: %(default)s, '
                           "prepare's)")
  parser.add_argument('--calibrate', type=float, nargs='+', metavar='R', default=None,
                      help='also write wild/manifest_calibrated_rR.csv for each R: a '
                           "calibrated detector's landmarks, the true neutral shape plus R x "
                           "the true AU motion plus dlib's measured error per landmark "
                           "group, faces missed at dlib's recall (needs the files of "
                           '--detect-wild-landmarks: with it, or on an OUTPUT that has '
                           'them, whose images are then kept as drawn); docs/results.md')
  parser.add_argument('--quiet', action='store_true', help='no progress bar')
  parser.set_defaults(func=run)
  return parser


def run(args):
  """Runs `synth` for parsed arguments; returns the exit status."""
  # pylint: disable=import-outside-toplevel
  from data_pipelines.synthau.dataset import generate
  from data_pipelines.synthau.sheet import make_contact_sheet
  wild_images = list(args.wild_images)
  if args.wild_test_images is not None:
    wild_images[2] = args.wild_test_images
  if args.calibrate and not args.detect_wild_landmarks:
    return calibrate(args)
  try:
    result = generate(args.output, preset=args.preset, seed=args.seed,
                          lab_subjects=args.lab_subjects, lab_images=args.lab_images,
                          wild_images=wild_images, image_size=args.image_size,
                          workers=args.workers, progress=not args.quiet)
  except (ValueError, OSError) as e:
    print(f'au-jax synth: error: {e}', file=sys.stderr)
    return 2
  print(f"wrote {result['lab_manifest']}\nwrote {result['wild_manifest']}\n"
        f"wrote {result['info']}")
  print(f"{sum(sum(c.values()) for c in result['counts'].values())} images in "
        f"{result['seconds']:.1f} s ({result['images_per_second']:.0f} images/s, "
        f'{args.workers} worker(s))')
  print(format_rates(result))
  if args.detect_wild_landmarks:
    from data_pipelines.synthau import detected
    from au_jax.geometry import GeometryError
    try:
      info = detected.detect_wild(result['out_dir'], args.detector, progress=not args.quiet)
    except (GeometryError, OSError) as e:
      print(f'au-jax synth: error: {e}', file=sys.stderr)
      return 2
    print(f"wrote {info['manifest']}")
    for split, s in info['splits'].items():
      error = ('-' if s['nme49_mean'] is None else f"{s['nme49_mean']:.3f}")
      print(f"  {split}: {s['found']} of {s['faces']} faces found ({100 * s['recall']:.1f} %; "
            f"{s['faces'] - s['found']} left out), landmark error {error} inter-ocular "
            'distances (49 points)')
    if info['control']:
      print(f"  {info['control']['split']}: the {info['control']['faces']} test faces with "
            'exact landmarks (the control)')
  if args.calibrate:
    code = calibrate(args)
    if code:
      return code
  if args.contact_sheet:
    print(f'wrote {make_contact_sheet(result["out_dir"], args.contact_sheet, seed=args.seed)}')
  return 0


def calibrate(args):
  """Writes the --calibrate manifests from OUTPUT's exact and dlib landmarks."""
  import json  # pylint: disable=import-outside-toplevel
  from data_pipelines.synthau import detected  # pylint: disable=import-outside-toplevel
  if any(not 0.0 <= r <= 1.0 for r in args.calibrate):
    print(f'au-jax synth: error: --calibrate {args.calibrate}: each R is in [0, 1]',
          file=sys.stderr)
    return 2
  info_path = os.path.join(args.output, 'synthau.json')
  try:
    with open(info_path) as f:
      drawn = json.load(f)
    if (drawn['seed'], drawn['preset']) != (args.seed, args.preset):
      raise ValueError(f"{info_path}: drawn with seed {drawn['seed']} and preset "
                       f"{drawn['preset']}, not --seed {args.seed} --preset {args.preset}")
    for r in args.calibrate:
      info = detected.calibrate_wild(args.output, r)
      print(f"wrote {info['manifest']}")
      for split, s in info['splits'].items():
        print(f"  {split}: {s['found']} of {s['faces']} faces kept, landmark error "
              f"{s['nme49_mean']:.3f} inter-ocular distances (49 points)")
  except (ValueError, OSError) as e:
    print(f'au-jax synth: error: {e}', file=sys.stderr)
    return 2
  return 0


def format_rates(result):
  """A markdown table of AU occurrence rates (%) per domain and split."""
  columns = [(d, s) for d in ('lab', 'wild') for s in ('train', 'validation', 'test')
             if result['counts'][d][s]]
  head = '| AU | ' + ' | '.join(f'{d} {s} (n={result["counts"][d][s]})' for d, s in columns)
  lines = [head + ' |', '|---' * (len(columns) + 1) + '|']
  aus = next(iter(result['occurrence']['lab'].values())).keys()
  for au in aus:
    cells = [f"{100 * result['occurrence'][d][s][au]:.1f}" for d, s in columns]
    lines.append(f'| {au} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(prog='synthau')
  add_parser(parser.add_subparsers(dest='command', required=True))
  args = parser.parse_args(argv)
  return args.func(args)


if __name__ == '__main__':
  sys.exit(main())
