"""The one base class of errors that are the user's input, not a bug.

`au-jax` prints a `UserError` as `au-jax COMMAND: error: <message>` and exits with
status 2, so a message fits on one line and names the file, field or option at fault.
Each floor keeps its own subclass (`ConfigError`, `DataError`, `GeometryError`,
`InputError`); this module imports nothing, so every floor can build on it.
"""


class UserError(Exception):
  """Bad user input: a missing or malformed file, a config value or option that cannot
  work, a face that is not found."""


class InputError(UserError, ValueError):
  """A wrong path, image, run or option given to a command; the message says which."""
