"""Readers turn a data set's distributed layout into a list of `records.Record`.

Each reader is a function `read(inputs, options) -> Source`; `inputs` are the paths
given with `--input`, `options` a ReadOptions. docs/data_formats.md
lists the files each one expects.
"""

import dataclasses

from data_pipelines.records import Record


@dataclasses.dataclass
class ReadOptions:
  """Reader settings from the `prepare` command line.

  image_root: folder that ADLD list paths are relative to.
  frame_step: keep every n-th video frame (BP4D, DISFA).
  max_train: EmotioNet: at most this many training images (random, seeded).
  seed: seeds the random choices above.
  need_landmarks: False when landmarks will come from face detection.
  aus: AU ids asked for with --aus (ADLD lists need them to name their columns).
  """
  image_root: str | None = None
  frame_step: int = 1
  max_train: int | None = None
  seed: int = 0
  need_landmarks: bool = True
  aus: list[int] | None = None


@dataclasses.dataclass
class Source:
  """What a reader found: the records and the AU ids its labels cover.

  `fold_lists` optionally fixes subject folds (BP4D/DISFA use the JAA-Net lists);
  `extra` is stored in the prepared metadata as is.
  """
  records: list[Record]
  au_ids: list[int]
  fold_lists: list[list[str]] | None = None
  extra: dict = dataclasses.field(default_factory=dict)


def get_reader(name):
  """The read function of a format name (imports lazily)."""
  # pylint: disable-next=g-import-not-at-top
  from data_pipelines.readers import adld, bp4d, disfa, emotionet, manifest
  return {'manifest': manifest.read, 'adld': adld.read, 'bp4d': bp4d.read,
          'disfa': disfa.read, 'emotionet': emotionet.read}[name]


FORMATS = ('manifest', 'adld', 'bp4d', 'disfa', 'emotionet')
