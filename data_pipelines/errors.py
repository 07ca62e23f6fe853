"""The one exception type of the data pipelines.

The CLI prints `au-jax prepare: error: <message>` for it and exits with status 2, so a
message must fit on one line and name the file (and row) at fault.
"""


from au_jax.errors import UserError


class DataError(UserError):
  """Bad user input: a missing file, a malformed row, an impossible request."""


class SkipRecord(Exception):
  """One record cannot be used; `prepare` counts it under `reason` and goes on."""

  def __init__(self, reason, detail=''):
    super().__init__(f'{reason}: {detail}' if detail else reason)
    self.reason = reason
    self.detail = detail
