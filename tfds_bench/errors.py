"""Exception types that mean "the user's input is wrong", not "the code is".

`bench_main` catches ``UserError`` (and so every subclass) and exits non-zero
with one clear line; library code raises them with a message that says what is
wrong, where, and how to fix it.
"""


class UserError(Exception):
  """A mistake in what the user asked for or gave us; the message says the fix."""


class MissingArchiveError(UserError, FileNotFoundError):
  """A released archive that a builder reads is not where it was looked for.

  The message names the file, the folder it was looked in, and where to get it.
  """


class DamagedInputError(UserError, ValueError):
  """An input archive or one of its members is corrupt, unsafe or unexpected.

  The message names the archive and the member, so the user can re-download or
  inspect the one file at fault; nothing is silently skipped or relabelled.
  """
