"""Progress that reads well in a terminal and in a batch job's log file.

Bars (tqdm, with a total and an ETA) only when standard error is an interactive terminal
and progress is on; otherwise nothing per batch, so a log file gets no ``\\r`` noise. Long
passes (the normalization statistics, evaluation) say when they start and end in one line
each; :func:`log` lines are printed whatever the setting.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator

from tqdm import tqdm


def interactive() -> bool:
    """Standard error is a terminal (not a file or a pipe)."""
    return sys.stderr.isatty()


def log(line: str) -> None:
    """One line on standard output, flushed (a batch log shows it at once), above any bar."""
    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()


def duration(seconds: float) -> str:
    """``75.2`` -> ``"1m 15s"``; ``4000`` -> ``"1h 06m"``."""
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def bar(items: Iterable, total: int | None, desc: str, enabled: bool, unit: str = "file") -> Iterable:
    """``items`` wrapped in a bar with ``total`` when ``enabled`` and interactive."""
    if not (enabled and interactive()):
        return items
    return tqdm(items, total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)


class Pass:
    """A long pass over ``total`` items: a bar when interactive, else a start and an end line.

    ``for item in Pass(files, "normalization", "files", enabled): ...``"""

    def __init__(self, items, what: str, unit: str, enabled: bool = True, total: int | None = None):
        self.items, self.what, self.unit, self.enabled = items, what, unit, enabled
        self.total = total if total is not None else len(items)

    def __iter__(self) -> Iterator:
        t0 = time.perf_counter()
        show_lines = not (self.enabled and interactive())
        if show_lines:
            log(f"{self.what}: {self.total} {self.unit} ...")
        yield from bar(self.items, self.total, self.what, self.enabled, self.unit)
        if show_lines:
            log(f"{self.what}: done in {duration(time.perf_counter() - t0)}")


class EpochClock:
    """Seconds per epoch so far and the time left for the remaining epochs."""

    def __init__(self, first_epoch: int, last_epoch: int):
        self.first, self.last, self.t0 = first_epoch, last_epoch, time.perf_counter()

    def eta(self, done_epoch: int) -> float:
        """Seconds left after 0-based epoch ``done_epoch`` (mean epoch time so far)."""
        done = done_epoch + 1 - self.first
        per_epoch = (time.perf_counter() - self.t0) / max(done, 1)
        return per_epoch * (self.last - done_epoch - 1)

    def elapsed(self) -> float:
        """Seconds since the clock started."""
        return time.perf_counter() - self.t0
