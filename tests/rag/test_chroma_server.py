"""The scale-out path: the same ingestion and retrieval against a Chroma server (client/server
mode) on loopback instead of the local folder."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.sync import run_sync
from rag import factories
from rag.config import load_settings
from tests.servers import free_port, port_open, running


@pytest.fixture()
def chroma_server(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    command = [str(chroma), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1",
               "--port", str(port)]
    with running(command, port_open(port), tmp_path / "chroma.log", timeout=60, name="chroma run"):
        yield port


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
