"""Step timing shared by the benchmarks: compile ahead of time, then time the calls.

The step is lowered and compiled once (`jax.jit(...).lower(...).compile()`) and the
compiled executable is what the timed calls run, so a call can never compile a second
program: an input with another shape or sharding raises instead. The state is placed
on the sharding the step returns before the first call, as the training loop does.
"""

import statistics
import time

import jax


def cost(stage):
  """(FLOPs, bytes accessed) of one call from XLA's cost analysis (per device) of a
  jax.stages Lowered or Compiled step."""
  analysis = stage.cost_analysis()
  if isinstance(analysis, (list, tuple)):  # older JAX: one dict per device program
    analysis = analysis[0] if analysis else {}
  analysis = analysis or {}
  return analysis.get('flops'), analysis.get('bytes accessed')


def compile_step(step, *args):
  """(lowered, compiled, lower seconds, compile seconds) of a jitted function."""
  start = time.perf_counter()
  lowered = step.lower(*args)
  lower_s = time.perf_counter() - start
  start = time.perf_counter()
  compiled = lowered.compile()
  return lowered, compiled, lower_s, time.perf_counter() - start


def time_steps(compiled, state, batches, iters, warmup=2):
  """Calls `compiled(state, batch)` `warmup` then `iters` times, each waiting for the
  result; returns (final state, warm-up seconds, timed seconds, their median)."""
  def call(state, batch):
    start = time.perf_counter()
    state, logs = compiled(state, batch)
    jax.block_until_ready((state, logs))
    return state, time.perf_counter() - start

  warm, times = [], []
  for i in range(warmup):
    state, t = call(state, batches[i % len(batches)])
    warm.append(t)
  for i in range(iters):
    state, t = call(state, batches[i % len(batches)])
    times.append(t)
  return state, warm, times, statistics.median(times) if times else None
