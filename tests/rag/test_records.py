"""Chroma is the source of truth: the local catalog (manifest copy, lexical index) is a cache
that is rebuilt from the records and chunks in Chroma (local folder mode here; the server mode
is in test_chroma_server.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.sync import run_sync
from rag import factories
from rag.catalog import CATALOG_NAME, Catalog
from rag.catalog_refresh import open_catalog
from rag.config import load_settings
from rag.errors import StoreFormatError
from rag.records import STORE_FORMAT, Records
from rag.store import TEXT_KEY, records_collection_name, stored_chunk, stored_chunks
from tests.ingest.test_cli import ingest

POLICY = "# Leave policy\n\nFull-time staff get 25 vacation days a year.\n"
CANTEEN = "# Canteen\n\nThe canteen opens at 11:30 every working day.\n"


@pytest.fixture()
def filled(docs: Path, store: Path):  # type: ignore[no-untyped-def]
    (docs / "policy.md").write_text(POLICY)
    (docs / "canteen.md").write_text(CANTEEN)
    settings = load_settings(docs_dir=docs, store_dir=store)
    assert run_sync([], settings).files_added == 2
    return settings


def _catalog_files(store: Path) -> dict[str, str]:
    catalog = Catalog(store)
    try:
        return {s: r.sha256 for s, r in catalog.files().items()}
    finally:
        catalog.close()


def test_the_records_in_chroma_hold_the_manifest(filled) -> None:  # type: ignore[no-untyped-def]
    records = Records.open(factories.build_chroma_client(filled), filled, create=False)
    assert records is not None
    assert {s: r.sha256 for s, r in records.files().items()} == _catalog_files(filled.store_dir)
    assert records.get_meta("embedder") and records.version()


def test_a_lost_catalog_is_rebuilt_from_chroma_without_embedding(filled, store: Path) -> None:  # type: ignore[no-untyped-def]
    before = _catalog_files(store)
    for suffix in ("", "-wal", "-shm"):
        (store / f"{CATALOG_NAME}{suffix}").unlink(missing_ok=True)
    hits = factories.build_retriever(filled).search("When does the canteen open?", 2)
    assert hits[0].metadata["source"] == "canteen.md" and hits[0].bm25 > 0  # lexical again
    assert _catalog_files(store) == before
    again = run_sync([], filled)
    assert (again.files_unchanged, again.chunks_written) == (2, 0)


def test_a_run_killed_after_the_record_converges(filled, docs: Path, store: Path,  # type: ignore[no-untyped-def]
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (docs / "canteen.md").write_text(CANTEEN.replace("11:30", "12:15"))

    def killed(*_: object, **__: object) -> None:
        raise KeyboardInterrupt  # the process dies between Chroma and the catalog

    monkeypatch.setattr(Catalog, "commit_file", killed)
    with pytest.raises(KeyboardInterrupt):
        run_sync([], filled)
    monkeypatch.undo()
    catalog = open_catalog(filled)  # a reader brings the cache in step
    assert catalog is not None
    catalog.close()
    hits = factories.build_retriever(filled).search("canteen 12:15", 1)
    assert "12:15" in hits[0].text and hits[0].bm25 > 0
    again = run_sync([], filled)
    assert (again.files_unchanged, again.chunks_written) == (2, 0)


def test_a_store_from_before_the_records_is_migrated_once(filled, docs: Path) -> None:  # type: ignore[no-untyped-def]
    client = factories.build_chroma_client(filled)
    client.delete_collection(records_collection_name(filled))  # as an older version left it
    catalog = Catalog(filled.store_dir)
    with catalog.conn:
        catalog.conn.execute("DELETE FROM meta WHERE key IN ('records_store', 'records_version')")
    catalog.close()
    assert factories.build_retriever(filled).search("canteen", 1)[0].metadata["source"] == "canteen.md"
    again = run_sync([], filled)
    assert (again.files_unchanged, again.chunks_written) == (2, 0)
    records = Records.open(factories.build_chroma_client(filled), filled, create=False)
    assert records is not None and set(records.files()) == {"policy.md", "canteen.md"}
    (docs / "policy.md").unlink()
    assert run_sync([], filled).files_removed == 1
    assert set(records.files()) == {"canteen.md"}
    assert records.get_meta("store_format") == str(STORE_FORMAT)  # recorded by the next writer


def test_a_store_of_a_newer_version_is_refused_with_what_to_run(filled, docs: Path, store: Path) -> None:  # type: ignore[no-untyped-def]
    records = Records.open(factories.build_chroma_client(filled), filled, create=False)
    assert records is not None and records.get_meta("store_format") == str(STORE_FORMAT)
    records.set_meta("store_format", str(STORE_FORMAT + 1))  # as a newer version writes it:
    catalog = Catalog(store)  # in Chroma and in its local catalog
    catalog.set_meta("store_format", str(STORE_FORMAT + 1))
    catalog.close()
    with pytest.raises(StoreFormatError, match=r"newer version.*python -m ingest --rebuild"):
        factories.build_retriever(filled).search("canteen", 1)
    cli = ingest("--store", str(store), "--no-progress", str(docs))
    assert cli.returncode == 2 and "--rebuild" in cli.stderr and "Traceback" not in cli.stderr
    assert records.get_meta("store_format") == str(STORE_FORMAT + 1)  # nothing written
    rebuilt = run_sync([], filled, rebuild=True)
    assert rebuilt.files_added == 2
    hits = factories.build_retriever(filled).search("When does the canteen open?", 1)
    assert hits[0].metadata["source"] == "canteen.md"


def test_another_tokenisation_is_rebuilt_from_chroma(filled, store: Path) -> None:  # type: ignore[no-untyped-def]
    catalog = Catalog(store)
    catalog.set_meta("lexical_version", "0")
    catalog.conn.execute("DELETE FROM chunks_fts")
    catalog.conn.commit()
    catalog.close()
    hits = factories.build_retriever(filled).search("When does the canteen open?", 1)
    assert hits[0].metadata["source"] == "canteen.md" and hits[0].bm25 > 0
    assert run_sync([], filled).chunks_written == 0


def test_a_chunk_keeps_its_text_in_metadata_not_in_chromas_document(filled) -> None:  # type: ignore[no-untyped-def]
    got = factories.build_chroma_client(filled).get_collection(filled.collection).get(
        include=["documents", "metadatas"])
    assert set(got["documents"]) == {""}  # nothing for Chroma's own full-text index to build
    texts = {m["source"]: m[TEXT_KEY] for m in got["metadatas"]}
    assert "25 vacation days" in texts["policy.md"] and "11:30" in texts["canteen.md"]
    for mode in ("dense", "bm25"):  # the text comes back from either search, not as metadata
        hit = factories.build_retriever(filled).search("How many vacation days do I get?", 1, mode)[0]
        assert "25 vacation days" in hit.text and TEXT_KEY not in hit.metadata


def test_a_get_result_is_read_in_either_format() -> None:
    got = {"ids": ["new", "old"], "documents": ["", "old text"],
           "metadatas": [{TEXT_KEY: "new text", "source": "a.md"}, {"source": "b.md"}]}
    assert stored_chunks(got) == [("new", "new text", {"source": "a.md"}),
                                  ("old", "old text", {"source": "b.md"})]


def test_a_store_of_format_1_is_read_and_written_on(filled, docs: Path, store: Path) -> None:  # type: ignore[no-untyped-def]
    """Format 1 kept a chunk's text as Chroma's document: such a store still answers, its
    catalog is rebuilt from those documents, and the next sync writes format 2 beside them."""
    client = factories.build_chroma_client(filled)
    chunks = client.get_collection(filled.collection)
    got = chunks.get(include=["embeddings", "metadatas"])
    old = [stored_chunk(None, m) for m in got["metadatas"]]
    chunks.delete(ids=got["ids"])  # an upsert would keep the metadata's text beside the new keys
    chunks.add(ids=got["ids"], embeddings=got["embeddings"], documents=[t for t, _ in old],
               metadatas=[m for _, m in old])
    records = Records.open(client, filled, create=False)
    assert records is not None
    records.set_meta("store_format", "1")
    for suffix in ("", "-wal", "-shm"):  # rebuilt from Chroma's documents
        (store / f"{CATALOG_NAME}{suffix}").unlink(missing_ok=True)
    for mode in ("dense", "bm25"):
        hit = factories.build_retriever(filled).search("When does the canteen open?", 1, mode)[0]
        assert hit.metadata["source"] == "canteen.md" and "11:30" in hit.text

    (docs / "gym.md").write_text("# Gym\n\nThe gym on floor two is free for staff.\n")
    assert run_sync([], filled).files_added == 1
    assert records.get_meta("store_format") == str(STORE_FORMAT) == "2"
    for question, source, fact in (("Is the gym free?", "gym.md", "free for staff"),
                                   ("When does the canteen open?", "canteen.md", "11:30")):
        hit = factories.build_retriever(filled).search(question, 1, "hybrid")[0]
        assert hit.metadata["source"] == source and fact in hit.text
