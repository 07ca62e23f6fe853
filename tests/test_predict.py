"""`au-jax predict` on real photos (scikit-image's astronaut, public domain) with dlib, and
on greyscale, RGBA, huge, faceless, corrupt and video inputs."""

import csv
import io
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data as skdata

import _trained
from au_jax import inference
from au_jax import faces as faces_lib
from au_jax import predict
from au_jax.geometry import landmarks as lm
from data_pipelines import fakes

# Eye centres of astronaut(), marked by hand on a 10x zoom (iris centres, x y pixels).
LEFT_EYE, RIGHT_EYE = np.array([203.5, 101.0]), np.array([247.0, 103.5])
IOD = np.linalg.norm(RIGHT_EYE - LEFT_EYE)  # 43.6 pixels
# A detected eye centre counts as "on the eye" within 10% of the inter-ocular distance:
# the failure threshold of the paper's landmark metric (Table 6, docs/method.md §6). That is 4.4
# pixels here, about half the eye's width, so a landmark on the brow or the nose fails.
TOLERANCE = 0.10
HUGE = 6   # the huge image is astronaut() scaled 6x: 3072 x 3072


def write(path, image_rgb_or_grey):
  image = image_rgb_or_grey
  if image.ndim == 3 and image.shape[2] == 3:
    image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
  elif image.ndim == 3 and image.shape[2] == 4:
    image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
  assert cv2.imwrite(str(path), image)
  return str(path)


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
  root = tmp_path_factory.mktemp('predict')
  astronaut = skdata.astronaut()
  files = {'astronaut': write(root / 'astronaut.png', astronaut)}
  mixed = root / 'mixed'
  mixed.mkdir()
  files['grey'] = write(mixed / 'grey.png', cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY))
  rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
  rgba[:, :120, 3] = 0  # a transparent strip, away from the face
  files['rgba'] = write(mixed / 'rgba.png', rgba)
  files['noface'] = write(mixed / 'noface.png', np.full((240, 320, 3), 90, np.uint8))
  files['two'] = write(mixed / 'two.png', np.concatenate(
      [astronaut, astronaut[:, ::-1]], axis=1))
  huge = cv2.resize(astronaut, None, fx=HUGE, fy=HUGE, interpolation=cv2.INTER_CUBIC)
  files['huge'] = write(mixed / 'huge.jpg', huge)
  files['corrupt'] = str(mixed / 'corrupt.jpg')
  with open(files['corrupt'], 'wb') as f:
    f.write(b'\xff\xd8\xff\xe0 this is not a JPEG' * 50)
  # 640x360 video at 10 fps, 6 frames; frames 2 and 5 show no face.
  files['clip'] = str(mixed / 'clip.avi')
  face = cv2.resize(astronaut[40:280, 100:340], (300, 300))
  writer = cv2.VideoWriter(files['clip'], cv2.VideoWriter_fourcc(*'MJPG'), 10, (640, 360))
  assert writer.isOpened()
  for i in range(6):
    frame = np.full((360, 640, 3), 100, np.uint8)
    if i % 3 != 2:
      frame[30:330, 60 + 30 * i:360 + 30 * i] = face
    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
  writer.release()
  return root, files


@pytest.fixture(scope='module')
def run():
  return _trained.trained()


def read_rows(path):
  with open(path, newline='', encoding='utf-8') as f:
    reader = csv.DictReader(f)
    return reader.fieldnames, list(reader)


def eye_centres(row, scale=1.0):
  """Eye centres of dlib's 68 points (36-41, 42-47) in astronaut() pixels."""
  xy = lambda i: (float(row[f'x_{i}']), float(row[f'y_{i}']))
  left = np.mean([xy(i) for i in range(36, 42)], axis=0)
  right = np.mean([xy(i) for i in range(42, 48)], axis=0)
  to_astronaut = lambda p: (p + 0.5) / scale - 0.5
  return to_astronaut(left), to_astronaut(right)


