"""User-facing errors.

A :class:`FriedelError` is a problem with the user's input or data. The CLI prints its
message as one line (no traceback unless ``--debug``) and exits non-zero, so the message
must say what is wrong and what to do about it.
"""


class FriedelError(Exception):
    """An error caused by input, parameters or data, reported to the user in one line."""


class ParameterError(FriedelError):
    """An unknown, ambiguous or badly-typed parameter."""


class FileFormatError(FriedelError):
    """A file that cannot be read: missing, truncated, corrupt or of an unknown format."""
