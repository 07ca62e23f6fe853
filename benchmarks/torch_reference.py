"""The same stage-2 step in PyTorch: a yardstick for au_jax's speed at equal work.

    # torch is not an au_jax dependency: run this with any Python that has it
    python benchmarks/torch_reference.py [--threads 2] [--out torch_reference.json]

au_jax is compared with ADLD's own PyTorch iteration. This script makes that
comparison possible on any machine, at exactly equal work: it ports au_jax's row-A
stage-2 step (Table 7's row A = ADLD's method: one shared E_f, E_l, G_b, G_st, D_l, the
two D_d and the AU heads (6, as configs/default.py) at the paper's size, docs/method.md §1–§4) to PyTorch, op for
op, from au_jax's own modules (`au_jax/models`), and times it as `benchmarks/run.py` times
the JAX step: batch 8 per domain, 176-pixel crops, median of timed steps after warm-up.

The graph is the one `au_jax.train.make_stage2_step` runs for row A: the generator side
forward once; the discriminators updated by Adam on detached features; the generator
objective (landmark CE, both adversarial terms, weighted BCE on E_au(F_s) and
E_au(F_sltb), the cross-cycle and self-reconstruction L1 terms) against the updated
discriminators, back-propagated once to every other module and applied by Adam; E_au
also runs on F_t and F_tlsb without gradients for its BatchNorm statistics. The
second separation uses E_l with detached parameters. E_au's last conv + global average
pool is computed from window sums as au_jax does (`--plain-last-conv`: as a full
convolution, as ADLD's code does). Random inputs and labels; speed does not depend on
the values.

Printed and written: step time, FLOPs per step (torch's FlopCounterMode: convolutions
and matmuls, forward and backward), achieved GFLOP/s, a 4096² float32 matmul's rate in
the same process, and target-path inference images/s at batch 1 (E_f, E_l, G_b, G_st,
E_au, eval mode).
"""

import argparse
import json
import platform
import statistics
import time

import sys

try:
  import torch
except ImportError:
  sys.exit('benchmarks/torch_reference.py: error: needs the torch package, which au_jax '
           'does not install; run it with a Python that has PyTorch (pip install torch)')
from torch import nn  # pylint: disable=g-import-not-at-top,wrong-import-position
import torch.nn.functional as F  # pylint: disable=g-import-not-at-top,wrong-import-position

N_LANDMARKS, HIDDEN = 49, 64


def conv_in_prelu(cin, cout):
  return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.InstanceNorm2d(cout),
                       nn.PReLU())


def conv_bn_prelu(cin, cout):
  return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout),
                       nn.PReLU())


class FeatureEncoder(nn.Module):
  """E_f: two blocks of [conv, BN, PReLU] ×2 + 2×2 average pool, then tanh."""

  def __init__(self, channels=(32, 64)):
    super().__init__()
    layers, cin = [], 3
    for c in channels:
      layers += [conv_bn_prelu(cin, c), conv_bn_prelu(c, c), nn.AvgPool2d(2)]
      cin = c
    self.body = nn.Sequential(*layers)

  def forward(self, x):
    return torch.tanh(self.body(x))


def stack(cin, widths):
  layers = []
  for c in widths:
    layers.append(conv_in_prelu(cin, c))
    cin = c
  return nn.Sequential(*layers)


class LandmarkEncoder(nn.Module):
  """E_l: 4 × [conv, IN, PReLU], tanh, conv → n logits; F_l = Σ of spatial softmaxes."""

  def __init__(self):
    super().__init__()
    self.body = stack(64, [HIDDEN] * 4)
    self.logits = nn.Conv2d(HIDDEN, N_LANDMARKS, 3, padding=1)

  def forward(self, x):
    logits = self.logits(torch.tanh(self.body(x)))
    b, n, h, w = logits.shape
    probs = torch.softmax(logits.reshape(b, n, h * w), dim=2)
    return logits, probs.sum(1).reshape(b, 1, h, w)


class BackgroundGenerator(nn.Module):
  def __init__(self):
    super().__init__()
    self.body = stack(64, [HIDDEN] * 4)

  def forward(self, x):
    return torch.tanh(self.body(x))


class FeatureGenerator(nn.Module):
  def __init__(self):
    super().__init__()
    self.body = stack(1 + HIDDEN, [128, 128, 64, 64, 64])

  def forward(self, landmark, background):
    return torch.tanh(self.body(torch.cat([landmark, background], 1)))


class LandmarkDiscriminator(nn.Module):
  def __init__(self):
    super().__init__()
    self.body = stack(HIDDEN, [HIDDEN] * 4)
    self.maps = nn.Conv2d(HIDDEN, N_LANDMARKS, 3, padding=1)

  def forward(self, x):
    return self.maps(self.body(x))


