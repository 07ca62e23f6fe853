"""The source-only baseline: E_f^s + E_au trained on source labels, no adaptation;
target images are evaluated through the same source path. BP4D → EmotioNet by default."""

from configs import bp4d_emotionet


def get_config():
  c = bp4d_emotionet.get_config()
  c.ablation = 'source_only'
  return c