def assert_on_the_eyes(row, scale=1.0):
  left, right = eye_centres(row, scale)
  assert np.linalg.norm(left - LEFT_EYE) < TOLERANCE * IOD, left
  assert np.linalg.norm(right - RIGHT_EYE) < TOLERANCE * IOD, right


def test_astronaut_one_face_eyes_on_the_eyes(run, inputs, monkeypatch, tmp_path):
  root, files = inputs
  out, overlays = tmp_path / 'out.csv', tmp_path / 'overlays'
  code = _trained.cli(monkeypatch, 'predict', run.workdir, files['astronaut'],
                      '--output', out, '--save-overlays', overlays, '--quiet')
  assert code == 0
  names, rows = read_rows(out)
  assert names == predict.header((1, 2, 4))
  assert {'x_0', 'y_67', 'model_x_48', 'AU01_prob', 'AU04_c', 'face_w'} <= set(names)
  assert len(rows) == 1
  row = rows[0]
  assert (row['file'], row['frame'], row['face'], row['success']) == \
      (files['astronaut'], '0', '0', '1')
  assert_on_the_eyes(row)
  x, y, w, h = (float(row[k]) for k in ('face_x', 'face_y', 'face_w', 'face_h'))
  assert x < LEFT_EYE[0] < RIGHT_EYE[0] < x + w and y < LEFT_EYE[1] < y + h
  # The model's columns are what the Python API gives for this photo.
  predictor = inference.load(run.workdir)
  face, = predictor.predict_faces(skdata.astronaut(), batch_size=32)  # CLI's compile
  for i, a in enumerate((1, 2, 4)):
    assert float(row[f'AU{a:02d}_prob']) == pytest.approx(face.au_probs[i], abs=1e-4)
    assert row[f'AU{a:02d}_c'] == str(int(face.au_probs[i] >= 0.5))
  model = np.array([[float(row[f'model_x_{i}']), float(row[f'model_y_{i}'])]
                    for i in range(49)])
  np.testing.assert_allclose(model, face.landmarks, atol=0.006)
  overlay = cv2.imread(str(overlays / 'astronaut.png'))
  assert overlay.shape == (512, 512 + 260, 3)


def test_no_model_landmarks_keeps_the_columns_empty(run, inputs, monkeypatch, tmp_path):
  root, files = inputs
  full, fast = tmp_path / 'full.csv', tmp_path / 'fast.csv'
  for out, extra in ((full, []), (fast, ['--no-model-landmarks'])):
    assert _trained.cli(monkeypatch, 'predict', run.workdir, files['astronaut'],
                        '--output', out, '--quiet', *extra) == 0
  names, (a,) = read_rows(full)
  names_fast, (b,) = read_rows(fast)
  assert names_fast == names  # the same columns
  model = [n for n in names if n.startswith('model_')]
  assert all(b[n] == '' for n in model) and all(a[n] != '' for n in model)
  for n in names:  # everything else is the same
    if n not in model:
      assert a[n] == b[n], n


