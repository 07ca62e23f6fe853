"""benchmarks/plot_calibrated.py: the differences per level, the crossover R*, the figure."""

import json

from benchmarks import plot_calibrated


def diff(row, mean, low, high, seeds=3):
  return {'row': row, 'metric': 'auc', 'split': 'target_test', 'mean': mean,
          'interval': [low, high], 'per_seed': [[s, mean, None] for s in range(seeds)]}


def test_points_crossover_and_figure(tmp_path):
  levels = {'0.25': (-4.0, -6.0, -2.0), '0.50': (1.0, -1.0, 3.0),
            '0.75': (4.0, 1.0, 7.0), 'exact': (8.0, 5.0, 11.0)}
  for name, (mean, low, high) in levels.items():
    (tmp_path / f'table7_calibrated_r{name}_differences.json').write_text(json.dumps(
        {'source_only/auc': {'samples': 10, 'rows': [diff('default', mean, low, high)]}}))
  (tmp_path / 'table7_protocol_differences.json').write_text(json.dumps(
      {'source_only/auc': {'samples': 10, 'rows': [diff('default', -11.0, -19.0, -3.0)]}}))
  (tmp_path / 'landmark_error_synthau_lab.json').write_text(json.dumps(
      {'retention_all': 0.5}))
  series = plot_calibrated.points(tmp_path)
  assert [p[0] for p in series['default']] == [0.25, 0.5, 0.75, 1.0]
  assert plot_calibrated.crossover(series['default']) == 0.75
  out = tmp_path / 'plot.png'
  plot_calibrated.plot(out, tmp_path)
  assert out.stat().st_size > 1000
  never = [(0.25, -1, -2, 0, 3), (1.0, 1, -1, 3, 3)]
  assert plot_calibrated.crossover(never) is None
