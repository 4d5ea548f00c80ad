"""Atomic output: write to a temporary file beside the target, then rename over it."""

from __future__ import annotations

import contextlib
import os
import tempfile

from friedel.errors import FriedelError


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb"):
    """Open a temporary file for writing; it replaces ``path`` only if the block succeeds.

    An interrupted or failing run therefore never leaves a half-written output.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".friedel-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_not_overwriting_input(output: str, inputs) -> None:
    """Refuse to write an output over one of the command's input files."""
    out = os.path.realpath(output)
    for i in inputs:
        if i and os.path.exists(i) and os.path.realpath(i) == out:
            raise FriedelError(
                f"output {output} would overwrite the input file of the same name; choose another output name"
            )