def test_folder_of_hard_cases(run, inputs, monkeypatch, capsys, tmp_path):
  root, files = inputs
  out, overlays = tmp_path / 'out.csv', tmp_path / 'overlays'
  code = _trained.cli(monkeypatch, 'predict', run.workdir, root / 'mixed', '--output', out,
                      '--save-overlays', overlays, '--batch-size', 4)
  err = capsys.readouterr().err
  assert code == 1  # the corrupt file; everything else was processed
  assert f'cannot read {files["corrupt"]}' in err
  assert 'frame/s' in err  # the video's progress bar
  assert '6 video frames' in err and 'face detection' in err
  _, rows = read_rows(out)
  by_file = {}
  for row in rows:
    by_file.setdefault(row['file'], []).append(row)
  assert set(by_file) == {files[k] for k in ('grey', 'rgba', 'noface', 'two', 'huge',
                                             'clip')}
  for key in ('grey', 'rgba'):
    assert [r['success'] for r in by_file[files[key]]] == ['1']
    assert_on_the_eyes(by_file[files[key]][0])
  noface, = by_file[files['noface']]
  assert (noface['success'], noface['face'], noface['x_0'], noface['AU01_prob']) == \
      ('0', '0', '', '')
  two = by_file[files['two']]
  assert [r['face'] for r in two] == ['0', '1']
  assert abs(float(two[0]['face_x']) - float(two[1]['face_x'])) > 400
  huge, = by_file[files['huge']]
  assert_on_the_eyes(huge, scale=HUGE)
  assert float(huge['face_w']) > HUGE * 60
  clip = by_file[files['clip']]
  assert [r['frame'] for r in clip] == [str(i) for i in range(6)]
  assert [r['success'] for r in clip] == ['1', '1', '0', '1', '1', '0']
  assert [float(r['timestamp']) for r in clip] == pytest.approx([0.1 * i for i in range(6)])
  moving = [float(r['face_x']) for r in clip if r['success'] == '1']
  assert moving == sorted(moving)  # the face slides right, 30 pixels a frame
  video = [p for p in os.listdir(overlays) if p.startswith('clip.')]
  capture = cv2.VideoCapture(str(overlays / video[0]))
  assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
  assert sorted(p for p in os.listdir(overlays) if p.endswith('.png')) == \
      ['grey.png', 'huge.png', 'noface.png', 'rgba.png', 'two.png']


def test_user_errors_are_one_line(run, monkeypatch, capsys, tmp_path):
  for argv, message in (([run.workdir, tmp_path / 'nope.jpg'], 'does not exist'),
                        ([tmp_path, tmp_path], 'no image or video found'),
                        ([tmp_path / 'nope', __file__], 'is not a folder'),
                        ([run.workdir, __file__, '--batch-size', 0], '--batch-size'),
                        ([run.workdir, __file__, '--detector', 'blazeface', '--upsample',
                          1], 'not blazeface')):
    assert _trained.cli(monkeypatch, 'predict', *argv, '--quiet') == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('au-jax predict: error:') and message in err, err
    assert '\n' not in err


def test_auto_detector(run, inputs, monkeypatch, capsys, tmp_path):
  """--detector auto: the astronaut as with hog, the face-less image still a success=0
  row (after the CNN also found nothing), and the summary says how often the CNN ran."""
  root, files = inputs
  out = tmp_path / 'auto.csv'
  code = _trained.cli(monkeypatch, 'predict', run.workdir, files['astronaut'],
                      files['noface'], '--output', out, '--detector', 'auto', '--quiet')
  err = capsys.readouterr().err
  assert code == 0
  _, rows = read_rows(out)
  assert [(r['file'], r['success']) for r in rows] == [(files['astronaut'], '1'),
                                                       (files['noface'], '0')]
  assert_on_the_eyes(rows[0])
  assert 'auto detector: the CNN ran on 1 of 2 images/frames' in err


class DrawnFaces:
  """A stand-in for dlib on drawn faces: their known 68 points, or none."""

  def __init__(self, known):
    self.known = known  # first 4 kB of the image -> its 68 points

  def __call__(self, image):
    points = self.known.get(image.tobytes()[:4096])
    if points is None:
      return []
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    box = (int(x0), int(y0), int(x1) - int(x0) + 1, int(y1) - int(y0) + 1)  # (x, y, w, h)
    return [(box, 1.0, points.astype(np.float32))]


