"""Progress display for long work: a bar on a terminal, nothing when output is redirected."""

from __future__ import annotations

import sys
import time

#: False while a command runs with -q/--quiet (no bars at all)
enabled = True


class Progress:
    """``with Progress(total, "Finding spots") as p: ... p.advance()``.

    Drawn on standard error only when it is a terminal, so logs and pipes stay clean.
    """

    def __init__(self, total: int, label: str, stream=None):
        self.total = max(int(total), 1)
        self.label = label
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._start = time.perf_counter()
        self._last = 0.0

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.enabled and (now - self._last > 0.1 or self.done >= self.total):
            self._last = now
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(30 * frac)
            rate = self.done / max(now - self._start, 1e-9)
            self.stream.write(f"\r{self.label}: [{bar:<30}] {self.done}/{self.total} ({rate:.1f}/s)")
            self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
