"""au_jax.inference: partial restore, equality with training's eval path, face alignment."""

import json
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from au_jax import errors
from au_jax import evaluate
from au_jax import inference
from au_jax.geometry import GeometryError
from au_jax.geometry import align
from au_jax import faces as faces_lib
from au_jax.geometry import landmarks as lm
from data_pipelines import fakes
import _trained

REPO = _trained.REPO


@pytest.fixture(scope='module')
def run():
  return _trained.trained()


@pytest.fixture(scope='module')
def predictor(run):
  return inference.load(run.workdir)


def full_state(workdir, step):
  """Everything the checkpoint holds, optimiser states included, on this device."""
  path = os.path.join(workdir, 'checkpoints', 'stage2', str(step), 'state')
  checkpointer = ocp.Checkpointer(ocp.PyTreeCheckpointHandler())
  device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  item = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device),
                      checkpointer.metadata(path).item_metadata.tree)
  return checkpointer.restore(path, args=ocp.args.PyTreeRestore(
      item=item, restore_args=ocp.checkpoint_utils.construct_restore_args(item)))


def test_load_restores_only_the_inference_variables(run, predictor):
  assert predictor.step == 6  # one epoch of 12 examples in batches of 2: the only save
  assert set(predictor.variables) == {'params', 'batch_stats'}
  params = predictor.variables['params']
  assert 'domain_discriminator_s' not in params and 'landmark_discriminator' not in params
  # The target path reads E_f^t, or the one shared E_f (row A).
  encoder = ('feature_encoder_s' if run.config.model.share_feature_encoder
             else 'feature_encoder_t')
  assert {encoder, 'feature_generator', 'au_detector', 'landmark_branch_t'} <= set(params)
  saved = full_state(run.workdir, predictor.step)
  assert 'opt_g' in saved and 'domain_discriminator_s' in saved['params']
  same = jax.tree.map(lambda a, b: bool(np.array_equal(np.asarray(a), np.asarray(b))),
                      predictor.variables['params'],
                      {k: saved['params'][k] for k in params})
  assert all(jax.tree.leaves(same))
  assert predictor.au_ids == (1, 2, 4) and predictor.crop_size == 32
  assert predictor.path == 'target'


def test_any_checkpoint_folder_finds_the_same_checkpoints(run, predictor):
  stage2 = os.path.join(run.workdir, 'checkpoints', 'stage2')
  assert inference.locate(run.workdir) == (stage2, None)
  assert inference.locate(os.path.join(run.workdir, 'checkpoints')) == (stage2, None)
  assert inference.locate(stage2) == (stage2, None)
  step_dir = os.path.join(stage2, str(predictor.step))
  assert inference.locate(step_dir) == (stage2, predictor.step)
  assert inference.load(step_dir).step == predictor.step


def test_outputs_equal_the_training_eval_path(run, predictor):
  """Per eval split, the predictor's partially restored variables give what the full
  training state gives through the evaluation's path, bit for bit."""
  from au_jax.data import PreparedData
  saved = full_state(run.workdir, predictor.step)
  variables = {'params': saved['params'], 'batch_stats': saved['batch_stats']}
  data = PreparedData(run.config)
  for name in ('source_fold0', 'target_validation'):
    domain = data.eval_splits[name]
    path = evaluate.eval_path(run.config, domain)
    batch = next(data.eval_batches(name, 4))
    want = inference.predict(predictor.model, variables, batch['image'], path, 32)
    got = predictor(batch['image'], path=path)
    np.testing.assert_array_equal(np.asarray(got.au_probs), np.asarray(want[0]))
    np.testing.assert_array_equal(np.asarray(got.landmarks), np.asarray(want[1]))


