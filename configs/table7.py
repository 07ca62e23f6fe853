"""Table 7's rows as a config: `--config configs/table7.py:ROW` (docs/method.md §9).

  au-jax train --config configs/table7.py:A --workdir runs/A      # ADLD on BP4D → EmotioNet
  au-jax train --config configs/synthetic.py --config.ablation=G  # a row on another config

What each letter switches is au_jax/ablations.py, the one place that says it: A is ADLD
(the paper's baseline BL), B–G add the paper's components in Table 7's order, '' is the
full method (= G) and 'source_only' the baseline without adaptation. The rows start from
configs/paper.py, the paper's own choices (two extractors where a row does not share
one, branch heat maps, ADLD's statistics, the reconstruction path), on BP4D → EmotioNet.
"""

from configs import paper


def get_config(row='G'):
  c = paper.get_config()
  c.data.data_dir = 'data/prepared'
  c.ablation = row
  return c
