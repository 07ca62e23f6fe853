"""SynthAU at 128-pixel crops and 32x32 heat maps: nearer the paper's 176/44, on a CPU.

configs/synthetic.py with SynthAU's `medium` preset (192-pixel drawings aligned to 144,
crops of 128, heat maps 32x32: a landmark's cell is 4 crop pixels, as at the paper's
size) and the wild landmarks of a detector, as EmotioNet's are:

  au-jax synth --preset medium --output data/synthau_medium --detect-wild-landmarks
  au-jax prepare --format manifest --input data/synthau_medium/lab/manifest.csv \
      --output data/prepared_medium --name synthau_lab --aligned-size 144
  au-jax prepare --format manifest --input data/synthau_medium/wild/manifest_detected.csv \
      --output data/prepared_medium --name synthau_wild_detected --aligned-size 144
  au-jax train --config configs/synthetic_medium.py --workdir runs/medium

Module widths stay a quarter of the paper's (a stage-2 step of 16 images is about 4x
the small preset's). Stage 2 runs three times as many epochs as configs/synthetic.py: at
its 8 epochs source-only's AU loss never left its plateau (lab-test F1 13.5; 16 epochs:
38.8; docs/results.md). Rates are configs/synthetic.py's.
"""

from configs import synthetic


def get_config():
  c = synthetic.get_config()
  c.data.data_dir = 'data/prepared_medium'
  c.data.target = 'synthau_wild_detected'
  c.data.aligned_size = 144
  c.data.crop_size = 128
  c.stage2.epochs = 24
  c.stage2.constant_epochs = 9
  c.stage2.decay_epochs = 15
  return c
