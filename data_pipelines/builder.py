"""TFDS builder of the aligned data sets that training reads.

One builder, `aligned_faces`, with one config per prepared data set (the `--name` of
`prepare`): files land in DATA_DIR/aligned_faces/NAME/1.0.0/. Readers run before the
builder (so bad input fails fast); the config carries their Plan. Reading needs no
builder class: `tfds.builder_from_directory` opens the folder.
"""

import collections
import dataclasses
import os

from etils import epath
import numpy as np
import tensorflow_datasets as tfds
from tqdm import tqdm

from au_jax.geometry import landmarks as lm
from data_pipelines import metadata as meta
from data_pipelines import parallel
from data_pipelines import process
from data_pipelines.errors import DataError
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
    return {split: self._generate_examples(split, records)
            for split, records in self.builder_config.plan.splits.items()}

  @property
  def cache_dir(self):
    return os.path.join(os.path.dirname(self.data_path), CACHE_DIR)

  def _labels(self, labels):
    au_ids = self.builder_config.plan.au_ids
    values = np.array([labels.get(a, 0) for a in au_ids], np.int32)
    mask = np.array([a in labels for a in au_ids], np.int32)
    return values, mask

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
    if not count['examples']:
      skipped = ', '.join(f'{r}: {n}' for r, n in sorted(count['skipped'].items()))
      raise DataError(f'split {split!r} is empty: all {len(records)} record(s) were '
                      f'skipped ({skipped})')
    self._counts[split] = {
        k: (v.tolist() if isinstance(v, np.ndarray) else dict(v) if isinstance(
            v, collections.Counter) else v) for k, v in count.items()}
    if len(self._counts) == len(config.plan.splits):
      self.info.metadata.update(meta.build(
          config.plan.au_ids, config.options.aligned_size, self._counts,
          {'folds_subjects': config.plan.folds, **config.extra}))

  def _examples(self, chunk_results, count, bar):
    """The examples of processed chunks; counts kept records and skips by reason."""
    for chunk, results in chunk_results:
      for record, result in zip(chunk, results):
        if isinstance(result, str):
          count['skipped'][result] += 1
          continue
        png, points = result
        au, au_mask = self._labels(record.labels)
        pseudo, pseudo_mask = self._labels(record.pseudo)
        count['examples'] += 1
        count['positives'] += au * au_mask
        count['labelled'] += au_mask
        count['pseudo_positives'] += pseudo * pseudo_mask
        count['pseudo_labelled'] += pseudo_mask
        yield record.key, {
            'image': png, 'landmarks': points, 'au': au, 'au_mask': au_mask,
            'pseudo_au': pseudo, 'pseudo_mask': pseudo_mask, 'subject': record.subject,
            'domain': record.domain, 'source': record.source}
      bar.update(len(chunk))

  @property
  def runner(self):
    """The worker processes, started at the first chunk and shared by every split."""
    if getattr(self, '_runner', None) is None:
      config = self.builder_config
      # A chunk is a worker's task, and starting a worker takes a second or two: an
      # input of one chunk is done in this process.
      total = sum(len(process.chunks(records)) for records in config.plan.splits.values())
      workers = min(config.workers, total)
      detect = config.detect
      if workers <= 1 and isinstance(detect, parallel.DetectorSpec):
        detect = detect.build()
      self._runner = parallel.ChunkRunner(config.options, detect, workers)
    return self._runner

  def close_runner(self, cancel=False):
    """Stops the worker processes (`cancel`: drop the chunks not started)."""
    if getattr(self, '_runner', None) is not None:
      self._runner.close(cancel)
      self._runner = None

  def _log_download_bytes(self):
    pass  # prepare prints its own summary instead of TFDS's "Downloading..." lines.

  def _log_download_done(self):
    pass

  def remove_cache(self):
    cache = epath.Path(self.cache_dir)
    if cache.exists():
      cache.rmtree()
