"""``python -m ui.launch`` (what ``make run`` calls): ingest the docs folder if the store is
empty, then serve the chat page on the host and port from the settings (RAG_UI_HOST,
RAG_UI_PORT), headless, with no usage statistics.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from pathlib import Path

from rag.cli_common import setup_logging
from rag.config import Settings, load_settings
from rag.errors import RagError

APP = Path(__file__).resolve().parent / "app.py"


def store_is_empty(settings: Settings) -> bool:
    from ui.resources import store_stats

    return store_stats(settings).chunks == 0


def ingest_if_empty(settings: Settings) -> None:
    """First run: fill the store from the docs folder (a failure is reported, not fatal: the
    page then says what to do)."""
    if not store_is_empty(settings):
        return
    from ingest.cli import summary
    from ingest.progress import console_reporter
    from ingest.sync import run_sync

    print(f"The knowledge base at {settings.store_dir} is empty: ingesting {settings.docs_dir} …",
          flush=True)
    progress = console_reporter(sys.stdout)  # the same bar or lines as `make ingest`
    try:
        try:
            report = run_sync([], settings, progress=progress)
        finally:
            progress.close()
    except RagError as exc:
        print(f"warning: could not ingest {settings.docs_dir}: {exc}", file=sys.stderr)
        return
    print(summary(report), flush=True)


def port_problem(host: str, port: int) -> str | None:
    """Why the page cannot listen on host:port, or None."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"port {port} on {host} is already in use (is the page already running?): "
                        "stop the other program or set RAG_UI_PORT to a free port")
            return f"cannot listen on {host}:{port} ({exc.strerror}): check RAG_UI_HOST / RAG_UI_PORT"
    return None


def browser_url(settings: Settings) -> str:
    host = settings.ui_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.ui_port}"


def streamlit_command(settings: Settings) -> list[str]:
    """``streamlit run`` with the air-gapped options also given on the command line, so they
    apply from any working folder (``.streamlit/config.toml`` is read from the current one)."""
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", settings.ui_host,
        "--server.port", str(settings.ui_port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal",
        "--client.showErrorDetails", "none",
        "--server.fileWatcherType", "none",
    ]
    if settings.ui_host in ("0.0.0.0", "::", ""):
        # Listening on every interface, Streamlit would look up this machine's public address
        # on the internet (checkip.amazonaws.com) to print it and to accept a browser that names
        # the server otherwise: tell it the name users type instead.
        command += ["--browser.serverAddress", socket.gethostname()]
    return command


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    try:
        settings = load_settings()
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    problem = port_problem(settings.ui_host, settings.ui_port)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    ingest_if_empty(settings)
    print(f"\nThe chat page is at {browser_url(settings)}  (Ctrl-C stops it)\n", flush=True)
    sys.stderr.flush()
    command = streamlit_command(settings)
    # Become Streamlit (no parent left behind): Ctrl-C and a service manager's SIGTERM reach it.
    os.execv(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
