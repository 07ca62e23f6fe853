"""AU labels: expression prototypes mixed so that the AU marginals hit set targets.

An image first draws one expression prototype (happiness, surprise, ...), which switches
on its AUs with the prototype's probabilities; then each AU is switched on independently
with an "extra" probability chosen so that P(AU) equals the domain's target exactly:
  target = 1 - (1 - prototype marginal) * (1 - extra).
The extras are the "random single AUs" of real data (talking, mouth opening, blinks).
Targets follow the BP4D/DISFA occurrence rates (docs/method.md §5); the wild mix is a little
different, a mild label shift like EmotioNet's.
"""

import numpy as np

AUS = (1, 2, 4, 6, 9, 12, 15, 17, 25, 26)
AU_NAMES = tuple(f'AU{a}' for a in AUS)
INDEX = {a: i for i, a in enumerate(AUS)}

TARGETS = {
    'lab': {1: .18, 2: .15, 4: .20, 6: .44, 9: .06, 12: .50, 15: .10, 17: .34, 25: .30,
            26: .09},
    'wild': {1: .15, 2: .13, 4: .17, 6: .38, 9: .05, 12: .45, 15: .08, 17: .25, 25: .38,
             26: .12},
}

# AU -> probability that the prototype shows it.
PROTOTYPES = {
    'neutral': {},
    'happiness': {6: .85, 12: 1.0, 25: .35},
    'surprise': {1: 1.0, 2: 1.0, 25: .9, 26: .7},
    'sadness': {1: .9, 4: .8, 15: 1.0, 17: .6},
    'disgust': {9: 1.0, 4: .5, 17: .5, 25: .3},
    'anger': {4: 1.0, 17: .6},
    'speech': {25: 1.0, 26: .6, 17: .3},  # talking: the mouth opens, the jaw drops
}
EXPRESSIONS = tuple(PROTOTYPES)

# Prototype weights per domain; neutral takes the rest.
_MIX = {
    'lab': {'happiness': .45, 'surprise': .07, 'sadness': .07, 'disgust': .05, 'anger': .08,
            'speech': .05},
    'wild': {'happiness': .40, 'surprise': .09, 'sadness': .06, 'disgust': .04, 'anger': .07,
             'speech': .06},
}

# Positive AUs get intensity in [0.55, 1]; a quarter of negatives show a trace (< 0.2),
# as FACS A-level actions that DISFA counts as absent.
POSITIVE_RANGE = (0.55, 1.0)
TRACE_PROB = 0.25
TRACE_MAX = 0.2


def _tables(domain):
  weights = dict(_MIX[domain])
  weights['neutral'] = 1.0 - sum(weights.values())
  mix = np.array([weights[e] for e in EXPRESSIONS])
  probs = np.zeros((len(EXPRESSIONS), len(AUS)))
  for row, name in enumerate(EXPRESSIONS):
    for au, p in PROTOTYPES[name].items():
      probs[row, INDEX[au]] = p
  marginal = mix @ probs
  target = np.array([TARGETS[domain][a] for a in AUS])
  if np.any(marginal > target + 1e-9):
    raise ValueError(f'{domain}: prototype marginals exceed targets: {marginal} > {target}')
  extra = (target - marginal) / (1.0 - marginal)
  return mix, probs, extra


TABLES = {domain: _tables(domain) for domain in TARGETS}


def target_rates(domain):
  """The target occurrence rate of each AU (in AUS order) as an array."""
  return np.array([TARGETS[domain][a] for a in AUS])


def sample_labels(rng, domain):
  """Draws (labels int8 (10,), intensities float32 (10,), expression name) for one image."""
  mix, probs, extra = TABLES[domain]
  expression = int(rng.choice(len(EXPRESSIONS), p=mix))
  u = rng.random((2, len(AUS)))
  on_proto = u[0] < probs[expression]
  on = on_proto | (u[1] < extra)
  # AUs of one expression share a common strength; extras vary freely.
  strength = rng.uniform(*POSITIVE_RANGE)
  jitter = rng.uniform(0.85, 1.15, len(AUS))
  free = rng.uniform(*POSITIVE_RANGE, len(AUS))
  positive = np.where(on_proto, np.clip(strength * jitter, POSITIVE_RANGE[0], 1.0), free)
  trace = np.where(rng.random(len(AUS)) < TRACE_PROB, rng.uniform(0, TRACE_MAX, len(AUS)), 0.0)
  intensity = np.where(on, positive, trace).astype(np.float32)
  return on.astype(np.int8), intensity, EXPRESSIONS[expression]


def sample_label_matrix(seed, domain, n):
  """n label rows (n, 10) drawn as the generator draws them, without rendering."""
  rng = np.random.default_rng(seed)
  return np.stack([sample_labels(rng, domain)[0] for _ in range(n)])
