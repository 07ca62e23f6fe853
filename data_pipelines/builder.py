"""TFDS builder of the aligned data sets that training reads.

One builder, `aligned_faces`, with one config per prepared data set (the `--name` of
`prepare`): files land in DATA_DIR/aligned_faces/NAME/1.0.0/. Readers run before the
builder (so bad input fails fast); the config carries their Plan. Reading needs no
builder class: `tfds.builder_from_directory` opens the folder.
"""

import collections
import dataclasses
import functools
import os

from etils import epath
import numpy as np
import tensorflow_datasets as tfds
from tqdm import tqdm

from au_jax.geometry import landmarks as lm
from au_jax import metadata as meta
from data_pipelines import parallel
from data_pipelines import process
from au_jax.errors import DataError
from data_pipelines.plan import Plan

CACHE_DIR = '.prepare_cache'


@dataclasses.dataclass(eq=False)
class AlignedFacesConfig(tfds.core.BuilderConfig):
  """plan: records per split; options: alignment; extra: copied into the metadata."""
  # Not in the config's text (TFDS logs str(config)): the plan lists every record.
  plan: Plan | None = dataclasses.field(default=None, repr=False)
  options: process.ProcessOptions = process.ProcessOptions()
  extra: dict = dataclasses.field(default_factory=dict)
  detect: object = None  # detect_faces(image) -> [(box, landmarks68)], for dlib.
  workers: int = 1
  progress: bool = True
  cache_key: dict = dataclasses.field(default_factory=dict, repr=False)
  beam: bool = False  # a Beam pipeline (data_pipelines/beam.py) instead of local workers
  runner: object = dataclasses.field(default=None, repr=False)  # a started ChunkRunner


def labels_of(labels, au_ids):
  """(values, mask) int32 vectors over `au_ids` of a record's {au: 0/1} labels."""
  values = np.array([labels.get(a, 0) for a in au_ids], np.int32)
  mask = np.array([a in labels for a in au_ids], np.int32)
  return values, mask


def example_of(record, result, au_ids):
  """(key, example, au, au_mask, pseudo, pseudo_mask) of a kept record's (png, points)."""
  png, points = result
  au, au_mask = labels_of(record.labels, au_ids)
  pseudo, pseudo_mask = labels_of(record.pseudo, au_ids)
  example = {'image': png, 'landmarks': points, 'au': au, 'au_mask': au_mask,
             'pseudo_au': pseudo, 'pseudo_mask': pseudo_mask, 'subject': record.subject,
             'domain': record.domain, 'source': record.source}
  return record.key, example, au, au_mask, pseudo, pseudo_mask


