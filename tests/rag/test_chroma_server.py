"""The scale-out path: the same ingestion and retrieval against a Chroma server (client/server
mode) on loopback instead of the local folder; a second machine (another, empty store folder)
answers from it at once and may not write."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.manage import delete_document
from ingest.sync import run_sync
from rag import factories
from rag.config import load_settings
from rag.errors import StoreLockedError, StoreUnavailableError
from tests.servers import chroma_server as start_chroma
from tests.servers import free_port


@pytest.fixture()
def chroma_server(tmp_path: Path) -> Iterator[int]:
    with start_chroma(tmp_path) as port:
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


def test_a_second_machine_answers_at_once_and_only_one_writes(chroma_server: int, docs: Path,
                                                              tmp_path: Path) -> None:
    (docs / "canteen.md").write_text("# Canteen\n\nThe canteen opens at 11:30 every working day.\n")
    (docs / "policy.md").write_text("# Leave\n\nFull-time staff get 25 vacation days a year.\n")
    server = {"chroma_host": "127.0.0.1", "chroma_port": chroma_server, "docs_dir": docs}
    first = load_settings(store_dir=tmp_path / "machine-a", **server)
    second = load_settings(store_dir=tmp_path / "machine-b", **server)
    assert run_sync([], first).files_added == 2

    retriever = factories.build_retriever(second)  # its store folder is empty
    retriever.REFRESH_S = 0
    hit = retriever.search("When does the canteen open?", 1)[0]
    assert hit.source == "canteen.md" and hit.bm25 > 0  # hybrid: the lexical index was derived

    for write in (lambda: run_sync([], second), lambda: delete_document(second, "policy.md")):
        with pytest.raises(StoreLockedError, match="is written by .*machine-a.*--take-over"):
            write()

    (docs / "canteen.md").write_text("# Canteen\n\nThe canteen now opens at 12:15.\n")
    assert run_sync([], first).files_updated == 1
    hit = retriever.search("When does the canteen open?", 1)[0]  # the writer's change, seen
    assert "12:15" in hit.text and hit.bm25 > 0

    assert run_sync([], second, take_over=True).files_unchanged == 2  # the old writer is gone
    with pytest.raises(StoreLockedError, match="machine-b"):
        run_sync([], first)


def test_a_chroma_server_that_is_down_says_so(store: Path) -> None:
    port = free_port()  # nothing listens there
    settings = load_settings(store_dir=store, chroma_host="127.0.0.1", chroma_port=port)
    with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port} does not answer"):
        factories.build_retriever(settings)
    done = subprocess.run([sys.executable, "-m", "rag", "search", "canteen", "--store", str(store)],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "RAG_CHROMA_HOST": "127.0.0.1",
                               "RAG_CHROMA_PORT": str(port)})
    assert done.returncode == 2 and "chroma run" in done.stderr and "Traceback" not in done.stderr

