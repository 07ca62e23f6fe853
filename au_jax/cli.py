"""The `au-jax` command. Each subcommand lives in its own module, imported on use, so
`au-jax --help` is instant and one subcommand's heavy imports never slow another.

A subcommand module provides `add_parser(subparsers)`, registering itself with
`set_defaults(func=run)`, and `run(args) -> int`.
"""

import argparse
import importlib
import logging
import os
import sys

from au_jax import errors

# name -> module; the order is the order of `au-jax --help`.
SUBCOMMANDS = {
    'demo': 'au_jax.commands.demo',
    'synth': 'data_pipelines.synthau.cli',
    'prepare': 'data_pipelines.prepare',
    'landmark-error': 'data_pipelines.landmark_error',
    'train': 'au_jax.commands.train',
    'crossval': 'au_jax.commands.crossval',
    'evaluate': 'au_jax.commands.evaluate',
    'predict': 'au_jax.commands.predict',
    'export': 'au_jax.commands.export',
    'compare': 'au_jax.commands.compare',
    'summary': 'au_jax.commands.summary',
}


def quiet_libraries():
  """No TensorFlow, XLA, absl, OpenCV or FFmpeg lines among au-jax's own output
  (--verbose keeps them). Set before TensorFlow and JAX are imported and before OpenCV
  opens its first video: their C++ logging reads these once."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  # FFmpeg's own av_log lines (a truncated MP4's "moov atom not found"): au-jax reports
  # an unreadable file in its own one line. -8 is AV_LOG_QUIET.
  os.environ.setdefault('OPENCV_FFMPEG_LOGLEVEL', '-8')
  os.environ.setdefault('OPENCV_LOG_LEVEL', 'ERROR')
  # oneDNN's "custom operations are on" line; tf.data here does no oneDNN maths.
  os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')
  logging.getLogger('absl').setLevel(logging.ERROR)
  logging.getLogger('jax').setLevel(logging.ERROR)
  logging.getLogger('apache_beam').setLevel(logging.ERROR)  # prepare --beam's worker lines


def build_parser():
  parser = argparse.ArgumentParser(
      prog='au-jax',
      description='Multi-task facial action unit detection for faces in the wild (JAX).')
  parser.add_argument('--verbose', action='store_true',
                      help="keep TensorFlow's, XLA's and absl's own log lines")
  subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
  subparsers.required = True
  for module in SUBCOMMANDS.values():
    importlib.import_module(module).add_parser(subparsers)
  return parser


def main(argv=None):
  argv = sys.argv[1:] if argv is None else list(argv)
  if '--verbose' not in argv:
    quiet_libraries()
  parser = build_parser()
  args, rest = parser.parse_known_args(argv)
  if rest and not getattr(args, 'accepts_extra_args', False):
    parser.error(f'unrecognized arguments: {" ".join(rest)}')
  args.extra_args = rest
  try:
    return args.func(args) or 0
  except (errors.UserError, FileNotFoundError) as e:  # the user's input, not our bug
    print(f'au-jax {args.command}: error: {e}', file=sys.stderr)
    return 2


if __name__ == '__main__':
  sys.exit(main())
