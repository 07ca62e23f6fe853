"""The whole multi-task model (paper Fig. 2) and its stage-2 forward graph (docs/method.md §2).

`MultiTaskAUNet` owns every module of docs/method.md §1 as a named child; the top-level names are
what the optimiser groups partition on (see `au_jax.optim`):

  landmark_branch_s, landmark_branch_t, shared_blocks     two landmark branches, blocks 3–4 shared
  feature_encoder_s, feature_encoder_t                    E_f per domain (one if shared)
  landmark_encoder                                        E_l
  background_generator                                    G_b
  feature_generator                                       G_st
  landmark_discriminator                                  D_l
  domain_discriminator_s, domain_discriminator_t          D_d per domain
  au_detector                                             E_au
  projector_feature, projector_landmark, projector_background   P for F, F_l, F_b

Methods: `features` (the generator side of one stage-2 iteration), `discriminate`
(D_l and both D_d on given features), `landmarks` (stage 1), `predict_source` and
`predict_target` (inference, docs/method.md §2 last paragraph).

Feature names follow the paper: F_sltb is the source face on the target background;
a `_prime` suffix marks the second, cross-cyclic round (the paper's F'_s, F'_sl, ...).
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from au_jax.models import layers
from au_jax.models.au_detector import AUDetector
from au_jax.models.background_generator import BackgroundGenerator
from au_jax.models.domain_discriminator import DomainDiscriminator
from au_jax.models.feature_encoder import FeatureEncoder
from au_jax.models.feature_generator import FeatureGenerator
from au_jax.models.landmark_branch import LandmarkBranch
from au_jax.models.landmark_discriminator import LandmarkDiscriminator
from au_jax.models.landmark_encoder import LandmarkEncoder
from au_jax.models.projector import Projector

sg = jax.lax.stop_gradient


class MultiTaskAUNet(nn.Module):
  """All modules of the paper; sizes default to the paper's (176 crops, 44 maps)."""
  num_aus: int
  num_landmarks: int = 49
  landmark_channels: tuple[int, ...] = (32, 64, 96, 128, 160)
  landmark_dense: int = 512
  cbam_reduction: int = 16
  hidden: int = 64
  generator_channels: tuple[int, ...] = (128, 128, 64, 64)
  domain_channels: tuple[int, ...] = (64, 64, 128, 128)
  au_hidden: int = 64
  projector_hidden: int = 64
  share_feature_encoder: bool = False
  # Forward-graph switches (set from the loss config by `au_jax.config_lib.create_model`).
  use_projectors: bool = True
  self_reconstruction: bool = False
  landmark_branches: bool = True  # False: `features` skips them (no loss reads them)
  # Computation dtype: bfloat16 with config.half_precision (parameters stay float32;
  # every output the losses read is float32).
  dtype: layers.Dtype = jnp.float32
  target_au: bool = False
  # Run each module's several calls of a stage-2 step as one call (`_calls`); False runs
  # them one by one, the reference the tests compare with (the same mathematics).
  batched_calls: bool = True
  # The target domain's inference path: 'reconstruction' E_au(G_st(F_l, G_b(F))), as
  # ADLD tests; 'direct' E_au(F), F = E_f(I), through one shared E_f (docs/method.md §11).
  target_path: str = 'reconstruction'

  def setup(self):
    lc = tuple(self.landmark_channels)
    if len(lc) != 5:
      raise ValueError(f'landmark_channels needs 5 entries, got {lc}')
    dt = self.dtype
    self.shared_blocks = layers.ConvBlocks(lc[2:4], dt)
    branch = functools.partial(
        LandmarkBranch, shared=self.shared_blocks, channels=lc,
        num_landmarks=self.num_landmarks, dense_units=self.landmark_dense,
        cbam_reduction=self.cbam_reduction, dtype=dt)
    self.landmark_branch_s = branch()
    self.landmark_branch_t = branch()
    self.feature_encoder_s = FeatureEncoder(lc[:2], dt)
    if not self.share_feature_encoder:
      self.feature_encoder_t = FeatureEncoder(lc[:2], dt)
    self.landmark_encoder = LandmarkEncoder(self.hidden, self.num_landmarks, dtype=dt)
    self.background_generator = BackgroundGenerator(self.hidden, dtype=dt)
    self.feature_generator = FeatureGenerator(tuple(self.generator_channels), lc[1], dt)
    self.landmark_discriminator = LandmarkDiscriminator(self.hidden, self.num_landmarks,
                                                        dtype=dt)
    self.domain_discriminator_s = DomainDiscriminator(tuple(self.domain_channels), dt)
    self.domain_discriminator_t = DomainDiscriminator(tuple(self.domain_channels), dt)
    self.au_detector = AUDetector(self.num_aus, self.au_hidden, dt)
    if self.use_projectors:
      self.projector_feature = Projector(lc[1], self.projector_hidden, dt)
      self.projector_landmark = Projector(1, self.projector_hidden, dt)
      self.projector_background = Projector(self.hidden, self.projector_hidden, dt)

  # -- pieces ---------------------------------------------------------------------------

  def _encode(self, images, domain, train):
    if domain == 'target' and not self.share_feature_encoder:
      return self.feature_encoder_t(images, train)
    return self.feature_encoder_s(images, train)

  def _frozen_landmark_encoder(self, features):
    """E_l' : E_l with stop-gradient parameters, for generated features (docs/method.md §2 step 4).

    The landmark loss on generated features then trains the generators, never E_l.
    """
    params = jax.tree.map(sg, self.landmark_encoder.variables['params'])
    return self.landmark_encoder.clone(parent=None).apply({'params': params}, features)

  def _separate(self, features, frozen):
    """One separation: (landmark logits, F_l, F_b). G_b always sees sg(features)."""
    encoder = self._frozen_landmark_encoder if frozen else self.landmark_encoder
    logits, landmark = encoder(features)
    return logits, landmark, self.background_generator(sg(features))

  def _project(self, kind, x):
    if not self.use_projectors:
      return x
    return {'feature': self.projector_feature, 'landmark': self.projector_landmark,
            'background': self.projector_background}[kind](x)

  def _calls(self, fn, *calls, batch_norm=False):
    """[fn(*args) for args in calls], the outputs of one module's several calls.

    With `batched_calls` they run as ONE call on the calls' inputs concatenated along
    the batch axis, and the outputs are split again: the same numbers for a module that
    treats each sample alone (instance norm, convolutions), and, with `batch_norm`, for
    a BatchNorm module too, which is then told the number of calls (`groups`) so that
    each call's slice keeps its own batch statistics and running-average update
    (`layers.BatchNorm`). Fewer, larger kernels per step (docs/method.md §2, "Batched
    calls"). Without it, one call each, in order.
    """
    if not self.batched_calls or len(calls) == 1:
      return [fn(*args) for args in calls]
    joined = [jnp.concatenate(parts, axis=0) for parts in zip(*calls)]
    out = fn(*joined, groups=len(calls)) if batch_norm else fn(*joined)
    size = calls[0][0].shape[0]
    return [jax.tree.map(lambda y, k=k: y[k * size:(k + 1) * size], out)
            for k in range(len(calls))]

  # -- public methods -------------------------------------------------------------------

  def landmarks(self, images_s, images_t, train: bool):
    """Stage 1: (FL_s, FL_t), each (B, n, 2) in crop pixels."""
    return (self.landmark_branch_s(images_s, train),
            self.landmark_branch_t(images_t, train))

  def features(self, images_s, images_t, train: bool):
    """The generator side of one stage-2 iteration (docs/method.md §2 steps 1–7).

    Returns a dict of every feature and prediction the losses need; discriminators are
    applied separately by `discriminate` so the two optimiser steps can share this pass.
    Each `_calls` below is one module's several calls of a step (see `_calls`).
    """
    o = {}
    # 1. Initial facial features.
    if self.share_feature_encoder:
      o['F_s'], o['F_t'] = self._calls(functools.partial(self.feature_encoder_s, train=train),
                                       [images_s], [images_t], batch_norm=True)
    else:
      o['F_s'] = self._encode(images_s, 'source', train)
      o['F_t'] = self._encode(images_t, 'target', train)
    # 2. First separation.
    first = functools.partial(self._separate, frozen=False)
    ((o['logits_sl'], o['F_sl'], o['F_sb']),
     (o['logits_tl'], o['F_tl'], o['F_tb'])) = self._calls(first, [o['F_s']], [o['F_t']])
    # 3. Cross mixing, and ADLD's self-reconstruction (baseline config) with the same G_st.
    mixes = [[sg(o['F_sl']), o['F_tb']], [sg(o['F_tl']), o['F_sb']]]
    if self.self_reconstruction:
      mixes += [[sg(o['F_sl']), o['F_sb']], [sg(o['F_tl']), o['F_tb']]]
    mixed = self._calls(self.feature_generator, *mixes)
    o['F_sltb'], o['F_tlsb'] = mixed[:2]
    if self.self_reconstruction:
      o['F_s_self'], o['F_t_self'] = mixed[2:]
    # 4. Second separation (frozen E_l) and cross-cyclic reconstruction.
    second = functools.partial(self._separate, frozen=True)
    ((o['logits_sl_prime'], o['F_sl_prime'], o['F_tb_prime']),
     (o['logits_tl_prime'], o['F_tl_prime'], o['F_sb_prime'])) = self._calls(
         second, [o['F_sltb']], [o['F_tlsb']])
    o['F_s_prime'], o['F_t_prime'] = self._calls(
        self.feature_generator, [sg(o['F_sl_prime']), o['F_sb_prime']],
        [sg(o['F_tl_prime']), o['F_tb_prime']])
    # Projected reconstructions for L_sr (Eq. 8); identity when projectors are off.
    for suffix, kind in (('', 'feature'), ('l', 'landmark'), ('b', 'background')):
      rebuilt = [o[f'F_s{suffix}_prime']], [o[f'F_t{suffix}_prime']]
      o[f'P_s{suffix}'], o[f'P_t{suffix}'] = (
          self._calls(functools.partial(self._project, kind), *rebuilt)
          if self.use_projectors else (rebuilt[0][0], rebuilt[1][0]))
    # 5. Landmark branches (rows A and source-only train none: not computed).
    if self.landmark_branches:
      o['FL_s'], o['FL_t'] = self.landmarks(images_s, images_t, train)
    # 6. AU logits of F_s, F_t, F_tlsb and F_sltb, in ADLD's order. Only F_s and F_sltb
    # have labels (F_t and F_tlsb too with pseudo labels), but E_au sees all four, as in
    # ADLD: its BatchNorm's running statistics, which inference uses, then average over
    # every kind of feature, target-landmark ones included, like the target path's.
    stats_only = (lambda x: x) if self.target_au else sg
    o['au_s'], au_t, au_tlsb, o['au_sltb'] = self._calls(
        functools.partial(self.au_detector, train=train), [o['F_s']],
        [stats_only(o['F_t'])], [stats_only(o['F_tlsb'])], [o['F_sltb']], batch_norm=True)
    if self.target_au:  # pseudo-label mode ("-P")
      o['au_t'], o['au_tlsb'] = au_t, au_tlsb
    return {k: v.astype(jnp.float32) for k, v in o.items()}  # the losses run in float32

  def discriminate(self, f):
    """D_l on the background features and both D_d on real and mixed features."""
    dl_sb, dl_tb = self._calls(self.landmark_discriminator, [f['F_sb']], [f['F_tb']])
    dd_s_real, dd_s_fake = self._calls(self.domain_discriminator_s, [f['F_s']],
                                       [f['F_tlsb']])
    dd_t_real, dd_t_fake = self._calls(self.domain_discriminator_t, [f['F_t']],
                                       [f['F_sltb']])
    return {'dl_sb': dl_sb.astype(jnp.float32), 'dl_tb': dl_tb.astype(jnp.float32),
            'dd_s_real': dd_s_real, 'dd_s_fake': dd_s_fake,
            'dd_t_real': dd_t_real, 'dd_t_fake': dd_t_fake}

  def source_au_logits(self, images, train: bool = False):
    """E_au(E_f^s(I)) alone: the source-only baseline trains and evaluates this path."""
    return self.au_detector(self._encode(images, 'source', train), train)

  def predict_source(self, images, train: bool = False, landmarks: bool = True):
    """Source-domain inference: (AU logits E_au(E_f^s(I)), landmarks of branch s, or
    None without `landmarks`)."""
    points = self.landmark_branch_s(images, train) if landmarks else None
    return self.source_au_logits(images, train), points

  def _target_au_input(self, images, train):
    features = self._encode(images, 'target', train)
    if self.target_path == 'direct':  # E_l, G_b and G_st are not run
      return features
    _, landmark, background = self._separate(features, frozen=False)
    return self.feature_generator(landmark, background)

  def predict_target(self, images, train: bool = False, landmarks: bool = True):
    """Target-domain inference: E_au(G_st(F_l, G_b(F))) with F = E_f^t(I), the
    reconstruction path ADLD tests, or E_au(F) with target_path='direct'; landmarks
    from branch t (or None)."""
    points = self.landmark_branch_t(images, train) if landmarks else None
    return self.au_detector(self._target_au_input(images, train), train), points

  def au_input(self, images, path):
    """What E_au reads on an inference path, in eval mode: E_f^s(I) for 'source',
    the target path's input for 'target' (path_statistics re-estimates E_au's
    statistics on it)."""
    if path == 'source':
      return self._encode(images, 'source', False)
    return self._target_au_input(images, False)

  def inference_outputs(self, images):
    """Every intermediate of the inference paths, for diagnostics: AU logits of the
    source path E_au(E_f^s(I)), the target path E_au(G_st(F_l, G_b(F))) and the direct
    path E_au(F), F = E_f^t(I); E_l's logits, F_l, F_b and G_st's output."""
    f_s = self._encode(images, 'source', False)
    f_t = self._encode(images, 'target', False)
    logits, landmark, background = self._separate(f_t, frozen=False)
    mixed = self.feature_generator(landmark, background)
    return {'au_source': self.au_detector(f_s, False),
            'au_target': self.au_detector(mixed, False),
            'au_direct': self.au_detector(f_t, False),
            'landmark_logits': logits, 'F_l': landmark, 'F_b': background,
            'reconstructed': mixed}

  def __call__(self, images_s, images_t, train: bool = False):
    """Runs every module once (used by `init`, so that every parameter exists)."""
    f = self.features(images_s, images_t, train)
    if not self.landmark_branches:
      f['FL_s'], f['FL_t'] = self.landmarks(images_s, images_t, train)
    return f, self.discriminate(f)


def init_feature_encoders_from_branches(variables, sources=(('s', 's'), ('t', 't'))):
  """After stage 1: E_f ← blocks 1–2 of a landmark branch (paper §4.1.2).

  `sources` pairs (encoder domain, branch domain): the paper's two extractors take their
  own domain's branch; one shared E_f (ADLD's encoder) takes the source branch. Copies
  params and batch statistics; returns a new variables dict (pure).
  """
  out = {}
  for collection, tree in variables.items():
    tree = dict(tree)
    for e, b in sources:
      encoder, branch = f'feature_encoder_{e}', f'landmark_branch_{b}'
      if encoder in tree and branch in tree:
        # A copy, not an alias: the state's buffers are donated to the train step.
        front = jax.tree.map(jnp.copy, tree[branch]['front'])
        tree[encoder] = {**tree[encoder], 'front': front}
    out[collection] = tree
  return out
