"""Files parsed in a worker process, a few ahead of the embedder, each under a time limit.

The pool starts (and parses the first files) as soon as the run knows what to parse, while the
embedding model loads: a fresh ``python -m ingest`` spends about a second loading it, and the
worker about half a second starting up.
"""

from __future__ import annotations

import multiprocessing
import sys
import types
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ingest.parse import ParsedFile, SplitConfig, parse_file
from rag.errors import LoaderError

LOOKAHEAD = 4  # files parsed ahead of the embedder


@contextmanager
def plain_main() -> Iterator[None]:
    """Files are parsed in *spawned* worker processes, and a spawned process first re-runs the
    parent's ``__main__`` file: under Streamlit (which runs each page as ``__main__``) it would
    run the page again, in bare mode; under a server, the server. While this is active,
    ``__main__`` is an empty module, so a worker imports only what parsing needs."""
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


class ParserPool:
    """``with ParserPool(paths, config, timeout) as parser: for i, result in parser.results()``:
    each result is a :class:`ParsedFile` or a message saying why the file was not read."""

    def __init__(self, paths: list[Path], config: SplitConfig, timeout: float) -> None:
        self.paths = paths
        self.config = config
        self.timeout = timeout
        self._stack = ExitStack()
        self._pool: Any = None
        self._futures: dict[int, Any] = {}

    def __enter__(self) -> Self:
        from pebble import ProcessPool

        # __main__ stays empty while the pool lives: it restarts a worker after a timeout.
        self._stack.enter_context(plain_main())
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPool(max_workers=1, context=context)
        self._stack.callback(self._pool.join)
        self._schedule_from(0)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # Not the pool's own exit: it closes the pool, which waits for every file scheduled.
        if exc_type is None:
            self._pool.close()
        else:  # the run failed: files parsed ahead are not waited for, the worker is ended
            self._pool.stop()
        self._stack.__exit__(exc_type, exc, tb)

    def _schedule_from(self, index: int) -> None:
        for ahead in range(index, min(len(self.paths), index + LOOKAHEAD)):
            if ahead not in self._futures:
                self._futures[ahead] = self._pool.schedule(
                    parse_file, args=(str(self.paths[ahead]), self.config), timeout=self.timeout)

    def results(self) -> Iterator[tuple[int, ParsedFile | str]]:
        from pebble import ProcessExpired

        for index in range(len(self.paths)):
            self._schedule_from(index)
            future = self._futures.pop(index)
            try:
                yield index, future.result()
            except LoaderError as exc:
                yield index, str(exc)
            except FutureTimeout:
                yield index, (
                    f"parsing took longer than {self.timeout:g} s and was stopped (a hostile or "
                    "huge file?): fix the file or raise RAG_PARSE_TIMEOUT_S"
                )
            except ProcessExpired as exc:
                yield index, f"the parser crashed on this file ({exc}): re-export or repair it"
            except Exception as exc:  # noqa: BLE001 - one bad file never stops the run
                yield index, f"could not parse the file ({type(exc).__name__}: {exc})"
