"""Long work that shows its progress, keeps to a deadline and stops when asked.

Everything slow in genzoo (training, sampling, evaluation, reports, comparisons) runs its loop
through the three pieces here, so that every command behaves alike:

- `Progress`: a tqdm bar on a terminal; elsewhere (a log file, CI) a plain line at least every
  `LINE_SECONDS` of wall time, with the rate and the time left.
- the stop request: SIGINT or SIGTERM sets it (`stop_signals`, or the trainer's own handler),
  and `check_stop()`, called at every step of every long loop, raises `StopRequested` at the
  next step boundary. Ctrl-C then acts within a step, anywhere.
- `Deadline`: the wall-clock end of a command (`train.max_seconds`), which the planners of
  evaluation and pictures ask how much time is left.

This module sits at the bottom of the layers (beside `errors`): models, metrics and the
trainer all use it.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

LINE_SECONDS = 15.0  # a plain progress line at least this often when not on a terminal

_stop: list[int] = []  # the signals received since the last reset


class StopRequested(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived during long work; raised at the next step boundary."""


def request_stop(signum: int = signal.SIGINT) -> None:
    _stop.append(signum)


def stop_requested() -> bool:
    return bool(_stop)


def clear_stop() -> None:
    _stop.clear()


def check_stop() -> None:
    """Raise `StopRequested` if a stop was asked for: call it at every step of a long loop."""
    if _stop and not _deferred:
        raise StopRequested(f"stopped by signal {_stop[0]}")


_deferred: list[None] = []  # one entry per `deferred_stop` block being run


@contextmanager
def deferred_stop() -> Iterator[None]:
    """Inside, `check_stop()` does not raise: the work runs to its end and the stop is taken
    up after it (work one process does while others wait for it at a collective)."""
    _deferred.append(None)
    try:
        yield
    finally:
        _deferred.pop()


@contextmanager
def stop_signals(on_stop: Callable[[int], None] | None = None) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM request a stop (and call `on_stop(signum)`) instead of
    killing the process; the work stops at its next `check_stop()`. A second SIGINT stops at
    once. Outside the main thread (where signals cannot be caught) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if _stop and signum == signal.SIGINT:
            raise KeyboardInterrupt
        request_stop(signum)
        if on_stop is not None:
            on_stop(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class Deadline:
    """The wall-clock end of a piece of work; `None` seconds is no deadline."""

    def __init__(self, seconds: float | None, start: float | None = None):
        self.start = time.monotonic() if start is None else start
        self.seconds = seconds

    @property
    def bounded(self) -> bool:
        return self.seconds is not None

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def remaining(self) -> float:
        """Seconds left (infinite without a deadline; never negative)."""
        if self.seconds is None:
            return math.inf
        return max(0.0, self.seconds - self.elapsed())

    def expired(self) -> bool:
        return self.remaining() <= 0

    def sub(self, seconds: float | None) -> Deadline:
        """A deadline that ends `seconds` from now, or at this one's end if sooner."""
        left = self.remaining()
        if seconds is None:
            return Deadline(None if math.isinf(left) else left)
        return Deadline(min(seconds, left))


def duration(seconds: float) -> str:
    """0.4 s, 12 s, 3 min 05 s, 1 h 02 min."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 0.95:
        return f"{max(0.0, seconds):.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    m, s = divmod(seconds, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


class Progress:
    """Progress of `total` units of work (samples, steps, batches) described by `desc`.

    On a terminal (and when `enabled`): a tqdm bar. Elsewhere: a line ``desc: done/total
    (rate unit/s, about T left)`` when at least `LINE_SECONDS` passed since the last one, and
    a last line when it ends, if it took that long. Every `update` also checks for a stop.
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str = "it",
        enabled: bool = True,
        stream: IO[str] | None = None,
    ):
        self.total, self.desc, self.unit = total, desc, unit
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.done = 0
        self.t0 = self.last = time.monotonic()
        self.bar = None
        self.printed = False
        if enabled and _isatty(self.stream):
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, desc=desc, unit=unit, file=self.stream, dynamic_ncols=True, leave=False
            )

    def update(self, n: int = 1) -> None:
        check_stop()
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        self.heartbeat()

    def heartbeat(self) -> None:
        """A plain line if `LINE_SECONDS` passed since the last (not on a terminal)."""
        if self.bar is None and self.enabled and time.monotonic() - self.last >= LINE_SECONDS:
            self.line()

    def rate(self) -> float:
        return self.done / max(time.monotonic() - self.t0, 1e-9)

    def line(self, final: bool = False) -> None:
        self.last = time.monotonic()
        rate = self.rate()
        of = f"/{self.total}" if self.total else ""
        left = ""
        if self.total and not final and rate > 0:
            left = f", about {duration((self.total - self.done) / rate)} left"
        took = f" in {duration(time.monotonic() - self.t0)}" if final else ""
        print(
            f"{self.desc}: {self.done}{of} {self.unit}{took} ({_rate(rate, self.unit)}{left})",
            file=self.stream,
            flush=True,
        )
        self.printed = True

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.enabled and self.printed:
            self.line(final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _rate(rate: float, unit: str) -> str:
    if rate >= 1 or rate == 0:
        return f"{rate:.3g} {unit}/s"
    return f"{1 / rate:.3g} s/{unit}"


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# The progress of the work in hand, for loops deep inside models (a sampler's steps) to report
# to without every caller passing it down: `reporting(...)` sets it for its block.
_current: list[Progress] = []


@contextmanager
def reporting(total: int | None, desc: str, unit: str = "it", enabled: bool = True):
    """A `Progress` for the block; `tick()` in inner loops keeps its lines coming."""
    p = Progress(total, desc, unit, enabled)
    _current.append(p)
    try:
        yield p
    finally:
        _current.pop()
        p.close()


def tick() -> None:
    """A step of inner work (a sampler's step): checks for a stop, and keeps the progress
    lines of the work in hand coming when its own units are slow to complete."""
    check_stop()
    shown = [p for p in _current if p.enabled]
    if shown:
        shown[-1].heartbeat()  # the innermost work speaks for the rest
