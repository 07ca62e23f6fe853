"""Table 2 "Ours-P": as bp4d_emotionet.py plus target pseudo labels (docs/method.md §2.6).

Prepare EmotioNet with OpenFace's AU occurrences as pseudo labels:
  au-jax prepare --format emotionet --input /data/EmotioNet --output data/prepared \
      --name emotionet --detect-landmarks --pseudo-labels openface_emotionet.csv
"""

from configs import bp4d_emotionet


def get_config():
  c = bp4d_emotionet.get_config()
  c.data.pseudo_labels = True
  return c
