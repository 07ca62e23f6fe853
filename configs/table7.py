"""Table 7's rows (docs/method.md §9): the one place that says what each letter switches.

  au-jax train --config configs/table7.py:A --workdir runs/A      # ADLD on BP4D → EmotioNet
  au-jax train --config configs/synthetic.py --config.ablation=G  # a row on another config

A is ADLD, the paper's baseline BL: one shared E_f, self-reconstruction and the two-pair
cross-cycle term, weighted BCE, no landmark branches (heat maps from the target
annotations). B–G add, in Table 7's order, SD/TD = the source/target landmark branch,
AS = the six-pair alignment L_sr of Eq. 8 (in place of the cross-cycle term), AP =
projectors and AL = the weighted asymmetric loss. Where the paper is silent (the
self-reconstruction term, the loss weights) B–G keep the config's values, which are A's;
whether B–G share one E_f is `model.share_feature_encoder` (default: the paper's two
extractors; `--config.model.share_feature_encoder=True` gives A's one).
'' is the full method (= G) and 'source_only' the E_f + E_au baseline without
adaptation.
"""

from configs import bp4d_emotionet

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
MODES = ('', 'source_only')   # the full method; the baseline without adaptation


def get_config(row='G'):
  c = bp4d_emotionet.get_config()
  c.ablation = row
  return c
