"""The one base class of errors that are the user's input, not a bug.

`au-jax` prints a `UserError` as `au-jax COMMAND: error: <message>` and exits with
status 2, so a message fits on one line and names the file, field or option at fault.
Each floor keeps its own subclass (`ConfigError`, `DataError`, `GeometryError`,
`InputError`); this module imports only the standard library, so every floor can build
on it. `require` turns a missing optional package into one such line with its install
command.
"""

import importlib


class UserError(Exception):
  """Bad user input: a missing or malformed file, a config value or option that cannot
  work, a face that is not found."""


class DataError(UserError):
  """A data set that cannot be read or prepared: a missing file, a malformed row, an
  impossible request. The message names the file (and row) at fault."""


class InputError(UserError, ValueError):
  """A wrong path, image, run or option given to a command; the message says which."""


class MissingPackage(UserError, ImportError):
  """An optional package that a command or benchmark needs is not installed."""


def require(module, what, install):
  """`import module`, or MissingPackage('<what> needs <module>; <install>')."""
  try:
    return importlib.import_module(module)
  except ImportError:
    raise MissingPackage(f'{what} needs the {module.split(".")[0]} package, which au_jax '
                         f'does not install by default; {install}') from None
