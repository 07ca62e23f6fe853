"""Table 7's rows (docs/method.md §9): the one place that says what each letter switches.

A is ADLD, the paper's baseline BL: one shared E_f, self-reconstruction and the two-pair
cross-cycle term, weighted BCE, no landmark branches (heat maps from the target
annotations). B–G add, in Table 7's order, SD/TD = the source/target landmark branch,
AS = the six-pair alignment L_sr of Eq. 8 (in place of the cross-cycle term), AP =
projectors and AL = the weighted asymmetric loss. Where the paper is silent (the
self-reconstruction term, the loss weights) B–G keep the config's values, which are A's;
whether B–G share one E_f is `model.share_feature_encoder` (default: the paper's two
extractors). '' is the full method (= G) and 'source_only' the E_f + E_au baseline
without adaptation. 'source_only+AdaBN' trains the same baseline and reads wild images
with E_au's batch-norm statistics re-estimated on the source path's features of
unlabelled wild training images before every evaluation (AdaBN, Li et al. 2016): the
adaptation that train.target_path_statistics='wild' gives the full method's target
path, without the rest of the method (au_jax/target_statistics.py). A config picks its row with `config.ablation`
(configs/table7.py:A, or `--config.ablation=G` on any config).
"""

import ml_collections

from au_jax import errors

_BL = dict(source_landmark_branch=False, target_landmark_branch=False,
           intermediate_alignment=False, projectors=False, au_loss='bce')
_BRANCHES = dict(source_landmark_branch=True, target_landmark_branch=True)
# row -> the loss switches it sets
ROWS = {
    'A': _BL,
    'B': dict(_BL, source_landmark_branch=True),
    'C': dict(_BL, target_landmark_branch=True),
    'D': dict(_BL, **_BRANCHES),
    'E': dict(_BL, **_BRANCHES, intermediate_alignment=True),
    'F': dict(_BL, **_BRANCHES, intermediate_alignment=True, projectors=True),
    'G': dict(_BL, **_BRANCHES, intermediate_alignment=True, projectors=True,
              au_loss='asymmetric'),
}
SHARED_ENCODER_ROWS = ('A',)  # ADLD has one E_f for both domains
ADABN = 'source_only+AdaBN'
SOURCE_ONLY = ('source_only', ADABN)  # the baselines that train only E_f^s and E_au
MODES = ('', *SOURCE_ONLY)   # the full method; the baselines without the method


class AblationError(errors.UserError, ValueError):
  """config.ablation names no row."""


def apply(config):
  """A copy of `config` with the switches of its row (`config.ablation`) set."""
  row = config.ablation
  if row not in ROWS and row not in MODES:
    raise AblationError(f"config.ablation={row!r} is not one of "
                        f"{', '.join(repr(k) for k in (*MODES, *ROWS))}")
  config = ml_collections.ConfigDict(config.to_dict())
  if row in ROWS:
    config.loss.update(ROWS[row])
    if row in SHARED_ENCODER_ROWS:
      config.model.share_feature_encoder = True
    if not config.loss.target_landmark_branch:
      config.loss.target_heatmaps = 'annotation'  # no branch to make them (ADLD)
  return config
