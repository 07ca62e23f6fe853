"""`au-jax export`: a trained predictor as a TensorFlow SavedModel or a jax.export file."""

import argparse

HELP = """Exports one inference path of a checkpoint, with its weights, for serving
without the training code (see au_jax/export.py and docs/inference.md).

  saved_model  a TensorFlow SavedModel folder (jax2tf); signature serving_default:
               images uint8 (B, S, S, 3) -> au_probs (B, n_au), landmarks (B, 49, 2)
  stablehlo    a serialized jax.export file; load with au_jax.export.load_stablehlo or
               jax.export.deserialize in any JAX program

Inputs are RGB faces aligned as in training, S = the crop size (au-jax predict does the
alignment; so does au_jax.faces.find_faces).
"""


def add_parser(subparsers):
  p = subparsers.add_parser('export', help='export a checkpoint for serving',
                            description=HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('checkpoint', metavar='CHECKPOINT',
                 help='a training workdir or checkpoint folder')
  p.add_argument('output', metavar='OUTPUT',
                 help='the SavedModel folder (new or empty) or the stablehlo file')
  p.add_argument('--format', choices=('saved_model', 'stablehlo'), default='saved_model',
                 help='default: %(default)s')
  p.add_argument('--path', choices=('source', 'target'),
                 help='the inference path (default: target; source for a source-only '
                      'model)')
  p.add_argument('--step', type=int,
                 help='checkpoint step (default: the best by validation F1)')
  p.add_argument('--platform', action='append', metavar='NAME',
                 help='lower for this platform (repeatable: cpu, cuda, rocm, tpu); '
                      'default: the current one')
  p.set_defaults(func=run)


def run(args):
  from au_jax import export, inference, paths  # pylint: disable=g-import-not-at-top
  paths.check(args.output, 'OUTPUT')  # a URL nothing opens fails before the model loads
  predictor = inference.load(args.checkpoint, step=args.step, path=args.path)
  path = args.path or predictor.path
  if args.format == 'saved_model':
    export.saved_model(predictor, args.output, path=path, platforms=args.platform)
  else:
    export.stablehlo(predictor, args.output, path=path, platforms=args.platform)
  print(f'{predictor}\nwrote {args.format} of the {path} path to {args.output}')
  return 0
