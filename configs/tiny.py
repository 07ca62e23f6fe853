"""A tiny config for tests: 32-pixel crops (8×8 maps), narrow modules, the paper's losses."""

from configs import default


def get_config():
  c = default.get_config()
  c.data.au_ids = (1, 2, 4)
  c.data.aligned_size = 36
  c.data.crop_size = 32
  c.model.landmark_channels = (4, 8, 8, 8, 8)
  c.model.landmark_dense = 16
  c.model.cbam_reduction = 4
  c.model.hidden = 8
  c.model.generator_channels = (8, 8, 8, 8)
  c.model.domain_channels = (8, 8, 8, 8)
  c.model.au_hidden = 8
  c.model.projector_hidden = 8
  c.stage1.batch_size = 2
  c.stage2.batch_size = 2
  # The paper's own choices, so the tests exercise the branch heat maps and ADLD's
  # statistics; configs/default.py ships measured ones (docs/results.md), which the tests
  # of au_jax/target_statistics.py set explicitly.
  c.loss.target_heatmaps = 'branch'
  c.train.target_path_statistics = 'mixed'
  c.train.source_path_statistics = 'mixed'
  # The paper's graph (two extractors, the reconstruction path), whatever
  # configs/default.py ships.
  c.model.share_feature_encoder = False
  c.model.target_path = 'reconstruction'
  return c