def test_uint8_aligned_size_and_pure_function_agree(predictor):
  rng = np.random.default_rng(0)
  aligned = rng.integers(0, 256, (3, 36, 36, 3), dtype=np.uint8)
  crop = aligned[:, 2:34, 2:34]  # the evaluation centre crop of 36 -> 32
  normalised = (crop.astype(np.float32) / 255.0 - 0.5) / 0.5
  a = predictor(crop)
  assert a.au_probs.shape == (3, 3) and a.landmarks.shape == (3, 49, 2)
  for other in (predictor(aligned), predictor(normalised),
                jax.jit(predictor.apply('target'))(predictor.variables, crop)):
    np.testing.assert_allclose(np.asarray(other.au_probs), np.asarray(a.au_probs),
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(other.landmarks), np.asarray(a.landmarks),
                               atol=1e-4)
  source = predictor(crop, path='source')
  assert not np.allclose(np.asarray(source.au_probs), np.asarray(a.au_probs))
  # 4 faces in batches of 3: one padded batch, the same numbers.
  four = np.concatenate([crop, crop[:1]])
  batches = predictor.predict_batches(four, batch_size=3)
  assert batches.au_probs.shape == (4, 3)
  np.testing.assert_allclose(batches.au_probs[:3], np.asarray(a.au_probs), atol=1e-6)
  np.testing.assert_allclose(batches.au_probs[3], np.asarray(a.au_probs)[0], atol=1e-6)


def test_cpu_compiler_options_keep_the_numbers_and_fall_back(predictor, monkeypatch):
  """predict's CPU convolution library (inference.CPU_COMPILER_OPTIONS) gives the plain
  jit's numbers up to float rounding; a jaxlib that rejects the option runs without it."""
  faces = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
  args = (predictor.model, predictor.variables, faces, 'target', 32, True)
  tuned, plain = inference._jitted['cpu'](*args), inference._jitted['default'](*args)
  for a, b in zip(tuned, plain):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)
  rejected = jax.jit(inference._predict, static_argnames=inference._STATIC,
                     compiler_options={'xla_cpu_experimental_ynn_fusion_type': 'NO_SUCH'})
  monkeypatch.setitem(inference._jitted, 'cpu', rejected)
  monkeypatch.setattr(inference, '_cpu_options_supported', [True])
  out = inference.predict(*args)
  assert inference._cpu_options_supported == [False]
  np.testing.assert_array_equal(np.asarray(out.au_probs), np.asarray(plain.au_probs))


def test_bad_inputs_raise_input_error(run, predictor, tmp_path):
  cases = [
      lambda: predictor(np.zeros((2, 31, 31, 3), np.uint8)),
      lambda: predictor(np.zeros((2, 32, 32, 1), np.uint8)),
      lambda: predictor(np.zeros((2, 32, 32, 3), np.int32)),
      lambda: predictor(np.zeros((2, 32, 32, 3), np.uint8), path='wild'),
      lambda: inference.load(str(tmp_path / 'missing')),
      lambda: inference.load(str(tmp_path)),
      lambda: inference.load(run.workdir, step=12345),
  ]
  for case in cases:
    with pytest.raises(errors.InputError) as e:
      case()
    assert '\n' not in str(e.value)
  config = _trained.trained().config
  other = type(config)(config.to_dict())
  other.model.au_hidden = 16
  with pytest.raises(errors.InputError, match='au_detector.*shape'):
    inference.load(run.workdir, config=other)


_RESAVE = r'''
import sys
import jax
import orbax.checkpoint as ocp
from jax.sharding import NamedSharding, PartitionSpec as P
assert jax.device_count() == 4, jax.devices()
src, dst = sys.argv[1:3]
mesh = jax.make_mesh((4,), ('data',))
def sharding(meta):  # split the first axis over the 4 devices where it divides
  shape = tuple(meta.shape)
  return NamedSharding(mesh, P('data') if shape and shape[0] % 4 == 0 else P())
handler = ocp.PyTreeCheckpointHandler()
meta = ocp.Checkpointer(handler).metadata(src).item_metadata.tree
item = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=sharding(m)),
                    meta)
state = ocp.Checkpointer(handler).restore(src, args=ocp.args.PyTreeRestore(
    item=item, restore_args=ocp.checkpoint_utils.construct_restore_args(item)))
split = [a for a in jax.tree.leaves(state) if not a.sharding.is_fully_replicated]
print('sharded arrays', len(split))
manager = ocp.CheckpointManager(dst, item_names=('state', 'meta'))
manager.save(6, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                        meta=ocp.args.JsonSave({'stage': '2'})))
manager.wait_until_finished()
'''


