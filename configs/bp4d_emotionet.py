"""Table 2's setting: BP4D (source, fold 0 of 3) → EmotioNet (target), with the shipped
choices of configs/default.py, including its measured deviations from the paper
(docs/results.md). For the paper's own choices use configs/paper.py with the same
data_dir (`--config.data.data_dir=data/prepared`).

Prepare the data first (docs/data_formats.md):
  au-jax prepare --format bp4d --input /data/BP4D --output data/prepared --name bp4d
  au-jax prepare --format emotionet --input /data/EmotioNet --output data/prepared \
      --name emotionet --detect-landmarks
Other folds: --config.data.source_train_split=fold0+fold2 --config.data.source_eval_splits=fold1
"""

from configs import default


def get_config():
  c = default.get_config()
  c.data.data_dir = 'data/prepared'
  return c