class DomainDiscriminator(nn.Module):
  def __init__(self, side, channels=(64, 64, 128, 128)):
    super().__init__()
    layers, cin = [], 64
    for c in channels[:-1]:
      layers += [nn.Conv2d(cin, c, 4, 2, 1), nn.InstanceNorm2d(c), nn.PReLU()]
      cin, side = c, side // 2
    # The last kernel shrinks to the remaining side below the paper's size, as in au_jax.
    layers += [nn.Conv2d(cin, channels[-1], min(4, side), 2), nn.PReLU(),
               nn.Conv2d(channels[-1], 1, 1)]
    self.body = nn.Sequential(*layers)

  def forward(self, x):
    return self.body(x).mean((2, 3))


class AUHead(nn.Module):
  """3 × [conv, BN, PReLU], the last conv + global average pool, Dense 1."""

  def __init__(self, plain_last_conv):
    super().__init__()
    self.body = nn.Sequential(*[conv_bn_prelu(64, HIDDEN) for _ in range(3)])
    self.last = nn.Conv2d(HIDDEN, HIDDEN, 3, padding=1)
    self.logit = nn.Linear(HIDDEN, 1)
    self.plain_last_conv = plain_last_conv

  def mean_of_last_conv(self, x):
    if self.plain_last_conv:
      return self.last(x).mean((2, 3))
    # au_jax's MeanOfConv3x3: the kernel applied to the sums each tap reads.
    rows = torch.stack([x[:, :, :-1].sum(2), x.sum(2), x[:, :, 1:].sum(2)], 2)
    sums = torch.stack([rows[..., :-1].sum(-1), rows.sum(-1), rows[..., 1:].sum(-1)], 3)
    out = torch.einsum('bcij,ocij->bo', sums, self.last.weight)
    return out / (x.shape[2] * x.shape[3]) + self.last.bias

  def forward(self, x):
    return self.logit(self.mean_of_last_conv(self.body(x)))[:, 0]


class AUDetector(nn.Module):
  def __init__(self, num_aus, plain_last_conv):
    super().__init__()
    self.heads = nn.ModuleList([AUHead(plain_last_conv) for _ in range(num_aus)])

  def forward(self, x):
    return torch.stack([h(x) for h in self.heads], -1)

  @torch.no_grad()
  def statistics_only(self, x):
    """The call whose logits no loss reads: only the BatchNorm layers' statistics."""
    for h in self.heads:
      h.body(x)