def test_batches_across_frames_keep_row_order(run, tmp_path):
  """No dlib: drawn faces with known landmarks, batches of 4 faces over 7 images."""
  rng = np.random.default_rng(0)
  known, files = {}, []
  for i in range(7):
    if i == 2:
      image = np.full((120, 100, 3), 40, np.uint8)
    else:
      image, points = fakes.fake_face(rng, 120, 100, face=60.0)
      known[image.tobytes()[:4096]] = points
    files.append(write(tmp_path / f'{i}.png', image))
  predictor = inference.load(run.workdir)
  stream = io.StringIO()
  summary = predict.predict_files(predictor, files, csv.writer(stream),
                                  detector=DrawnFaces(known),
                                  options=predict.PredictOptions(batch_size=4,
                                                                 progress=False))
  rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
  assert [r['file'] for r in rows] == files
  assert [r['success'] for r in rows] == ['1', '1', '0', '1', '1', '1', '1']
  assert (summary.images, summary.faces, summary.without_face) == (7, 6, 1)
  for row, file in zip(rows, files):
    if row['success'] == '1':
      image = cv2.cvtColor(cv2.imread(file), cv2.COLOR_BGR2RGB)
      face, = faces_lib.find_faces(image, DrawnFaces(known), 32, 36)
      want = predictor.predict_batches(face.crop[None], batch_size=4).au_probs[0]
      got = [float(row[f'AU{a:02d}_prob']) for a in (1, 2, 4)]
      np.testing.assert_allclose(got, want, atol=1e-4)


def test_video_tracks_pose_plot_and_detect_every(run, inputs, monkeypatch, capsys,
                                                 tmp_path):
  """A one-face video: one track id, a plausible pose, the same face rows and AU
  probabilities within 0.02 with --detect-every 5 as with detection on every frame;
  --plot writes a PNG per video and a SUMMARY.csv row per track (a face-less video:
  one row without a track)."""
  video = fakes.write_face_video(tmp_path / 'one.avi')
  empty = str(tmp_path / 'empty.avi')
  writer = cv2.VideoWriter(empty, cv2.VideoWriter_fourcc(*'MJPG'), 10, (160, 120))
  for _ in range(3):
    writer.write(np.full((120, 160, 3), 90, np.uint8))
  writer.release()
  rows, summaries = {}, {}
  for k in (1, 5):
    out, plots = tmp_path / f'every{k}.csv', tmp_path / f'plots{k}'
    assert _trained.cli(monkeypatch, 'predict', run.workdir, video, empty, '--output',
                        out, '--detect-every', k, '--plot', plots, '--quiet') == 0
    err = capsys.readouterr().err
    rows[k] = read_rows(out)[1]
    assert sorted(os.listdir(plots)) == ['SUMMARY.csv', 'empty.png', 'one.png']
    summaries[k] = read_rows(plots / 'SUMMARY.csv')[1]
  # Every 5th frame of each video (4 + 1), and a few more where a followed face was not
  # where its track predicted it (the face moves up to 0.4 eye distances a frame).
  ran, followed = map(int, re.search(
      r'--detect-every 5: the detector ran on (\d+) of 23 video frames; (\d+) faces',
      err).groups())
  assert 5 <= ran <= 8 and followed == 20 - (ran - 1), err
  for k in (1, 5):
    faces = [r for r in rows[k] if r['file'] == video and r['success'] == '1']
    assert len(faces) == 20
    assert {r['track'] for r in faces} == {'0'}
    angles = np.array([[float(r[f'pose_{a}']) for a in ('yaw', 'pitch', 'roll')]
                       for r in faces])
    assert np.all(np.abs(angles) < 30), angles
    one, none = summaries[k]
    assert (one['file'], one['track'], one['frames'], one['video_frames']) == \
        (video, '0', '20', '20')
    probs = np.array([[float(r[f'AU{a:02d}_prob']) for a in (1, 2, 4)] for r in faces])
    np.testing.assert_allclose([float(one[f'AU{a:02d}_mean']) for a in (1, 2, 4)],
                               probs.mean(0), atol=1e-4)
    assert (none['file'], none['track'], none['frames'], none['video_frames']) == \
        (empty, '', '0', '3')
  every1, every5 = ([np.array([[float(r[f'AU{a:02d}_prob']) for a in (1, 2, 4)]
                               for r in rows[k] if r['file'] == video]) for k in (1, 5)])
  assert np.abs(every1 - every5).max() < 0.02


