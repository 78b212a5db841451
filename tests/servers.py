"""Real servers started by the tests on loopback (Chroma, llama.cpp, the chat page): a free
port, start, wait until ready, stop."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ok(url: str, body: bytes | None = None) -> Callable[[], bool]:
    """Ready when ``url`` answers 200 (and, if given, exactly ``body``)."""
    def ready() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200 and (body is None or response.read().strip() == body)
        except OSError:
            return False
    return ready


def port_open(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0
    return ready


@contextmanager
def running(command: list[str], ready: Callable[[], bool], log: Path, *, timeout: float = 120,
            name: str = "server", **popen: object) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` (output to ``log``), wait until ``ready()``, yield it, stop it. Fails
    the test with the log's tail when it exits or is not ready in time."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, **popen)  # type: ignore[call-overload]
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                pytest.fail(f"{name} exited ({proc.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{name} was not ready in {timeout:.0f} s:\n"
                            f"{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def chroma_server(folder: Path) -> Iterator[int]:
    """``chroma run`` over ``folder`` on a free loopback port; yields the port."""
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    command = [str(chroma), "run", "--path", str(folder / "server-data"), "--host", "127.0.0.1",
               "--port", str(port)]
    with running(command, port_open(port), folder / "chroma.log", timeout=60, name="chroma run"):
        yield port


@contextmanager
def rag_serve(store: Path, log: Path, env: dict[str, str]) -> Iterator[str]:
    """``python -m rag serve`` over ``store`` on a free loopback port (environment ``env``);
    yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "rag", "serve", "--port", str(port), "--store", str(store)]
    with running(command, http_ok(f"{url}/healthz"), log, timeout=120, name="rag serve", env=env):
        yield url


@contextmanager
def streamlit_app(app: Path, log: Path, cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """``streamlit run app`` headless on a free loopback port; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false"]
    with running(command, http_ok(f"{url}/_stcore/health", b"ok"), log, timeout=90,
                 name="streamlit", cwd=cwd, env=env):
        yield url

