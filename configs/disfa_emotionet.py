"""Table 3 "Ours": DISFA (source, fold 0 of 3; intensity ≥ 2 positive) → EmotioNet."""

from configs import default


def get_config():
  c = default.get_config()
  c.data.data_dir = 'data/prepared'
  c.data.source = 'disfa'
  c.data.au_ids = (4, 6, 12, 25, 26)
  return c
