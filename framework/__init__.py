"""friedel: X-ray diffraction data processing as a plugin framework.

The kernel (this package) holds the data model, the reflection table, DIALS-compatible
file I/O, the parameter system, the plugin manager, the CLI and parallel execution.
Algorithms live in :mod:`friedel.plugins`, image formats in :mod:`friedel.formats`.
"""

import os as _os
import tempfile as _tempfile

__version__ = "0.1.0"


def _ensure_numba_cache_dir() -> None:
    """numba's cache must be writable, or caching functions fail at import and a whole plugin
    (spot finding) disappears. Where neither the installed package nor HOME is writable, cache
    in a per-user temporary folder instead."""
    if _os.environ.get("NUMBA_CACHE_DIR"):
        return
    here = _os.path.dirname(_os.path.abspath(__file__))
    home = _os.path.expanduser("~")
    if _os.access(here, _os.W_OK) or (_os.path.isdir(home) and _os.access(home, _os.W_OK)):
        return
    folder = _os.path.join(_tempfile.gettempdir(), f"friedel-numba-cache-{_os.getuid() if hasattr(_os, 'getuid') else 0}")
    _os.makedirs(folder, exist_ok=True)
    _os.environ["NUMBA_CACHE_DIR"] = folder


_ensure_numba_cache_dir()


def _quiet_interrupt_when_run_as_friedel() -> None:
    """Ctrl-C while the ``friedel`` program is still importing its modules (before the CLI's own
    handler is in place) prints one line, not a traceback. Only for the friedel program itself:
    importing friedel as a library changes nothing."""
    import sys

    program = _os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if not (program == "friedel" or program.startswith("friedel.")):
        return
    previous = sys.excepthook

    def hook(kind, value, traceback):
        if issubclass(kind, KeyboardInterrupt):
            sys.stderr.write("friedel: interrupted\n")
            return
        previous(kind, value, traceback)

    sys.excepthook = hook


_quiet_interrupt_when_run_as_friedel()
