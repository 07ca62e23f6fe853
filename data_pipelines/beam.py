"""`prepare --beam`: the same per-record work as a Beam pipeline, through TFDS's Beam
support (DirectRunner on one machine; Dataflow, Flink or Spark on many).

The builder's `_generate_examples` returns a PTransform instead of a generator: chunks
of records (process.chunks) are spread over Beam's workers, each worker builds its own
detector once (`DoFn.setup`) and runs process.process_chunk on them, and TFDS's Beam
writer shuffles and shards the examples as the local path does. What the local path
counts in Python (kept records, positives per AU, skips by reason) is counted here
with Beam counters, which the builder reads from the pipeline's result to write
metadata.json. Needs the `beam` extra: `pip install -e ".[beam]"`.
"""

import collections

import numpy as np

from au_jax import errors
from data_pipelines import parallel
from data_pipelines import process

NAMESPACE = 'au_jax.prepare'
INSTALL = 'pip install -e ".[beam]"'


def apache_beam():
  """The apache_beam module, or a one-line MissingPackage error."""
  return errors.require('apache_beam', 'prepare --beam', INSTALL)


def pipeline_options(text):
  """PipelineOptions from 'runner=DirectRunner,direct_num_workers=2' (the format of
  TFDS's --beam_pipeline_options); '' gives Beam's defaults (the DirectRunner)."""
  options = apache_beam().options.pipeline_options
  flags = [f'--{item.strip()}' for item in (text or '').split(',') if item.strip()]
  if not any(f.startswith('--default_sdk_harness_log_level') for f in flags):
    flags.append('--default_sdk_harness_log_level=WARNING')  # workers' INFO lines
  return options.PipelineOptions(flags=flags)


def counter_name(split, what, index=None):
  """A counter's name: 'train/examples', 'train/positives/3', 'train/skipped/no face'."""
  return f'{split}/{what}' + ('' if index is None else f'/{index}')


def generate_examples(split, records, options, detect, cache_dir, cache_key, example_of):
  """The PTransform that turns `records` of `split` into (key, example) pairs.

  detect: a DetectorSpec (built on each worker) or None; example_of(record, result):
  the builder's (key, example, au, au_mask, pseudo, pseudo_mask) for a kept record.
  """
  beam = apache_beam()
  chunks = process.chunks(records)

  class ProcessChunks(beam.DoFn):
    """One chunk of records in, its kept examples out; skips and labels counted."""

    def setup(self):
      import cv2  # pylint: disable=g-import-not-at-top
      cv2.setNumThreads(1)  # One core per Beam worker.
      process.keep_freed_memory()
      self.detect = detect.build() if isinstance(detect, parallel.DetectorSpec) else detect
      self.cache = process.ChunkCache(cache_dir, options, cache_key)
      self.counters = {}

    def count(self, name, n=1):
      if name not in self.counters:
        self.counters[name] = beam.metrics.Metrics.counter(NAMESPACE, name)
      self.counters[name].inc(int(n))

    def process(self, chunk):
      path = self.cache.path(split, chunk)  # the local path's cache, so a rerun resumes
      results = self.cache.load(path)
      if results is None:
        results = process.process_chunk(chunk, options, self.detect)
        self.cache.save(path, results)
      self.count(counter_name(split, 'read'), len(chunk))
      for record, result in zip(chunk, results):
        if isinstance(result, str):
          self.count(counter_name(split, 'skipped', result))
          continue
        key, example, au, au_mask, pseudo, pseudo_mask = example_of(record, result)
        self.count(counter_name(split, 'examples'))
        for what, values in (('positives', au * au_mask), ('labelled', au_mask),
                             ('pseudo_positives', pseudo * pseudo_mask),
                             ('pseudo_labelled', pseudo_mask)):
          for i in np.flatnonzero(values):
            self.count(counter_name(split, what, int(i)), values[i])
        yield key, example

  # Reshuffle: the chunks leave the one Create step and spread over the workers.
  return (f'chunks of {split}' >> beam.Create(chunks) | f'spread {split}' >> beam.Reshuffle()
          | f'align {split}' >> beam.ParDo(ProcessChunks()))


def counts_from_result(result, splits, n_au):
  """{split: the counts the local path keeps (builder._examples)} from Beam counters."""
  beam = apache_beam()
  query = result.metrics().query(beam.metrics.MetricsFilter().with_namespace(NAMESPACE))
  values = collections.defaultdict(int)
  for counter in query['counters']:
    value = counter.committed if counter.committed is not None else counter.attempted
    values[counter.key.metric.name] += int(value)
  counts = {}
  for split in splits:
    per_au = lambda what: [values[counter_name(split, what, i)] for i in range(n_au)]  # pylint: disable=cell-var-from-loop
    prefix = counter_name(split, 'skipped') + '/'
    counts[split] = {
        'read': values[counter_name(split, 'read')],
        'examples': values[counter_name(split, 'examples')],
        'positives': per_au('positives'), 'labelled': per_au('labelled'),
        'pseudo_positives': per_au('pseudo_positives'),
        'pseudo_labelled': per_au('pseudo_labelled'),
        'skipped': {name[len(prefix):]: n for name, n in sorted(values.items())
                    if name.startswith(prefix) and n}}
  return counts
