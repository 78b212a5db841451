"""The ingestion progress model and its console reporters, on a fake clock."""

from __future__ import annotations

import io

import pytest

from ingest.progress import (
    BarReporter,
    IngestProgress,
    PlainReporter,
    SilentReporter,
    Snapshot,
    console_reporter,
    format_duration,
    plain_line,
)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_nothing_reported_yet() -> None:
    clock = FakeClock()
    model = IngestProgress(clock)
    clock.advance(5)
    snap = model.snapshot()
    assert not model.started
    assert snap == Snapshot(0, 0, 0, 0.0, 0.0, 0.0, None)
    assert snap.fraction == 0.0


def test_rates_and_time_left_from_the_first_report() -> None:
    clock = FakeClock()
    model = IngestProgress(clock)
    clock.advance(30)  # before the first report (planning): not counted
    model("files", 0, 10)
    clock.advance(4)
    model("chunks", 30, 0)
    model("files", 2, 10)
    snap = model.snapshot()
    assert model.started
    assert snap.elapsed == 4.0
    assert snap.files_per_second == 0.5 and snap.chunks_per_second == 7.5
    assert snap.eta == 16.0  # 8 files left at 0.5 files/s
    assert snap.fraction == 0.2


def test_no_time_left_until_a_file_is_done() -> None:
    clock = FakeClock()
    model = IngestProgress(clock)
    model("files", 0, 3)
    clock.advance(10)
    model("chunks", 64, 0)  # chunks of the first file, still no file done
    snap = model.snapshot()
    assert snap.eta is None and snap.chunks_per_second == 6.4
    model("files", 3, 3)
    assert model.snapshot().eta == 0.0 and model.snapshot().fraction == 1.0


def test_unknown_kinds_only_start_the_clock() -> None:
    model = IngestProgress(FakeClock())
    model("pages", 5, 9)
    assert model.started and model.snapshot().files_done == 0 and model.snapshot().chunks == 0


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (0.2, "1s"), (59, "59s"), (60, "1m00s"), (171, "2m51s"), (3599.5, "1h00m"),
    (3900, "1h05m"), (-3, "0s"),
])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_plain_line() -> None:
    snap = Snapshot(120, 480, 3410, 57.1, 2.1, 14.2, 171.0)
    assert plain_line(snap) == (
        "ingest: 120/480 files (25%), 3,410 chunks, 14.2 chunks/s, 2.1 files/s, about 2m51s left")
    assert plain_line(Snapshot(0, 3, 0, 0.0, 0.0, 0.0, None)) == (
        "ingest: 0/3 files (0%), 0 chunks, 0.0 chunks/s, 0.0 files/s, time left unknown")
    assert plain_line(Snapshot(1999, 2000, 51234, 900.0, 2.2, 56.9, 0.45)).startswith(
        "ingest: 1,999/2,000 files (99%), 51,234 chunks,")  # never rounds up to 100%
    assert plain_line(Snapshot(480, 480, 11800, 225.0, 2.1, 52.4, 0.0)) == (
        "ingest: 480/480 files (100%), 11,800 chunks, 52.4 chunks/s, 2.1 files/s, "
        "writing the last chunks")
    assert plain_line(Snapshot(480, 480, 12000, 228.0, 2.1, 52.6, 0.0), final=True) == (
        "ingest: 480/480 files (100%), 12,000 chunks, 52.6 chunks/s, 2.1 files/s, took 3m48s")


def test_plain_lines_at_most_every_n_seconds_and_one_at_the_end() -> None:
    clock, out = FakeClock(), io.StringIO()
    reporter = PlainReporter(out, every=10, clock=clock)
    reporter("files", 0, 4)  # the first report is shown: the total is known
    for step in range(1, 5):
        clock.advance(3)
        reporter("chunks", 10 * step, 0)
        reporter("files", step, 4)
    clock.advance(1)
    reporter("chunks", 50, 0)
    reporter.close()
    assert out.getvalue().splitlines() == [
        "ingest: 0/4 files (0%), 0 chunks, 0.0 chunks/s, 0.0 files/s, time left unknown",
        # 12 s after the first line, on the chunks report that came before the fourth file
        "ingest: 3/4 files (75%), 40 chunks, 3.3 chunks/s, 0.2 files/s, about 4s left",
        "ingest: 4/4 files (100%), 50 chunks, 3.8 chunks/s, 0.3 files/s, took 13s",
    ]


def test_no_line_when_nothing_was_ingested() -> None:
    out = io.StringIO()
    reporter = PlainReporter(out, every=10, clock=FakeClock())
    reporter.close()
    assert out.getvalue() == ""


def test_a_bar_on_a_terminal_shows_files_and_chunks() -> None:
    clock, out = FakeClock(), Terminal()
    reporter = BarReporter(out, clock=clock)
    reporter("files", 0, 3)
    clock.advance(2)
    reporter("chunks", 1234, 0)
    reporter("files", 3, 3)
    reporter.close()
    shown = out.getvalue()
    assert "3/3" in shown and "1,234 chunks, 617.0 chunks/s" in shown
    assert "ingest:" not in shown  # no plain lines on a terminal


def test_the_console_reporter_follows_the_stream() -> None:
    assert isinstance(console_reporter(Terminal()), BarReporter)
    plain = console_reporter(io.StringIO(), every=2.5)
    assert isinstance(plain, PlainReporter) and plain.every == 2.5
    assert isinstance(console_reporter(Terminal(), enabled=False), SilentReporter)
