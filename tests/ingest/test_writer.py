"""The background writer: in order, errors reach the caller, nothing is written after a failure.
(Its real use, every sync, is covered by the ingest tests, the kill -9 ones among them.)"""

from __future__ import annotations

import threading
import time

import pytest

from ingest.writer import BackgroundWriter


def test_writes_run_in_order_on_one_other_thread() -> None:
    done: list[int] = []
    threads: set[int] = set()

    def job(n: int) -> None:
        time.sleep(0.001 * (n % 3))
        threads.add(threading.get_ident())
        done.append(n)

    with BackgroundWriter() as writer:
        for n in range(50):
            writer.submit(lambda n=n: job(n))
    assert done == list(range(50))
    assert threads and threading.get_ident() not in threads


def test_a_failed_write_is_raised_and_nothing_after_it_is_written() -> None:
    done: list[int] = []

    def fail() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"), BackgroundWriter() as writer:
        writer.submit(lambda: done.append(1))
        writer.submit(fail)
        for n in range(2, 20):
            time.sleep(0.002)
            writer.submit(lambda n=n: done.append(n))
    assert done == [1]


def test_when_the_caller_fails_waiting_writes_are_dropped() -> None:
    started = threading.Event()
    release = threading.Event()
    done: list[str] = []

    def slow() -> None:
        started.set()
        release.wait(5)
        done.append("slow")

    with pytest.raises(KeyboardInterrupt), BackgroundWriter(depth=5) as writer:
        writer.submit(slow)
        writer.submit(lambda: done.append("queued"))
        started.wait(5)
        threading.Timer(0.05, release.set).start()
        raise KeyboardInterrupt
    assert done == ["slow"]  # the running write finished; the queued one never ran
