"""A dependency-free progress line for long runs (stderr, at most one update per second)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """``progress=None``: appear only once a run has taken ``after`` seconds; True: always; False: never."""

    def __init__(
        self,
        total: int,
        label: str,
        enabled: bool | None = None,
        after: float = 2.0,
        stream: TextIO | None = None,
    ) -> None:
        self.total, self.label, self.enabled = total, label, enabled
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()
        self.last = self.t0 if enabled is not True else -1.0
        self.after = 0.0 if enabled is True else after
        self.shown = False

    def update(self, done: int, info: Callable[[], str] = lambda: "") -> None:
        """``info``: a callable returning the line's tail, called only when a line is written."""
        if self.enabled is False:
            return
        now = time.perf_counter()
        if now - self.t0 < self.after or now - self.last < 1.0:
            return
        self.last = now
        rate = done / max(now - self.t0, 1e-9)
        eta_s = (self.total - done) / rate if rate > 0 else float("inf")
        end = "\r" if self.stream.isatty() else "\n"
        self.stream.write(
            f"{self.label} {done}/{self.total} ({100 * done / self.total:.0f}%) "
            f"{rate:.0f} steps/s, {eta_s:.0f}s left {info()}{end}"
        )
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown and self.stream.isatty():
            self.stream.write("\n")
