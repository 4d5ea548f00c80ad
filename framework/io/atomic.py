"""Atomic output: write to a temporary file beside the target, then rename over it.

Outputs that belong together (``indexed.expt`` and ``indexed.refl``) are committed together::

    with committed_together():
        write_experiments(experiments, "indexed.expt")
        write_reflections(reflections, "indexed.refl")

Inside the block each file is written to its temporary name; only when the block ends without
an error are all of them renamed into place, so a failure (a full disk, Ctrl-C) leaves either
every new file or none of them, never a new ``.expt`` beside an old ``.refl``.

Files are created with the permissions the user's umask gives (``0666 & ~umask``), as any other
program's output, not the private mode of a temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading

from friedel.errors import FriedelError

_group = threading.local()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_path(path) -> None:
    """Refuse an output path that cannot be written, before any work is done.

    An empty name, an existing directory of that name, a missing or unwritable folder each
    give a one-line error that says what to do.
    """
    text = os.fspath(path) if path is not None else ""
    if not str(text).strip():
        raise FriedelError("an output file name is empty; give a name, e.g. output.experiments=indexed.expt")
    if os.path.isdir(text):
        raise FriedelError(f"cannot write {text}: a directory of that name exists; remove it or choose another name")
    directory = os.path.dirname(os.path.abspath(text))
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise FriedelError(f"cannot write {text}: {directory} is a file, not a folder")
    probe = directory
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise FriedelError(f"cannot write {text}: the folder {probe} is not writable; choose another output folder")


def _write_error(path: str, exc: OSError) -> FriedelError:
    reason = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
              errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
              errno.EFBIG: "the file is larger than allowed (ulimit -f?)"}.get(exc.errno, exc.strerror or str(exc))
    return FriedelError(f"could not write {path}: {reason}; nothing was written")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb"):
    """Open a temporary file for writing; it replaces ``path`` only if the block succeeds.

    An interrupted or failing run therefore never leaves a half-written output. Inside
    :func:`committed_together` the rename waits until the whole group has been written.
    """
    path = os.fspath(path)
    check_output_path(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".friedel-", suffix=".tmp", dir=directory)
        os.chmod(tmp, 0o666 & ~_umask())
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        pending = getattr(_group, "pending", None)
        if pending is not None:
            pending.append((tmp, path))
        else:
            os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, (FileNotFoundError, IsADirectoryError)) or exc.errno is None:
            raise
        raise _write_error(path, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def committed_together():
    """Write several outputs as one: all are renamed into place at the end, or none is.

    Every ``friedel <command>`` runs inside one such group (the CLI opens it), so a command's
    outputs appear together when it finishes. A group opened inside another (a command run by
    ``process``) commits its own files when it ends.
    """
    outer = getattr(_group, "pending", None)
    _group.pending = group = []
    try:
        yield
    except BaseException:
        for tmp, _ in group:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    finally:
        _group.pending = outer
    done = 0
    try:
        for tmp, path in group:
            os.replace(tmp, path)
            done += 1
    except OSError as exc:
        for tmp, _ in group[done:]:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise _write_error(path, exc) from None


def check_not_overwriting_input(output: str, inputs) -> None:
    """Refuse to write an output over one of the command's input files."""
    out = os.path.realpath(output)
    for i in inputs:
        if i and os.path.exists(i) and os.path.realpath(i) == out:
            raise FriedelError(
                f"output {output} would overwrite the input file of the same name; choose another output name"
            )
