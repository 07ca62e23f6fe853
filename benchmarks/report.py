"""The Markdown table of benchmarks/run.py's results."""


def _f(value, digits=2):
  if value is None:
    return 'n/a'
  if isinstance(value, float) and abs(value) >= 1000:
    return f'{value:,.0f}'
  return f'{value:.{digits}f}'


def format_table(results):
  env = results['environment']
  load = ' / '.join(f'{a:.2f}' for a in env['load_average_start'])
  load_end = ' / '.join(f'{a:.2f}' for a in env['load_average_end'])
  lines = [f'# au_jax benchmark: {env["device_count"]} × {env["device_kind"]} '
           f'({env["backend"]})', '',
           f'{env["date"]}; jax {env["jax"]}, Python {env["python"]}; {env["cpu_count"]} '
           f'CPUs ({env["cpu"]}); load average (1/5/15 min) {load} at the start, '
           f'{load_end} at the end{"; --quick" if results["quick"] else ""}. Peak FLOP/s '
           f'per device: {_f(env["peak_flops_per_device"])} ({env["peak_basis"]}).', '']
  if results.get('training'):
    lines += ['## Training steps', '',
              '| preset | stage | crop | batch | step (s) | images/s | compile (s) | '
              'GFLOP/step | achieved GFLOP/s | of matmul rate | of peak |',
              '|---|---|---|---|---|---|---|---|---|---|---|']
    matmul = results.get('matmul', {}).get('flops_per_s')
    stage_names = {'stage1': '1', 'stage2': '2', 'stage2_rowA': '2, row A (ADLD)'}
    for preset, r in results['training'].items():
      for stage, label in stage_names.items():
        if stage not in r:
          continue
        s = r[stage]
        frac = f'{100 * s["fraction_of_peak"]:.1f}%' if s['fraction_of_peak'] else \
            'unknown'
        share = (f'{100 * s["flops_per_s"] / matmul:.1f}%'
                 if matmul and s['flops_per_s'] else 'n/a')
        lines.append(
            f'| {preset} | {label} | {s["crop"]} | {s["batch"]} | {_f(s["step_s"], 3)} '
            f'| {_f(s["images_per_s"], 1)} | {_f(s["lower_s"] + s["compile_s"], 1)} | '
            f'{_f(s["flops_per_step"] / 1e9 if s["flops_per_step"] else None, 1)} | '
            f'{_f(s["flops_per_s"] / 1e9 if s["flops_per_s"] else None, 1)} | {share} | '
            f'{frac} |')
    if matmul:
      m = results['matmul']
      lines += ['', f'Matmul rate: a jitted {m["n"]}² float32 matmul on one device, '
                f'{_f(m["flops_per_s"] / 1e9, 1)} GFLOP/s in this run (median of the timed '
                'calls); "of matmul rate" is each step\'s achieved FLOP/s against it.']
    lines += ['', 'Step time: median of the timed calls after two warm-up calls; images/s: '
              'source images per second (each step also takes as many target images). '
              'Compile: tracing and lowering plus XLA compilation. FLOPs: XLA\'s cost '
              'analysis of the step lowered for one CPU device, before optimisation (a '
              'GPU\'s own analysis leaves out the convolutions that cuDNN does; the '
              'compiled program\'s count is in the JSON too). Model initialisation '
              '(jitted, as training does): ' + ', '.join(f'{p} {_f(r["init_s"], 1)} s'
                                    for p, r in results['training'].items()) + '.']
    lines += ['Each step is compiled once, ahead of time, and the timed calls run that '
              'executable (benchmarks/timing.py).', '']
  t = results.get('torch_reference')
  if t:
    lines += ['## The same row-A step in PyTorch (benchmarks/torch_reference.py)', '',
              '| framework | step (s) | GFLOP/step | achieved GFLOP/s | its 4096² matmul '
              'GFLOP/s | target path, batch 1, images/s |', '|---|---|---|---|---|---|']
    a = results['training'].get('paper', {}).get('stage2_rowA')
    infer = results.get('inference', {}).get('paper', {}).get('target_batch1_nolandmarks')
    if a:
      lines.append(f'| au_jax (jax {env["jax"]}) | {_f(a["step_s"], 3)} | '
                   f'{_f(a["flops_per_step"] / 1e9, 1)} | {_f(a["flops_per_s"] / 1e9, 1)} | '
                   f'{_f(results["matmul"]["flops_per_s"] / 1e9, 1)} | {_f(infer, 1)} |')
    lines.append(f'| PyTorch {t["torch"]}, {t["threads"]} threads | {_f(t["step_s"], 3)} | '
                 f'{_f(t["gflop_per_step"], 1)} | {_f(t["achieved_gflops"], 1)} | '
                 f'{_f(t["matmul_gflops"], 1)} | '
                 f'{_f(t["inference_target_batch1_images_per_s"], 1)} |')
    lines += ['', 'Row A at the paper\'s size, batch 8, ported op for op to PyTorch and '
              'timed in a subprocess right after the JAX step. PyTorch FLOPs: its '
              'FlopCounterMode, which counts the taps that read the zero padding too; '
              'XLA\'s cost analysis leaves them out, so the two counts of the same work '
              'differ by about 2 %.', '']
  if results.get('pipeline'):
    lines += ['## Input pipeline (tf.data) and prepare', '',
              '| preset | aligned → crop | batch | batches/s | images/s | prepare images/s |',
              '|---|---|---|---|---|---|']
    for preset, p in results['pipeline'].items():
      lines.append(f'| {preset} | {p["aligned"]} → {p["crop"]} | {p["batch"]} | '
                   f'{_f(p["batches_per_s"], 1)} | {_f(p["images_per_s"], 0)} | '
                   f'{_f(p["prepare_images_per_s"], 1)} |')
    p = next(iter(results['pipeline'].values()))
    lines += ['', f'prepare: {p["prepare_images"]} faces from {p["prepare_source"]} '
              f'images, {p["prepare_workers"]} workers.', '']
  if results.get('inference'):
    lines += ['## Inference (network only, random weights)', '',
              '| preset | path | ' + ' | '.join(
                  f'batch {b} images/s' for b in results['inference_batches']) + ' |',
              '|---|---|' + '---|' * len(results['inference_batches'])]
    for preset, r in results['inference'].items():
      for path in ('source', 'target'):
        for suffix, label in (('', ''), ('_nolandmarks', ', no model landmarks')):
          if f'{path}_batch{results["inference_batches"][0]}{suffix}' not in r:
            continue
          lines.append(f'| {preset} | {path}{label} | ' + ' | '.join(
              _f(r[f'{path}_batch{b}{suffix}'], 1) for b in results['inference_batches'])
                       + ' |')
    lines.append('')
  if results.get('scaling'):
    lines += ['## Multi-device stage-2 steps (same global batch)', '',
              '| devices | kind | per-device batch | step (s) | vs 1 device | compile (s) | '
              'max param diff vs 1 device | update mismatch | peak memory (MiB) |',
              '|---|---|---|---|---|---|---|---|---|']
    for run in results['scaling']:
      lines.append(f'| {run["devices"]} | {run["kind"]} | {run["per_device_batch"]} | '
                   f'{_f(run["step_s"], 3)} | {_f(run["step_ratio_vs_1"])}× | '
                   f'{_f(run["lower_s"] + run["compile_s"], 1)} | '
                   f'{run["max_param_diff"]:.1e} | {run["update_mismatch"]:.1e} | '
                   f'{run["peak_memory_mib"]:,.0f} |')
    run = results['scaling'][-1]
    lines += ['', f'configs/{run["config"]}, global batch {run["global_batch"]}; '
              f'parameters compared after {run["steps_compared"]} stage-2 steps from the '
              'same initialisation and batches. Max param diff: the largest absolute '
              f'difference (here in {run["worst_param"]}). Adam scales every gradient '
              'element to about ±lr, so elements whose true gradient is nearly zero turn '
              'the all-reduce\'s rounding noise into lr-sized steps of either sign: this '
              'number is a few learning rates whatever the code. Update mismatch: '
              '‖p_N − p_1‖ / ‖p_1 − p_init‖ over all parameters, the share of the '
              'training update that differs. Simulated CPU devices share the same cores: '
              'they check correctness and overhead, not speed.', '']
  lines += ['## Ratios', '', '| comparison | ratio |', '|---|---|']
  lines += [f'| {k} | {_f(v)}× |' for k, v in results['ratios'].items()]
  memory = ', '.join(f'{_f(v, 0)} MiB after {k}'
                     for k, v in results['peak_memory_mib'].items())
  lines += ['', f'Peak host memory of this process (getrusage): {memory}. Total time '
            f'{results["seconds"]:.0f} s.']
  return '\n'.join(lines) + '\n'
