"""Table 7's rows as a config: `--config configs/table7.py:ROW` (docs/method.md §9).

  au-jax train --config configs/table7.py:A --workdir runs/A      # ADLD on BP4D → EmotioNet
  au-jax train --config configs/synthetic.py --config.ablation=G  # a row on another config

What each letter switches is au_jax/ablations.py, the one place that says it: A is ADLD
(the paper's baseline BL), B–G add the paper's components in Table 7's order, '' is the
full method (= G) and 'source_only' the baseline without adaptation.
"""

from configs import bp4d_emotionet


def get_config(row='G'):
  c = bp4d_emotionet.get_config()
  c.ablation = row
  return c
