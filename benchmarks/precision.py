"""float32 against config.half_precision (bfloat16 activations): stage-2 step time.

    python benchmarks/precision.py [--preset small|paper] [--iters 10] [--rounds 2]

Times the two precisions alternately (fp32, bf16, fp32, bf16, ...) so that a change in
the machine's load hits both, and prints each round and the ratio of medians. On a CPU
without fast bfloat16 units expect no gain; on TPUs and recent GPUs bf16 halves the
activation traffic and runs on the matrix units.
"""

import argparse
import functools
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from au_jax import config_lib, train  # pylint: disable=g-import-not-at-top,wrong-import-position
from benchmarks import run  # pylint: disable=g-import-not-at-top,wrong-import-position


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--preset', default='small', choices=sorted(run.PRESETS))
  parser.add_argument('--iters', type=int, default=10)
  parser.add_argument('--rounds', type=int, default=2)
  args = parser.parse_args(argv)
  times = {False: [], True: []}
  for r in range(args.rounds):
    for half in (False, True):
      config = run.load_config(args.preset)
      config.half_precision = half
      model = config_lib.create_model(config)
      variables = jax.jit(functools.partial(train.init_variables, model, config))(
          jax.random.key(0))
      result = run.measure_step(model, config, variables, 2, run.PRESETS[args.preset][1],
                                args.iters)
      times[half].append(result['step_s'])
      print(f"round {r + 1} {'bfloat16' if half else 'float32 '}: "
            f"{result['step_s']:.3f} s/step (compile {result['compile_s']:.1f} s)", flush=True)
  fp32, bf16 = np.median(times[False]), np.median(times[True])
  print(f'{args.preset}, stage 2, {jax.devices()[0].device_kind}: float32 {fp32:.3f} s, '
        f'bfloat16 {bf16:.3f} s per step; bf16 is {fp32 / bf16:.2f}× the speed of float32 '
        f'(load average {os.getloadavg()[0]:.1f})')


if __name__ == '__main__':
  main()