class RowA(nn.Module):
  def __init__(self, crop=176, num_aus=6, plain_last_conv=False):
    super().__init__()
    self.feature_encoder = FeatureEncoder()
    self.landmark_encoder = LandmarkEncoder()
    self.background_generator = BackgroundGenerator()
    self.feature_generator = FeatureGenerator()
    self.au_detector = AUDetector(num_aus, plain_last_conv)
    self.landmark_discriminator = LandmarkDiscriminator()
    self.domain_discriminator_s = DomainDiscriminator(crop // 4)
    self.domain_discriminator_t = DomainDiscriminator(crop // 4)

  def discriminators(self):
    return [self.landmark_discriminator, self.domain_discriminator_s,
            self.domain_discriminator_t]

  def frozen_landmark_encoder(self, x):
    params = {k: v.detach() for k, v in self.landmark_encoder.named_parameters()}
    return torch.func.functional_call(self.landmark_encoder, params, (x,))

  def separate(self, f, frozen):
    encoder = self.frozen_landmark_encoder if frozen else self.landmark_encoder
    logits, landmark = encoder(f)
    return logits, landmark, self.background_generator(f.detach())

  def features(self, xs, xt):
    """MultiTaskAUNet.features for row A (shared E_f, self-reconstruction, no branches)."""
    o = {'F_s': self.feature_encoder(xs), 'F_t': self.feature_encoder(xt)}
    o['logits_sl'], o['F_sl'], o['F_sb'] = self.separate(o['F_s'], False)
    o['logits_tl'], o['F_tl'], o['F_tb'] = self.separate(o['F_t'], False)
    g = self.feature_generator
    o['F_sltb'] = g(o['F_sl'].detach(), o['F_tb'])
    o['F_tlsb'] = g(o['F_tl'].detach(), o['F_sb'])
    o['logits_sl_p'], o['F_sl_p'], o['F_tb_p'] = self.separate(o['F_sltb'], True)
    o['logits_tl_p'], o['F_tl_p'], o['F_sb_p'] = self.separate(o['F_tlsb'], True)
    o['F_s_p'] = g(o['F_sl_p'].detach(), o['F_sb_p'])
    o['F_t_p'] = g(o['F_tl_p'].detach(), o['F_tb_p'])
    o['F_s_self'] = g(o['F_sl'].detach(), o['F_sb'])
    o['F_t_self'] = g(o['F_tl'].detach(), o['F_tb'])
    o['au_s'] = self.au_detector(o['F_s'])
    self.au_detector.statistics_only(o['F_t'])
    self.au_detector.statistics_only(o['F_tlsb'])
    o['au_sltb'] = self.au_detector(o['F_sltb'])
    return o

  def discriminate(self, o, detach):
    d = (lambda x: x.detach()) if detach else (lambda x: x)
    return {'dl_sb': self.landmark_discriminator(d(o['F_sb'])),
            'dl_tb': self.landmark_discriminator(d(o['F_tb'])),
            'dd_s_real': self.domain_discriminator_s(d(o['F_s'])),
            'dd_s_fake': self.domain_discriminator_s(d(o['F_tlsb'])),
            'dd_t_real': self.domain_discriminator_t(d(o['F_t'])),
            'dd_t_fake': self.domain_discriminator_t(d(o['F_sltb']))}

  @torch.no_grad()
  def predict_target(self, x):
    f = self.feature_encoder(x)
    _, landmark, background = self.separate(f, False)
    return self.au_detector(self.feature_generator(landmark, background))


# -- losses (au_jax/losses.py, same averaging as au_jax/objective.py) ----------------------

def landmark_ce(logits, idx):
  b, n, h, w = logits.shape
  return F.cross_entropy(logits.reshape(b, n, h * w).transpose(1, 2), idx)


def landmark_d_loss(maps, idx):
  b, n, h, w = maps.shape
  one_hot = F.one_hot(idx, h * w).float()  # (B, n, d²)
  return ((maps.reshape(b, n, h * w) - one_hot) ** 2).mean()


def weighted_bce(logits, labels, weights):
  per_au = labels * F.logsigmoid(logits) + (1 - labels) * F.logsigmoid(-logits)
  return -(per_au * weights).sum(-1).div(logits.shape[-1]).mean()


def l1(pred, target):
  return (pred - target.detach()).abs().mean()


def discriminator_loss(disc, idx_s, idx_t):
  dl = 0.5 * (landmark_d_loss(disc['dl_sb'], idx_s) + landmark_d_loss(disc['dl_tb'], idx_t))
  dd = lambda real, fake: ((real - 1) ** 2).mean() + (fake ** 2).mean()
  return dl + 0.25 * (dd(disc['dd_s_real'], disc['dd_s_fake']) +
                      dd(disc['dd_t_real'], disc['dd_t_fake']))


def generator_loss(o, disc, batch, idx_s, idx_t, weights):
  d2 = o['F_s'].shape[2] * o['F_s'].shape[3]
  lr = 0.5 * (landmark_ce(o['logits_sl'], idx_s) + landmark_ce(o['logits_tl'], idx_t) +
              landmark_ce(o['logits_tl_p'], idx_t) + landmark_ce(o['logits_sl_p'], idx_s))
  adlb = 0.5 * (((disc['dl_sb'] - 1 / d2) ** 2).mean() + ((disc['dl_tb'] - 1 / d2) ** 2).mean())
  adst = 0.5 * (((disc['dd_s_fake'] - 1) ** 2).mean() + ((disc['dd_t_fake'] - 1) ** 2).mean())
  au = 0.5 * (weighted_bce(o['au_s'], batch['au'], weights) +
              weighted_bce(o['au_sltb'], batch['au'], weights))
  cross_cycle = 0.5 * (l1(o['F_s_p'], o['F_s']) + l1(o['F_t_p'], o['F_t']))
  self_rec = 0.5 * (l1(o['F_s_self'], o['F_s']) + l1(o['F_t_self'], o['F_t']))
  return 0.6 * lr + 400 * adlb + 1.2 * adst + au + 40 * cross_cycle + 3 * self_rec


class Step:
  """One row-A stage-2 iteration: D step on detached features, then the G step."""

  def __init__(self, model, batch):
    self.model, self.batch = model, batch
    d_params = [p for m in model.discriminators() for p in m.parameters()]
    d_ids = {id(p) for p in d_params}
    g_params = [p for p in model.parameters() if id(p) not in d_ids]
    self.d_params = d_params
    self.opt_d = torch.optim.Adam(d_params, lr=5e-5, betas=(0.5, 0.9))
    self.opt_g = torch.optim.Adam(g_params, lr=1e-4, betas=(0.95, 0.999))

  def __call__(self):
    m, b = self.model, self.batch
    o = m.features(b['xs'], b['xt'])
    for p in self.d_params:
      p.requires_grad_(True)
    self.opt_d.zero_grad(set_to_none=True)
    discriminator_loss(m.discriminate(o, True), b['idx_s'], b['idx_t']).backward()
    self.opt_d.step()
    for p in self.d_params:  # the G step computes no discriminator gradient, as in JAX
      p.requires_grad_(False)
    self.opt_g.zero_grad(set_to_none=True)
    loss = generator_loss(o, m.discriminate(o, False), b, b['idx_s'], b['idx_t'],
                          b['weights'])
    loss.backward()
    self.opt_g.step()
    return loss


def random_batch(batch, crop, num_aus, memory_format):
  g = torch.Generator().manual_seed(0)
  image = lambda: torch.rand(batch, 3, crop, crop, generator=g).contiguous(
      memory_format=memory_format)
  d = crop // 4
  return {'xs': image(), 'xt': image(),
          'idx_s': torch.randint(0, d * d, (batch, N_LANDMARKS), generator=g),
          'idx_t': torch.randint(0, d * d, (batch, N_LANDMARKS), generator=g),
          'au': torch.randint(0, 2, (batch, num_aus), generator=g).float(),
          'weights': torch.ones(num_aus)}


def timed(fn, warmup, seconds, min_calls=3):
  for _ in range(warmup):
    fn()
  times, start = [], time.perf_counter()
  while len(times) < min_calls or time.perf_counter() - start < seconds:
    t = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t)
  return statistics.median(times), len(times)


def matmul_rate(n=4096):
  a, b = torch.rand(n, n), torch.rand(n, n)
  seconds, _ = timed(lambda: a @ b, 2, 3.0)
  return 2 * n ** 3 / seconds


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--threads', type=int, default=None, help='torch threads')
  parser.add_argument('--batch', type=int, default=8)
  parser.add_argument('--crop', type=int, default=176)
  parser.add_argument('--aus', type=int, default=6,
                      help='AU heads (configs/default.py: 6, BP4D → EmotioNet)')
  parser.add_argument('--seconds', type=float, default=30.0, help='timed seconds a step')
  parser.add_argument('--channels-last', action='store_true')
  parser.add_argument('--plain-last-conv', action='store_true')
  parser.add_argument('--out', default=None, help='write the results as JSON here')
  args = parser.parse_args(argv)
  if args.threads:
    torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  fmt = torch.channels_last if args.channels_last else torch.contiguous_format
  model = RowA(args.crop, args.aus, args.plain_last_conv).to(memory_format=fmt).train()
  batch = random_batch(args.batch, args.crop, args.aus, fmt)
  step = Step(model, batch)

  from torch.utils.flop_counter import FlopCounterMode  # pylint: disable=g-import-not-at-top
  counter = FlopCounterMode(display=False)
  with counter:
    step()
  flops = counter.get_total_flops()
  step_s, calls = timed(step, 2, args.seconds)

  model.eval()
  image = batch['xs'][:1]
  infer_s, _ = timed(lambda: model.predict_target(image), 3, 5.0)
  matmul = matmul_rate()
  result = {
      'torch': torch.__version__, 'threads': torch.get_num_threads(),
      'mkldnn': torch.backends.mkldnn.is_available(), 'cpu': platform.processor(),
      'batch': args.batch, 'crop': args.crop, 'aus': args.aus, 'channels_last': args.channels_last,
      'plain_last_conv': args.plain_last_conv,
      'step_s': step_s, 'timed_steps': calls, 'gflop_per_step': flops / 1e9,
      'achieved_gflops': flops / step_s / 1e9, 'matmul_gflops': matmul / 1e9,
      'of_matmul_rate': flops / step_s / matmul,
      'inference_target_batch1_images_per_s': 1 / infer_s,
  }
  print(f"PyTorch {result['torch']}, {result['threads']} threads: row-A stage-2 step "
        f"{step_s:.3f} s (median of {calls}), {flops / 1e9:.1f} GFLOP, "
        f"{result['achieved_gflops']:.1f} GFLOP/s = {100 * result['of_matmul_rate']:.1f}% "
        f"of a 4096² matmul ({matmul / 1e9:.1f} GFLOP/s); target-path inference at "
        f"batch 1: {1 / infer_s:.1f} images/s")
  if args.out:
    with open(args.out, 'w') as f:
      json.dump(result, f, indent=1)
  return result


if __name__ == '__main__':
  main()
