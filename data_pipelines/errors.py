"""The one exception of the data pipelines that is not a user error.

A bad input is `au_jax.errors.DataError` (one line from the CLI); a record that cannot be
used is skipped and counted, not fatal.
"""


class SkipRecord(Exception):
  """One record cannot be used; `prepare` counts it under `reason` and goes on."""

  def __init__(self, reason, detail=''):
    super().__init__(f'{reason}: {detail}' if detail else reason)
    self.reason = reason
    self.detail = detail