class AlignedFaces(tfds.core.GeneratorBasedBuilder):
  """Aligned face images with 49 landmarks, AU labels and masks."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Aligned faces (ADLD align_face_49pts), AU labels + masks.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  BP4D, DISFA and EmotioNet cannot be downloaded automatically: their licences need a
  signed agreement. Request them from their authors:
    BP4D-Spontaneous: Binghamton University, Lijun Yin's group
      (cs.binghamton.edu/~lijun/Research/3DFE/3DFE_Analysis.html).
    DISFA: Mohammad Mahoor's group, University of Denver (mohammadmahoor.com/disfa).
    EmotioNet: Aleix Martinez's group, Ohio State University
      (cbcsl.ece.ohio-state.edu/dbform_emotionet.html).
  Keep them in their distributed layout and pass the folder with
  `au-jax prepare --format bp4d|disfa|emotionet --input FOLDER`; docs/data_formats.md
  lists the files each format expects. Any other data set goes through a manifest CSV
  (`--format manifest`).
  """

  @tfds.core.utils.classproperty
  @classmethod
  def code_path(cls):
    # TFDS guesses this from the package, through `importlib_resources`, which is not
    # always installed; the builder's own file is the answer anyway.
    return epath.Path(__file__)

  def _info(self):
    config = self.builder_config
    size = config.options.aligned_size
    n_au = len(config.plan.au_ids) if config.plan else None
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(size, size, 3), encoding_format='png'),
            'landmarks': tfds.features.Tensor(shape=(lm.NUM_LANDMARKS, 2),
                                              dtype=np.float32),
            'au': tfds.features.Tensor(shape=(n_au,), dtype=np.int32),
            'au_mask': tfds.features.Tensor(shape=(n_au,), dtype=np.int32),
            'pseudo_au': tfds.features.Tensor(shape=(n_au,), dtype=np.int32),
            'pseudo_mask': tfds.features.Tensor(shape=(n_au,), dtype=np.int32),
            'subject': tfds.features.Text(),
            'domain': tfds.features.Text(),
            'source': tfds.features.Text(),
        }),
        metadata=tfds.core.MetadataDict(),
        description='Faces aligned on 49 landmarks for AU detection (au_jax).',
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # The readers have read the input already (see the config's plan).
    if self.builder_config.plan is None:
      raise DataError('the aligned_faces builder is made by `au-jax prepare`')
    self._counts = {}
    config = self.builder_config
    if config.beam:
      from data_pipelines import beam  # pylint: disable=g-import-not-at-top
      au_ids = tuple(config.plan.au_ids)
      return {split: beam.generate_examples(
          split, records, config.options, config.detect, self.cache_dir, config.cache_key,
          functools.partial(example_of, au_ids=au_ids))
              for split, records in config.plan.splits.items()}
    return {split: self._generate_examples(split, records)
            for split, records in config.plan.splits.items()}

  def _process_pipeline_result(self, pipeline_result):
    """After a Beam run: the counts from its counters, then metadata.json's content."""
    from data_pipelines import beam  # pylint: disable=g-import-not-at-top
    config = self.builder_config
    counts = beam.counts_from_result(pipeline_result, list(config.plan.splits),
                                     len(config.plan.au_ids))
    for split, count in counts.items():
      _check_not_empty(split, count)
    self._counts = counts
    self._write_metadata()

  def _write_metadata(self):
    config = self.builder_config
    self.info.metadata.update(meta.build(
        config.plan.au_ids, config.options.aligned_size, self._counts,
        {'folds_subjects': config.plan.folds, **config.extra}))

  @property
  def cache_dir(self):
    return os.path.join(os.path.dirname(self.data_path), CACHE_DIR)

  def _generate_examples(self, split, records):
    config = self.builder_config
    cache = process.ChunkCache(self.cache_dir, config.options, config.cache_key)
    n_au = len(config.plan.au_ids)
    count = {'read': len(records), 'examples': 0, 'positives': np.zeros(n_au, np.int64),
             'labelled': np.zeros(n_au, np.int64),
             'pseudo_positives': np.zeros(n_au, np.int64),
             'pseudo_labelled': np.zeros(n_au, np.int64),
             'skipped': collections.Counter()}
    bar = tqdm(total=len(records), desc=f'aligning {split}', unit='img',
               disable=not config.progress)
    chunks = [(chunk, cache.path(split, chunk)) for chunk in process.chunks(records)]
    yield from self._examples(self.runner.run(chunks, cache), count, bar)
    bar.close()
    count = {k: (v.tolist() if isinstance(v, np.ndarray) else dict(v) if isinstance(
        v, collections.Counter) else v) for k, v in count.items()}
    _check_not_empty(split, count)
    self._counts[split] = count
    if len(self._counts) == len(config.plan.splits):
      self._write_metadata()

  def _examples(self, chunk_results, count, bar):
    """The examples of processed chunks; counts kept records and skips by reason."""
    for chunk, results in chunk_results:
      for record, result in zip(chunk, results):
        if isinstance(result, str):
          count['skipped'][result] += 1
          continue
        key, example, au, au_mask, pseudo, pseudo_mask = example_of(
            record, result, self.builder_config.plan.au_ids)
        count['examples'] += 1
        count['positives'] += au * au_mask
        count['labelled'] += au_mask
        count['pseudo_positives'] += pseudo * pseudo_mask
        count['pseudo_labelled'] += pseudo_mask
        yield key, example
      bar.update(len(chunk))

  @property
  def runner(self):
    """The worker processes, shared by every split: the config's (started by prepare
    while it set up), else started at the first chunk."""
    if getattr(self, '_runner', None) is None:
      config = self.builder_config
      self._runner = config.runner or parallel.make_runner(
          config.options, config.detect, config.workers, config.plan.splits)
    return self._runner

  def close_runner(self, cancel=False):
    """Stops the worker processes (`cancel`: drop the chunks not started)."""
    runner = getattr(self, '_runner', None) or self.builder_config.runner
    if runner is not None:
      runner.close(cancel)
    self._runner = None

  def _log_download_bytes(self):
    pass  # prepare prints its own summary instead of TFDS's "Downloading..." lines.

  def _log_download_done(self):
    pass

  def remove_cache(self):
    cache = epath.Path(self.cache_dir)
    if cache.exists():
      cache.rmtree()


def _check_not_empty(split, count):
  if not count['examples']:
    skipped = ', '.join(f'{r}: {n}' for r, n in sorted(count['skipped'].items()))
    raise DataError(f'split {split!r} is empty: all {count["read"]} record(s) were '
                    f'skipped ({skipped})')
