"""Shared fixtures. An autouse fixture fails any network connection that leaves this machine."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_EVAL = ROOT.parent / "shared" / "eval"
SAMPLE_DOCS = ROOT / "data" / "docs"


class NetworkBlocked(RuntimeError):
    pass


def _is_local(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    if isinstance(address, tuple) and address:
        host = address[0]
        if host in ("localhost", ""):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return False


@pytest.fixture(autouse=True)
def block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection to a non-loopback address fails the test: nothing may download."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: object) -> object:
        if not _is_local(address):
            raise NetworkBlocked(f"network access attempted in a test: {address!r}")
        return real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: object) -> object:
        if not _is_local(address):
            raise NetworkBlocked(f"network access attempted in a test: {address!r}")
        return real_connect_ex(self, address)

    def guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host not in (None, "localhost", "127.0.0.1", "::1", b"localhost") and not _is_local((host,)):
            raise NetworkBlocked(f"name lookup attempted in a test: {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


@pytest.fixture(scope="session", autouse=True)
def no_answer_cache() -> Iterator[None]:
    """Tests ask the same questions again and again to test the model's path (streaming, queues,
    limits): the cache of repeated questions is on only where a test turns it on
    (test_answer_cache). Session-wide, so module-scoped stores and assistants see it too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAG_ANSWER_CACHE_SIZE", "0")
        yield


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read a developer's .env or write the real data folders."""
    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAG_MODELS_DIR", str(ROOT / "data" / "models"))
    monkeypatch.setenv("RAG_ANSWER_CACHE_SIZE", "0")  # as no_answer_cache says
    from rag.config import get_settings

    get_settings.cache_clear()


@pytest.fixture()
def docs(tmp_path: Path) -> Path:
    path = tmp_path / "docs"
    path.mkdir()
    return path


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture()
def eval_pdfs() -> Path:
    path = SHARED_EVAL / "pdfs"
    if not path.is_dir():
        pytest.fail(f"{path} is missing: ../shared must be beside the project")
    return path


@pytest.fixture()
def sample_docs(tmp_path: Path) -> Iterator[Path]:
    """A copy of the shipped sample corpus."""
    target = tmp_path / "sample"
    shutil.copytree(SAMPLE_DOCS, target)
    yield target


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--airgap", action="store_true",
                     help="run the offline-bundle tests (they build the bundle: make test-airgap)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The air-gap tests build and install the whole bundle: only `make test-airgap` runs them."""
    if config.getoption("--airgap"):
        return
    keep = [item for item in items if "airgap" not in item.keywords]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if "airgap" in i.keywords])
        items[:] = keep