def test_restores_a_checkpoint_written_on_four_devices(run, predictor, tmp_path):
  workdir = tmp_path / 'work'
  stage2 = workdir / 'checkpoints' / 'stage2'
  os.makedirs(stage2.parent)
  shutil.copy(os.path.join(run.workdir, 'config.json'), workdir / 'config.json')
  src = os.path.join(run.workdir, 'checkpoints', 'stage2', str(predictor.step), 'state')
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=4',
             JAX_PLATFORMS='cpu')
  out = subprocess.run([sys.executable, '-c', _RESAVE, src, str(stage2)], env=env,
                       capture_output=True, text=True, timeout=120, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  assert int(out.stdout.split()[-1]) > 10  # the copy really was split over 4 devices
  assert jax.device_count() == 1
  other = inference.load(str(workdir))
  same = jax.tree.map(lambda a, b: bool(np.array_equal(np.asarray(a), np.asarray(b))),
                      other.variables, predictor.variables)
  assert all(jax.tree.leaves(same))


# -- faces in the wild (no dlib needed: a detector that knows the drawn landmarks) --------

class KnownFaces:
  """A detector returning given 68-point landmarks (in the image it is called on), in
  (x, y, w, h) boxes as every detector gives them."""

  def __init__(self, *points):
    self.points = points

  def __call__(self, image):
    out = []
    for p in self.points:
      (x0, y0), (x1, y1) = p.min(0), p.max(0)
      out.append(((int(x0), int(y0), int(x1) - int(x0) + 1, int(y1) - int(y0) + 1), 1.0,
                  p.astype(np.float32)))
    return out


def test_find_faces_aligns_as_training_did():
  image, points = fakes.fake_face(np.random.default_rng(3), 120, 100, face=60.0)
  faces = faces_lib.find_faces(image, KnownFaces(points), crop_size=176,
                               aligned_size=200)
  assert len(faces) == 1
  aligned, aligned_points = align.align_face(image, lm.to_49(points), 200)
  # One warp straight to the crop instead of warp-then-crop: OpenCV's fixed-point
  # interpolation may round a rare pixel the other way, never by more than one level.
  diff = np.abs(faces[0].crop.astype(int) - aligned[12:188, 12:188])
  assert diff.max() <= 1 and np.mean(diff > 0) < 1e-3
  back = faces_lib.crop_to_image(aligned_points - 12, faces[0].transform)
  np.testing.assert_allclose(back, lm.to_49(points), atol=1e-3)
  np.testing.assert_allclose(faces[0].landmarks68, points, atol=1e-4)


def test_find_faces_on_a_shrunk_huge_image_reports_original_pixels():
  image, points = fakes.fake_face(np.random.default_rng(4), 120, 100, face=60.0)
  big = np.repeat(np.repeat(image, 8, axis=0), 8, axis=1)  # 960 x 800
  # The detector sees the shrunk copy (max side 240 = 2x), so give it 2x points.
  work_points = (points + 0.5) * 2 - 0.5
  faces = faces_lib.find_faces(big, KnownFaces(work_points), 176, 200, max_size=240)
  original = (points + 0.5) * 8 - 0.5
  np.testing.assert_allclose(faces[0].landmarks68, original, atol=1e-3)
  face = faces[0]
  aligned49 = lm.to_49(work_points)
  crop_points = align.transform_points(aligned49, align.alignment_matrix(aligned49)) - 12
  np.testing.assert_allclose(faces_lib.crop_to_image(crop_points, face.transform),
                             lm.to_49(original), atol=1e-3)
  x, y, w, h = face.box
  assert abs(w - 8 * (points[:, 0].max() - points[:, 0].min())) < 8 * 1.5


def test_as_rgb_handles_grey_alpha_and_depths():
  grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
  assert faces_lib.as_rgb(grey).shape == (3, 4, 3)
  assert faces_lib.as_rgb(grey[..., None])[1, 2].tolist() == [6, 6, 6]
  rgba = np.zeros((2, 2, 4), np.uint8)
  rgba[0, 0] = (255, 0, 0, 255)  # opaque red stays red; transparent becomes grey 128
  out = faces_lib.as_rgb(rgba)
  assert out[0, 0].tolist() == [255, 0, 0] and out[1, 1].tolist() == [128, 128, 128]
  assert faces_lib.as_rgb(np.full((2, 2, 3), 65535, np.uint16)).max() == 255
  assert faces_lib.as_rgb(np.ones((2, 2, 3), np.float32)).max() == 255
  with pytest.raises(GeometryError):
    faces_lib.as_rgb(np.zeros((2, 2, 5), np.uint8))


def test_config_json_is_what_load_reads(run, predictor):
  with open(os.path.join(run.workdir, 'config.json'), encoding='utf-8') as f:
    saved = json.load(f)
  assert tuple(saved['data']['au_ids']) == predictor.au_ids
