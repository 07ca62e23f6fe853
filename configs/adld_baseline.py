"""An ADLD-equivalent baseline (SPEC §3): ADLD's own loss weights, no landmark branches,
no projectors, weighted BCE, one shared E_f, heat maps from the target annotations.

land-adv 400, feat-adv 1.2, cross-cycle 40 (the two-pair L_sr), self-reconstruction 3,
AU 1, landmark CE 0.6. Use with BP4D → EmotioNet by default; override data.* for DISFA.
"""

from configs import bp4d_emotionet


def get_config():
  c = bp4d_emotionet.get_config()
  c.model.share_feature_encoder = True
  c.loss.update(dict(
      lr=0.6, adlb=400.0, adst=1.2, au=1.0, fl=0.0, sr=40.0, self_reconstruction=3.0,
      au_loss='bce', projectors=False, intermediate_alignment=False,
      source_landmark_branch=False, target_landmark_branch=False,
      target_heatmaps='annotation'))
  return c
