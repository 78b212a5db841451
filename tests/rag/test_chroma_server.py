"""The scale-out path: the same ingestion and retrieval against a Chroma server (client/server
mode) on loopback instead of the local folder."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.sync import run_sync
from rag import factories
from rag.config import load_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def chroma_server(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "server-data"),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the Chroma server did not start")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_ingest_and_retrieve_through_a_chroma_server(chroma_server: int, docs: Path, store: Path) -> None:
    (docs / "policy.md").write_text("# Leave\n\nFull-time staff get 25 vacation days a year.\n")
    (docs / "canteen.md").write_text("# Canteen\n\nThe canteen opens at 11:30 every working day.\n")
    settings = load_settings(docs_dir=docs, store_dir=store, chroma_host="127.0.0.1", chroma_port=chroma_server)
    report = run_sync([], settings)
    assert report.files_added == 2 and report.chunks_total == 2
    assert not (store / factories.CHROMA_SUBDIR).exists()  # vectors live on the server
    hits = factories.build_retriever(settings).search("When does the canteen open?", 2)
    assert hits[0].source == "canteen.md"
    (docs / "canteen.md").unlink()
    assert run_sync([], settings).files_removed == 1
    client = factories.build_chroma_client(settings)
    assert client.get_collection(settings.collection).count() == 1
