"""`python -m ui.launch` (what `make run` calls): ingest an empty store, then `streamlit run` with
the host and port from the settings, headless and without usage statistics."""

from __future__ import annotations

import os
import socket

import pytest

from rag.config import load_settings
from tests.ui.conftest import KB, write_corpus
from ui import launch


def test_the_command_serves_the_page_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_UI_HOST", "127.0.0.2")
    monkeypatch.setenv("RAG_UI_PORT", "8610")
    command = launch.streamlit_command(load_settings())
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4].endswith("ui/app.py")
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.address"] == "127.0.0.2"
    assert options["--server.port"] == "8610"
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"
    assert launch.browser_url(load_settings()) == "http://127.0.0.2:8610"
    assert "--browser.serverAddress" not in options


def test_on_every_interface_the_server_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """Else Streamlit looks up the machine's public address on the internet."""
    monkeypatch.setenv("RAG_UI_HOST", "0.0.0.0")
    command = launch.streamlit_command(load_settings())
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--browser.serverAddress"] == socket.gethostname()
    assert launch.browser_url(load_settings()).startswith("http://127.0.0.1:")


def test_a_busy_port_is_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        problem = launch.port_problem("127.0.0.1", port) or ""
    assert "already in use" in problem and "RAG_UI_PORT" in problem


def test_an_empty_store_is_ingested_before_the_page_starts(
    empty_kb: KB, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_corpus(empty_kb.docs, {"note.md": "# Note\n\nThe canteen opens at half past eleven.\n"})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("RAG_UI_PORT", str(port))
    started: list[list[str]] = []
    monkeypatch.setattr(os, "execv", lambda path, cmd: started.append(cmd))

    assert launch.main() == 0
    assert launch.store_is_empty(load_settings()) is False
    out = capsys.readouterr().out
    assert "is empty: ingesting" in out and "1 added" in out
    assert f"http://127.0.0.1:{port}" in out
    assert started and str(port) in started[0]

    started.clear()
    assert launch.main() == 0  # a filled store is not ingested again
    assert "ingesting" not in capsys.readouterr().out
    assert started
