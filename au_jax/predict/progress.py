"""What a run of `au-jax predict` tells the user: progress bars while it runs, and the
`Summary` it prints at the end (counts, rates, where the time went, unread files).
"""

import collections
import dataclasses
import os
import sys

from tqdm import tqdm


def progress_bar(progress, total, description, unit):
  """A tqdm bar on stderr (disabled unless `progress`), named after the file."""
  return tqdm(total=total, desc=os.path.basename(description), unit=unit,
              disable=not progress, dynamic_ncols=True, leave=False, file=sys.stderr)


@dataclasses.dataclass
class Summary:
  """What a run did, counted as it goes; `report()` is what `au-jax predict` prints."""
  images: int = 0
  frames: int = 0               # video frames processed
  faces: int = 0
  without_face: int = 0
  unreadable: list = dataclasses.field(default_factory=list)  # (path, reason)
  seconds: float = 0.0
  timer: dict = dataclasses.field(default_factory=lambda: collections.defaultdict(float))
  detector_note: str = ''       # e.g. how often auto's CNN stage ran
  detected: int = 0             # video frames the detector ran on
  followed: int = 0             # faces followed between detections (--detect-every)
  detect_every: int = 1
  plots: str = ''               # where --plot wrote

  def report(self):
    n, t = self.images + self.frames, self.seconds
    share = {k: 100 * self.timer[k] / t if t > 0 else 0.0 for k in ('detection', 'network')}
    rate = n / t if t > 0 else float('nan')
    lines = [f'{self.images} images and {self.frames} video frames, {self.faces} faces '
             f'({self.without_face} without a face) in {t:.1f}s: {rate:.1f} frames/s; '
             f'face detection and landmarks {share["detection"]:.0f}%, network '
             f'{share["network"]:.0f}% of the time (in videos the two overlap; '
             f'compilation {self.timer["compile"]:.1f}s before, not counted)']
    if self.detect_every > 1 and self.frames:
      lines.append(f'--detect-every {self.detect_every}: the detector ran on '
                   f'{self.detected} of {self.frames} video frames; {self.followed} faces '
                   'were followed from the frame before')
    if self.detector_note:
      lines.append(self.detector_note)
    if self.plots:
      lines.append(self.plots)
    if self.unreadable:
      lines.append(f'could not read {len(self.unreadable)} file(s): ' + '; '.join(
          f'{p} ({why})' for p, why in self.unreadable))
    return '\n'.join(lines)
