"""Progress of one ingestion: files and chunks, rates and time left, shown on a console.

:class:`IngestProgress` is the model: it is called like the ``progress`` callback of
:func:`ingest.sync.run_sync` (``kind, done, total``; kind ``"files"`` with done/total, kind
``"chunks"`` with the chunks written so far) and answers :meth:`~IngestProgress.snapshot`.
The console reporters feed it and show it: a tqdm bar on a terminal, otherwise a plain line at
most every few seconds and one at the end. The chat page's upload feeds the same model.
Nothing here imports the heavy libraries (tqdm only when a bar is shown).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

PROGRESS_EVERY = 10.0  # seconds between two plain progress lines (not on a terminal)
_BAR_REFRESH = 0.5  # seconds between two redraws of the bar for chunks alone

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where an ingestion stands. Rates are per second since the first report."""

    files_done: int
    files_total: int
    chunks: int
    elapsed: float
    files_per_second: float
    chunks_per_second: float
    eta: float | None  # seconds left for the files; None until a file is done

    @property
    def fraction(self) -> float:
        """Files done, from 0 to 1 (0 while the total is unknown)."""
        return min(1.0, self.files_done / self.files_total) if self.files_total else 0.0


class IngestProgress:
    """Counts files and chunks as the sync reports them; the clock starts at the first report."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._start: float | None = None
        self.files_done = 0
        self.files_total = 0
        self.chunks = 0

    @property
    def started(self) -> bool:
        return self._start is not None

    def __call__(self, kind: str, done: int, total: int) -> None:
        if self._start is None:
            self._start = self._clock()
        if kind == "files":
            self.files_done, self.files_total = done, total
        elif kind == "chunks":
            self.chunks = done

    def snapshot(self) -> Snapshot:
        elapsed = 0.0 if self._start is None else max(0.0, self._clock() - self._start)
        files_rate = self.files_done / elapsed if elapsed > 0 else 0.0
        chunks_rate = self.chunks / elapsed if elapsed > 0 else 0.0
        eta: float | None = None
        if self.files_done > 0 and files_rate > 0:
            eta = max(0, self.files_total - self.files_done) / files_rate
        return Snapshot(self.files_done, self.files_total, self.chunks, elapsed, files_rate,
                        chunks_rate, eta)


def format_duration(seconds: float) -> str:
    """``7s``, ``2m51s``, ``1h05m``: whole seconds, rounded up (never "0s" while work is left)."""
    total = max(0, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def plain_line(snap: Snapshot, *, final: bool = False) -> str:
    """``ingest: 120/480 files (25%), 3,410 chunks, 14.2 chunks/s, 2.1 files/s, about 2m51s
    left``; the final line ends with ``took ...`` (since the first report) instead."""
    files = f"{snap.files_done:,}/{snap.files_total:,} files"
    if snap.files_total:
        files += f" ({math.floor(snap.fraction * 100)}%)"
    if final:
        tail = f"took {format_duration(snap.elapsed)}"
    elif snap.eta is None:
        tail = "time left unknown"
    elif snap.files_done >= snap.files_total:  # the last batch of chunks is being embedded
        tail = "writing the last chunks"
    else:
        tail = f"about {format_duration(snap.eta)} left"
    return (f"ingest: {files}, {snap.chunks:,} chunks, {snap.chunks_per_second:.1f} chunks/s, "
            f"{snap.files_per_second:.1f} files/s, {tail}")


class Reporter(Protocol):
    """A ``progress`` callback for :func:`ingest.sync.run_sync` that is closed after the run."""

    def __call__(self, kind: str, done: int, total: int) -> None: ...

    def close(self) -> None: ...


class SilentReporter:
    def __call__(self, kind: str, done: int, total: int) -> None:
        return None

    def close(self) -> None:
        return None


class PlainReporter:
    """Plain lines for logs: the first report, then at most one every ``every`` seconds, and a
    final line at :meth:`close` (if anything was reported). A line is only written when the sync
    reports, so one long file can stretch the gap."""

    def __init__(self, stream: TextIO, every: float = PROGRESS_EVERY,
                 clock: Clock = time.monotonic) -> None:
        self.stream = stream
        self.every = every
        self.model = IngestProgress(clock)
        self._clock = clock
        self._last: float | None = None

    def __call__(self, kind: str, done: int, total: int) -> None:
        self.model(kind, done, total)
        now = self._clock()
        if self._last is None or now - self._last >= self.every:
            self._last = now
            self._write(plain_line(self.model.snapshot()))

    def close(self) -> None:
        if self.model.started:
            self._write(plain_line(self.model.snapshot(), final=True))

    def _write(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


class BarReporter:
    """A tqdm bar over files (tqdm shows their rate and the time left), with the chunks written
    and their rate beside it."""

    def __init__(self, stream: TextIO, clock: Clock = time.monotonic) -> None:
        self.stream = stream
        self.model = IngestProgress(clock)
        self._clock = clock
        self._drawn = -math.inf
        self.bar: Any = None  # tqdm, imported only when a bar is shown

    def __call__(self, kind: str, done: int, total: int) -> None:
        self.model(kind, done, total)
        if self.bar is None:
            if kind != "files":
                return
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="file", desc="ingesting", file=self.stream)
        snap = self.model.snapshot()
        if self.bar.total != snap.files_total:
            self.bar.total = snap.files_total
        self.bar.set_postfix_str(
            f"{snap.chunks:,} chunks, {snap.chunks_per_second:.1f} chunks/s", refresh=False)
        now = self._clock()
        if snap.files_done != self.bar.n:
            self.bar.update(snap.files_done - self.bar.n)  # redraws at most every 0.1 s
            self._drawn = now
        elif now - self._drawn >= _BAR_REFRESH:  # the chunks of a long file
            self.bar.refresh()
            self._drawn = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()  # draws the bar a last time


def console_reporter(stream: TextIO, *, enabled: bool = True,
                     every: float = PROGRESS_EVERY) -> Reporter:
    """A bar if ``stream`` is a terminal, plain lines otherwise, nothing if not ``enabled``."""
    if not enabled:
        return SilentReporter()
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        return BarReporter(stream)
    return PlainReporter(stream, every)
