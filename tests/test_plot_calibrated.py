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
      {'source_only/auc': {'samples': 10, 'rows': [diff('default', -11.0, -19.0, -3.0),
                                                   diff('default+direct', 9.0, 1.0, 17.0)]}}))
  (tmp_path / 'landmark_error_synthau_lab.json').write_text(json.dumps(
      {'retention_all': 0.5}))
  series = plot_calibrated.points(tmp_path)
  assert [p[0] for p in series['default']] == [0.25, 0.5, 0.75, 1.0]
  assert plot_calibrated.crossover(series['default']) == 0.75
  out = tmp_path / 'plot.png'
  # dlib's marker for row default is table7_protocol.json's default+direct (the same
  # settings), not its 'default' (the earlier two-extractor reconstruction path).
  assert plot_calibrated.dlib_point('default', tmp_path)[1] == 9.0
  plot_calibrated.plot(out, tmp_path)
  assert out.stat().st_size > 1000
  never = [(0.25, -1, -2, 0, 3), (1.0, 1, -1, 3, 3)]
  assert plot_calibrated.crossover(never) is None


def test_r_star_interpolates_and_says_when_it_is_off_the_grid():
  rs = [0.25, 0.5, 0.75, 1.0]
  assert plot_calibrated.crossing(rs, [-4.0, 1.0, 4.0, 8.0]) == 0.25 + 0.25 * 4 / 5
  # Above 0 for good only after the last dip.
  assert plot_calibrated.crossing(rs, [2.0, -2.0, 2.0, 3.0]) == 0.625
  assert plot_calibrated.crossing(rs, [1.0, 2.0, 3.0, 4.0]) == float('-inf')
  assert plot_calibrated.crossing(rs, [1.0, 2.0, 3.0, -1.0]) == float('inf')
  series = [(0.25, -4.0, -6.0, -2.0, 3), (0.5, 1.0, -1.0, 3.0, 3),
            (0.75, 4.0, 1.0, 7.0, 3), (1.0, 8.0, 5.0, 11.0, 3)]
  estimate, low, high = plot_calibrated.r_star(series)
  # The upper end crosses first, the lower end last.
  assert low == 0.25 + 0.25 * 2 / 5 and high == 0.5 + 0.25 * 1 / 2 and low < estimate < high
  assert [plot_calibrated.describe(x, rs) for x in (float('-inf'), float('inf'), 0.4)] == [
      '< 0.25', '> 1', '0.40']


def test_one_seed_takes_its_bootstrap_interval(tmp_path):
  one = {'row': 'default', 'metric': 'auc', 'split': 'target_test', 'mean': 3.0,
         'interval': [float('nan'), float('nan')], 'per_seed': [[0, 3.0, [1.0, 5.0]]]}
  (tmp_path / 'table7_calibrated_r0.50_differences.json').write_text(json.dumps(
      {'source_only/auc': {'samples': 10, 'rows': [one]}}))
  assert plot_calibrated.points(tmp_path)['default'] == [(0.5, 3.0, 1.0, 5.0, 1)]
  kept = plot_calibrated.summary(tmp_path)['default']
  assert kept['r_star'] == '< 0.5' and kept['first_level_above_zero'] == 0.5
