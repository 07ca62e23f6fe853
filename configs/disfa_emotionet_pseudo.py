"""Table 3 "Ours-P": as disfa_emotionet.py plus target pseudo labels (docs/method.md §2.6)."""

from configs import disfa_emotionet


def get_config():
  c = disfa_emotionet.get_config()
  c.data.pseudo_labels = True
  return c