def test_new_options_are_checked(run, monkeypatch, capsys):
  for extra, message in ((['--detect-every', 0], '--detect-every must be at least 1'),
                         (['--track-patience', -1], '--track-patience must be 0'),
                         (['--smooth', 1], '--smooth applies to --plot'),
                         (['--plot', 'p', '--smooth', -1], '--smooth must be 0 or more')):
    assert _trained.cli(monkeypatch, 'predict', run.workdir, __file__, '--quiet',
                        *extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('au-jax predict: error:') and message in err, err


def test_reader_thread_hands_over_errors_and_stops():
  def failing():
    yield from range(3)
    raise ValueError('bad frame')
  got = []
  with pytest.raises(ValueError, match='bad frame'):
    for item in predict.in_thread(failing(), 2):
      got.append(item)
  assert got == [0, 1, 2]

  produced = []
  def endless():
    n = 0
    while True:
      produced.append(n)
      yield n
      n += 1
  reader = predict.in_thread(endless(), 2)
  assert next(reader) == 0
  reader.close()  # joins the thread: it stops after at most the queue's worth
  count = len(produced)
  assert count <= 5 and len(produced) == count


def test_landmarks_placed_in_given_boxes_match_detection():
  """find_faces(boxes=...): dlib's landmarks in a given box (original pixels), also on an
  image shrunk for detection, land where detection put them; one entry per box."""
  big = cv2.resize(skdata.astronaut(), None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
  detector = faces_lib.DlibDetector()
  for max_size in (1600, 512):  # 1024 pixels: as is, and shrunk 2x
    found, = faces_lib.find_faces(big, detector, 32, 36, max_size=max_size)
    placed, = faces_lib.find_faces(big, None, 32, 36, max_size=max_size,
                                   boxes=[(*found.box, found.score)])
    np.testing.assert_allclose(placed.box, found.box, atol=2.5)
    iod = lm.inter_ocular_distance(found.landmarks68)
    assert np.abs(placed.landmarks68 - found.landmarks68).max() < 0.05 * iod
    assert placed.score == found.score


def test_truncated_mp4_prints_only_au_jax_lines(run, tmp_path):
  """A cut-off MP4 (its index, the moov atom, never written): FFmpeg's own
  "moov atom not found" must not appear above au-jax's one-line warning. A subprocess,
  since FFmpeg reads its log level once per process."""
  writer = cv2.VideoWriter(str(tmp_path / 'clip.mp4'), cv2.VideoWriter_fourcc(*'mp4v'),
                           25, (160, 120))
  assert writer.isOpened()
  for i in range(10):
    writer.write(np.full((120, 160, 3), 20 * i, np.uint8))
  writer.release()
  data = (tmp_path / 'clip.mp4').read_bytes()
  assert b'moov' in data[len(data) // 2:]  # mp4v writes the index last
  cut = tmp_path / 'cut.mp4'
  cut.write_bytes(data[:len(data) // 2])
  env = {k: v for k, v in os.environ.items() if not k.startswith('OPENCV_')}
  result = subprocess.run(
      [sys.executable, '-c', 'import sys; from au_jax import cli; sys.exit(cli.main())',
       'predict', run.workdir, str(cut), '--output', str(tmp_path / 'out.csv'), '--quiet'],
      capture_output=True, text=True, env=env, timeout=300, check=False)
  lines = result.stderr.strip().splitlines()
  assert result.returncode == 1, result.stderr
  assert f'au-jax predict: warning: cannot read {cut}' in lines[0], lines
  assert not [line for line in lines if 'moov' in line or line.startswith('[')], lines
