"""benchmarks/run.py's ratios and table with a PyTorch reference in the results."""

import copy
import json
import os

from benchmarks import report
from benchmarks import run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def results_with_torch():
  with open(os.path.join(REPO, 'benchmarks', 'results_cpu2.json'), encoding='utf-8') as f:
    results = json.load(f)
  results = copy.deepcopy(results)
  results['training']['paper']['stage2_rowA']['step_s'] = 4.0
  results['inference']['paper']['target_batch1_nolandmarks'] = 30.0
  results['torch_reference'] = {
      'torch': '9.9', 'threads': 2, 'step_s': 5.0, 'gflop_per_step': 608.1,
      'achieved_gflops': 121.6, 'matmul_gflops': 180.0,
      'inference_target_batch1_images_per_s': 20.0}
  return results


def test_ratios_compare_au_jax_with_the_pytorch_port():
  ratios = run.ratios(results_with_torch())
  assert ratios['paper: row A, PyTorch port / au_jax step time (>1: au_jax faster)'] == 1.25
  assert ratios['paper: inference target path batch 1, au_jax / PyTorch port images/s'] == 1.5
  plain = results_with_torch()
  del plain['torch_reference']
  assert not any('PyTorch' in k for k in run.ratios(plain))


def test_table_has_the_side_by_side_rows():
  results = results_with_torch()
  results['ratios'] = run.ratios(results)
  table = report.format_table(results)
  assert '## The same row-A step in PyTorch' in table
  assert '| PyTorch 9.9, 2 threads | 5.000 | 608.1 | 121.6 | 180.0 | 20.0 |' in table
  assert '| au_jax (jax ' in table and '| 4.000 | 594.6 |' in table
