"""Run a friedel command on bad input and judge how it failed.

Every bad-input case must end the same way: a non-zero exit, **one** line on standard error that
names the file or parameter and says what is wrong, no traceback, no "internal error", every file
of the working folder unchanged and no new output (the command's log file aside).

:func:`outcome_class` sorts an outcome into the classes of issue 19 (``clean``, ``unclear``,
``traceback``, ``wrong-success``, ``data-loss``); :func:`assert_refused` asserts ``clean`` and
prints the class first in its failure message, so a run of the suite can be tallied.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

_CONSOLE = "from friedel.cli.main import console_main; console_main()"

#: files a failed command may leave: its log (it says what went wrong)
ALLOWED_NEW = ("friedel.", ".log")


@dataclass
class Outcome:
    args: list
    code: int
    stdout: str
    stderr: str
    changed: list = field(default_factory=list)   # files of the folder changed or deleted
    created: list = field(default_factory=list)   # new files other than the log
    seconds: float = 0.0

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines()
                if line.strip() and not line.startswith("friedel: warning:")]


def snapshot(folder: Path) -> dict:
    """path -> (size, sha1) of every file below ``folder``."""
    out = {}
    for p in sorted(Path(folder).rglob("*")):
        if p.is_file() and not p.is_symlink():
            try:
                data = p.read_bytes()
            except OSError:  # an unreadable file of a test case
                out[str(p.relative_to(folder))] = (-1, "")
                continue
            out[str(p.relative_to(folder))] = (len(data), hashlib.sha1(data).hexdigest())
    return out


def _compare(before: dict, after: dict) -> tuple[list, list]:
    changed = [k for k, v in before.items() if after.get(k) != v]
    created = [k for k in after if k not in before
               and not (os.path.basename(k).startswith(ALLOWED_NEW[0]) and k.endswith(ALLOWED_NEW[1]))]
    return changed, created


def run(args: list[str], folder: Path) -> Outcome:
    """``friedel *args`` in-process inside ``folder`` (fast: no interpreter start-up)."""
    from friedel.cli.main import main

    before = snapshot(folder)
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    t0 = time.perf_counter()
    try:
        os.chdir(folder)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:  # pragma: no cover - main returns its code
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(cwd)
    changed, created = _compare(before, snapshot(folder))
    return Outcome(list(args), int(code), out.getvalue(), err.getvalue(), changed, created,
                   time.perf_counter() - t0)


def run_subprocess(args: list[str], folder: Path, timeout: float = 30.0) -> Outcome:
    """``friedel *args`` as a separate process (for cases that could hang); code -9 on a hang."""
    before = snapshot(folder)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", _CONSOLE, *map(str, args)], cwd=folder,
                              capture_output=True, text=True, timeout=timeout)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, out, err = -9, str(exc.stdout or ""), "HANG: " + str(exc.stderr or "")
    changed, created = _compare(before, snapshot(folder))
    return Outcome(list(args), code, out, err, changed, created, time.perf_counter() - t0)


def outcome_class(o: Outcome, mentions=()) -> str:
    """``clean``, ``hang``, ``traceback``, ``wrong-success``, ``data-loss`` or ``unclear``."""
    text = o.stdout + o.stderr
    if o.code == -9:
        return "hang"
    if "Traceback" in text:
        return "traceback"
    if o.code == 0:
        return "wrong-success"
    if o.changed or o.created:
        return "data-loss"
    lines = o.error_lines
    if "internal error" in text or len(lines) != 1 or "error:" not in lines[0]:
        return "unclear"
    line = lines[0].lower()
    if not all(any(w.lower() in line for w in ([m] if isinstance(m, str) else m)) for m in mentions):
        return "unclear"
    return "clean"


def assert_refused(o: Outcome, *mentions) -> None:
    """The outcome is a clean refusal whose line contains every word of ``mentions``.

    A mention may be a tuple of alternatives (any of them will do).
    """
    kind = outcome_class(o, mentions)
    assert kind == "clean", (
        f"[{kind}] friedel {' '.join(map(str, o.args))}: exit {o.code}; expected one error line naming "
        f"{mentions}; stderr={o.stderr.strip()[-800:]!r}; changed={o.changed}; created={o.created}; "
        f"stdout tail={o.stdout.strip()[-300:]!r}")


# -- damaging files ----------------------------------------------------------------------------

CBF_BINARY_START = b"\x0c\x1a\x04\xd5"


def truncate(path: Path, keep: float | int) -> Path:
    """Keep the first ``keep`` bytes (an int) or that fraction of the file (a float)."""
    data = Path(path).read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else int(keep)
    Path(path).write_bytes(data[:n])
    return Path(path)


def flip_bytes(path: Path, n: int = 20, start: int = 0, stop: int | None = None, seed: int = 0) -> Path:
    """XOR ``n`` bytes at random offsets in ``[start, stop)`` with random non-zero masks."""
    import numpy as np

    data = bytearray(Path(path).read_bytes())
    stop = len(data) if stop is None else stop
    rng = np.random.default_rng(seed)
    for i in rng.choice(np.arange(start, stop), size=min(n, stop - start), replace=False):
        data[int(i)] ^= int(rng.integers(1, 256))
    Path(path).write_bytes(bytes(data))
    return Path(path)


def cbf_binary_offset(path: Path) -> int:
    """Offset of the first byte of a CBF's compressed pixels."""
    return Path(path).read_bytes().index(CBF_BINARY_START) + 4


def edit_cbf_header(path: Path, key: str, value: str) -> Path:
    """Set one ``Key: value`` line of the binary section's MIME header (e.g. X-Binary-Size)."""
    import re

    data = Path(path).read_bytes()
    split = data.index(CBF_BINARY_START)
    head = re.sub(rb"(" + re.escape(key.encode()) + rb":)[^\r\n]*", rb"\1 " + value.encode(), data[:split])
    Path(path).write_bytes(head + data[split:])
    return Path(path)


def edit_reflections(path: Path, change) -> Path:
    """Read a .refl, let ``change(table)`` modify it in place, write it back."""
    from friedel.io import read_reflections, write_reflections

    table = read_reflections(str(path))
    change(table)
    write_reflections(table, str(path))
    return Path(path)


def edit_experiments(path: Path, change) -> Path:
    """Read a .expt as JSON, let ``change(dict)`` modify it in place, write it back."""
    import json

    data = json.loads(Path(path).read_text())
    change(data)
    Path(path).write_text(json.dumps(data, indent=1))
    return Path(path)
