"""Run one step of ``friedel process`` in its folder, or skip it when nothing changed.

A finished step leaves ``friedel.process_step.json`` in its folder: the command line it ran and a
fingerprint (size and modification time) of every input file. When ``process`` runs again, a
step whose record matches the new command line and inputs, and whose outputs are all present,
is skipped; the first step that differs runs again, and everything after it (its inputs
changed) follows.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field

from friedel.io import atomic_write, committed_together

log = logging.getLogger("friedel")

RECORD = "friedel.process_step.json"


@dataclass
class StepResult:
    """What a step did: its folder, outputs (kind -> path relative to the process folder), time."""

    command: str
    folder: str
    ok: bool
    seconds: float
    skipped: bool = False
    outputs: dict = field(default_factory=dict)
    error: str = ""
    #: high-water mark of resident memory after the step (MB): of process itself and of its
    #: largest worker process; a step that raised it is the one that needed that much
    peak_rss_mb: float = 0.0
    peak_worker_rss_mb: float = 0.0


def _fingerprint(paths: list[str]) -> list:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append([os.path.basename(p), st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([os.path.basename(p), None, None])
    return out


def _peak_rss_mb() -> tuple[float, float]:
    """(this process, its largest finished child) peak resident memory so far, in MB."""
    import resource

    scale = 1.0 / 1024 if sys.platform != "darwin" else 1.0 / 1024**2  # ru_maxrss: kB on Linux, bytes on macOS
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale)


def _record(argv: list[str], inputs: list[str]) -> dict:
    return {"argv": argv, "inputs": _fingerprint(inputs)}


def attach_process_log(log_path: str) -> None:
    """(Re)attach the terminal and ``friedel.process.log`` (appending) after a step replaced them."""
    logger = logging.getLogger("friedel")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    from friedel.cli.main import quiet

    terminal = logging.StreamHandler(sys.stdout)
    terminal.setLevel(logging.WARNING if quiet() else logging.INFO)  # -q: warnings and errors only
    terminal.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(terminal)
    to_file = logging.FileHandler(log_path, mode="a", encoding="utf-8")
    to_file.setLevel(logging.DEBUG)
    to_file.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(to_file)


def run_step(command: str, folder: str, inputs: list[str], assignments: list[str], outputs: dict,
             resume: bool, log_path: str) -> StepResult:
    """Run ``friedel <command> inputs... assignments...`` inside ``folder``.

    ``inputs`` are paths relative to the process folder; ``outputs`` maps kinds to the file
    names the command writes in its folder. Returns what happened; never raises for a failed
    step (the caller decides what follows).
    """
    from friedel.cli.main import run_command

    os.makedirs(folder, exist_ok=True)
    rel_inputs = [os.path.relpath(p, folder) for p in inputs]
    argv = [*rel_inputs, *assignments]
    record_path = os.path.join(folder, RECORD)
    expected = {kind: os.path.join(folder, name) for kind, name in outputs.items()}
    shown = " ".join(a if not a.endswith((".cbf", ".cbf.gz", ".cbf.bz2", ".img", ".h5")) else "" for a in argv)
    if resume and os.path.exists(record_path):
        try:
            with open(record_path, encoding="utf-8") as handle:
                previous = json.load(handle)
        except (OSError, ValueError):
            previous = None
        if previous == _record(argv, inputs) and all(os.path.exists(p) for p in expected.values()):
            log.info("== %s: up to date in %s/ (inputs and parameters unchanged), skipped", command, folder)
            return StepResult(command, folder, True, 0.0, skipped=True, outputs=expected)
    log.info("\n== friedel %s %s  (in %s/)", command, " ".join(shown.split()), folder)
    here = os.getcwd()
    t0 = time.perf_counter()
    try:
        os.chdir(folder)
        # the folder belongs to process: the step's old outputs and record go before it runs
        # again, so that a failure cannot leave old files looking like new ones
        for name in [RECORD, *outputs.values()]:
            if os.path.isfile(name):
                os.remove(name)
        code = _run_quietly(run_command, command, argv)
    finally:
        os.chdir(here)
        attach_process_log(log_path)
    seconds = time.perf_counter() - t0
    memory = _peak_rss_mb()
    if code != 0:
        return StepResult(command, folder, False, seconds, error=_last_error(folder, command), peak_rss_mb=memory[0],
                          peak_worker_rss_mb=memory[1])
    missing = [p for p in expected.values() if not os.path.exists(p)]
    if missing:
        return StepResult(command, folder, False, seconds, peak_rss_mb=memory[0], peak_worker_rss_mb=memory[1],
                          error=f"finished but did not write {', '.join(os.path.basename(p) for p in missing)}")
    with committed_together(), atomic_write(record_path, mode="w") as handle:  # now, not when process ends
        json.dump(_record(argv, inputs), handle, indent=1)
    return StepResult(command, folder, True, seconds, outputs=expected, peak_rss_mb=memory[0],
                      peak_worker_rss_mb=memory[1])


def _run_quietly(run_command, command: str, argv: list[str]) -> int:
    """Run the step; its own one-line error is kept from the terminal (process reports the failure in
    one line of its own, naming the step), everything else it prints to stderr passes through."""
    import contextlib
    import io

    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        code = run_command(command, argv)
    own_error = f"friedel {command}: "
    for line in captured.getvalue().splitlines(keepends=True):
        if code != 0 and line.startswith(own_error):
            continue
        sys.stderr.write(line)
    return code


def _last_error(folder: str, command: str) -> str:
    """The one-line error the step printed (the last line of its log that says so)."""
    path = os.path.join(folder, f"friedel.{command}.log")
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = [line.strip() for line in handle if line.strip()]
    except OSError:
        return "failed (no log written)"
    for line in reversed(lines):
        if line.startswith(("error:", "internal error:")) or "error:" in line[:40]:
            return line
    return lines[-1] if lines else "failed"
