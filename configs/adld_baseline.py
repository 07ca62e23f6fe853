"""ADLD (Shao et al., TAFFC 2022) as its public code trains it: Table 7's row A.

One shared E_f, ADLD's weights (land-adv 400, feat-adv 1.2, cross-cycle 40 over two pairs,
self-reconstruction 3, AU 1 with weighted BCE averaged over source and mixed, landmark
CE 0.6), no landmark branches, no projectors, heat maps from the target annotations
(docs/method.md §9). BP4D → EmotioNet by default; override data.* for DISFA.
"""

from configs import bp4d_emotionet


def get_config():
  c = bp4d_emotionet.get_config()
  c.ablation = 'A'
  c.model.target_path = 'reconstruction'  # ADLD's test path, whatever default.py ships
  return c
