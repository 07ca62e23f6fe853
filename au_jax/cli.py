"""The `au-jax` command. Each subcommand lives in its own module, imported on use, so
`au-jax --help` is instant and one subcommand's heavy imports never slow another.

A subcommand module provides `add_parser(subparsers)`, registering itself with
`set_defaults(func=run)`, and `run(args) -> int`. The modules are the installed package's
`au_jax.commands` entry points (setup.py's SUBCOMMANDS, in `--help`'s order): the data
commands live in `data_pipelines`, which builds on au_jax, so au_jax names them only
through the package's metadata.
"""

import argparse
from importlib import metadata
import logging
import os
import sys

from au_jax import errors

GROUP = 'au_jax.commands'
# `au-jax --help`'s order: the workflow's (entry points come back sorted by name).
ORDER = ('demo', 'synth', 'prepare', 'landmark-error', 'train', 'crossval', 'evaluate',
         'predict', 'export', 'compare', 'summary')


def subcommands():
  """The registered subcommands (importlib.metadata EntryPoints), in ORDER."""
  found = metadata.entry_points(group=GROUP)
  if not found:
    raise SystemExit("au-jax: no subcommands are registered; install the package from the "
                     "repository's root with: pip install -e .")
  rank = {name: i for i, name in enumerate(ORDER)}
  return sorted(found, key=lambda e: (rank.get(e.name, len(ORDER)), e.name))


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
  for entry in subcommands():
    entry.load().add_parser(subparsers)
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
