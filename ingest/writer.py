"""Writes on a thread of their own, in order, while the caller embeds the next batch: the
embedder (ONNX Runtime or PyTorch, which release the GIL) and the writes to Chroma and the
catalog overlap instead of taking turns. ``make bench-ingest`` measured the writes at about
a tenth of the first run when they took turns.

Order is kept (one thread, first in first out), so the write order that makes a killed run
converge (:mod:`ingest.chunk_writes`) holds. After a failed write nothing more is written; the
error is raised in the caller at its next ``submit`` or when the block ends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Self


class BackgroundWriter:
    """``with BackgroundWriter() as writer: writer.submit(fn)``; the block waits for every write."""

    def __init__(self, depth: int = 1) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer")
        self._futures: deque[Future[None]] = deque()
        self._depth = depth  # jobs waiting behind the running one (bounds the memory held)
        self._failed = False

    def submit(self, job: Callable[[], None]) -> None:
        while len(self._futures) > self._depth or (self._futures and self._futures[0].done()):
            self._futures.popleft().result()  # raises a failed write's error here
        self._futures.append(self._pool.submit(self._run, job))

    def _run(self, job: Callable[[], None]) -> None:
        if self._failed:  # an earlier write failed: write nothing after it
            return
        try:
            job()
        except BaseException:
            self._failed = True
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                while self._futures:
                    self._futures.popleft().result()
        finally:
            self._failed = self._failed or exc_type is not None  # the caller failed: stop too
            self._pool.shutdown(wait=True, cancel_futures=True)
