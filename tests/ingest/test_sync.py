"""Sync against a real Chroma store in a temporary folder with the real embedding model."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ingest import planning
from ingest.chunk_writes import chunk_id
from ingest.locking import acquire_write_lock
from ingest.sync import run_sync
from rag import factories
from rag.catalog import CATALOG_NAME, sha256_file
from rag.config import Settings, load_settings
from rag.errors import EmbedderMismatchError, StoreLockedError
from rag.store import stored_chunks


def settings_for(docs: Path, store: Path, **extra: Any) -> Settings:
    return load_settings(docs_dir=docs, store_dir=store, **extra)


def store_state(settings: Settings) -> dict[str, Any]:
    """Everything the store holds: Chroma chunks, manifest rows and lexical rows."""
    client = factories.build_chroma_client(settings)
    got = client.get_collection(settings.collection).get(include=["documents", "metadatas"])
    chroma = {i: (d, m["source"], m.get("page"), m["chunk_index"], m["file_sha256"])
              for i, d, m in stored_chunks(got)}
    second = factories.multilingual_collection(client, settings, create=False)
    multilingual = {} if second is None else dict(
        zip(second.get()["ids"], (m["source"] for m in second.get()["metadatas"]), strict=True))
    with sqlite3.connect(Path(settings.store_dir) / CATALOG_NAME) as conn:
        files = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT source, sha256, chunks FROM files")}
        fts = sorted(r[0] for r in conn.execute("SELECT chunk_id FROM chunks_fts"))
    return {"chroma": chroma, "files": files, "fts": fts, "multilingual": multilingual}


def write(docs: Path, name: str, text: str) -> Path:
    path = docs / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


POLICY = "# Leave policy\n\nFull-time staff get 25 vacation days a year.\n\n## Sick leave\n\nTen paid sick days.\n"
TRAVEL = "# Travel\n\nHotels are capped at 180 euros a night. Book trains for trips under 4 hours.\n"
CHINESE = "# 报销\n\n员工出差住宿标准为每晚五百元。报销须在三十天内提交。\n"


def test_add_change_delete_rename(docs: Path, store: Path) -> None:
    settings = settings_for(docs, store)
    write(docs, "policy.md", POLICY)
    write(docs, "travel.md", TRAVEL)
    write(docs, "zh/报销.md", CHINESE)

    first = run_sync([], settings)
    assert (first.files_added, first.files_failed, first.chunks_written) == (3, [], first.chunks_total)
    state = store_state(settings)
    assert set(state["files"]) == {"policy.md", "travel.md", "zh/报销.md"}
    assert sorted(state["chroma"]) == state["fts"]
    assert sum(n for _, n in state["files"].values()) == len(state["chroma"])
    texts = " ".join(v[0] for v in state["chroma"].values())
    assert "25 vacation days" in texts and "每晚五百元" in texts
    sources = {v[1] for v in state["chroma"].values()}
    assert sources == {"policy.md", "travel.md", "zh/报销.md"}
    # the Chinese chunks, and only they, also have multilingual vectors
    assert set(state["multilingual"].values()) == {"zh/报销.md"}
    assert set(state["multilingual"]) <= set(state["chroma"])

    again = run_sync([], settings)
    assert (again.files_unchanged, again.chunks_written, again.files_added) == (3, 0, 0)
    assert store_state(settings) == state

    # change one file: its old chunks are replaced, the others untouched
    write(docs, "policy.md", POLICY.replace("25 vacation days", "27 vacation days"))
    changed = run_sync([], settings)
    assert (changed.files_updated, changed.files_unchanged) == (1, 2)
    after = store_state(settings)
    texts = " ".join(v[0] for v in after["chroma"].values())
    assert "27 vacation days" in texts and "25 vacation days" not in texts
    assert {k: v for k, v in after["chroma"].items() if v[1] != "policy.md"} == {
        k: v for k, v in state["chroma"].items() if v[1] != "policy.md"
    }

    # delete one, rename another
    (docs / "travel.md").unlink()
    (docs / "zh" / "报销.md").rename(docs / "zh" / "expenses.md")
    moved = run_sync([], settings)
    assert (moved.files_removed, moved.files_added, moved.files_unchanged) == (2, 1, 1)
    final = store_state(settings)
    assert set(final["files"]) == {"policy.md", "zh/expenses.md"}
    assert {v[1] for v in final["chroma"].values()} == {"policy.md", "zh/expenses.md"}
    assert set(final["multilingual"].values()) == {"zh/expenses.md"}
    assert sorted(final["chroma"]) == final["fts"]
    assert moved.chunks_total == len(final["chroma"])


def test_multilingual_index_follows_the_setting(docs: Path, store: Path) -> None:
    """A store built without multilingual vectors (or before they existed) gets them from the
    next sync with the setting on, once; a deletion reaches them even with the setting off."""
    from ingest.manage import delete_document

    write(docs, "policy.md", POLICY)
    write(docs, "报销.md", CHINESE)
    off = settings_for(docs, store, multilingual_embedding=False)
    assert run_sync([], off).files_added == 2
    assert store_state(off)["multilingual"] == {}
    on = settings_for(docs, store)
    upgraded = run_sync([], on)
    assert (upgraded.files_updated, upgraded.files_failed) == (2, [])
    assert set(store_state(on)["multilingual"].values()) == {"报销.md"}
    assert run_sync([], on).files_unchanged == 2  # once
    assert delete_document(off, "报销.md")
    assert store_state(on)["multilingual"] == {}


def index_widths(settings: Settings) -> set[tuple[int, int]]:
    """(ef_search, ef_construction) of both collections, read by a fresh client."""
    factories.reset_chroma_cache()
    client = factories.build_chroma_client(settings)
    return {(c.configuration["hnsw"]["ef_search"], c.configuration["hnsw"]["ef_construction"])
            for c in (client.get_collection(settings.collection),
                      factories.multilingual_collection(client, settings, create=False))}


def test_the_index_widths_are_the_settings_and_a_rebuild_applies_the_build_width(
        docs: Path, store: Path, caplog: pytest.LogCaptureFixture) -> None:
    """New collections are made with RAG_HNSW_EF_SEARCH and RAG_HNSW_EF_CONSTRUCTION (Chroma's
    defaults are 100). Chroma keeps a collection's configuration: a changed search width is
    given by the next sync that writes; a changed build width is logged and applied by
    --rebuild."""
    write(docs, "policy.md", POLICY)
    write(docs, "报销.md", CHINESE)
    first = settings_for(docs, store)
    assert first.hnsw_ef_search != 100 and first.hnsw_ef_construction != 100
    run_sync([], first)
    built = first.hnsw_ef_construction
    assert index_widths(first) == {(first.hnsw_ef_search, built)}

    wider = settings_for(docs, store, hnsw_ef_search=300, hnsw_ef_construction=built + 100)
    run_sync([], wider)
    assert index_widths(wider) == {(200, built)}  # nothing changed, nothing written: not yet
    write(docs, "travel.md", TRAVEL)
    with caplog.at_level(logging.INFO, logger="rag.store"):
        assert run_sync([], wider).files_added == 1
    assert index_widths(wider) == {(300, built)}  # the build width is kept
    assert "python -m ingest --rebuild" in caplog.text
    assert f"RAG_HNSW_EF_CONSTRUCTION={built + 100}" in caplog.text
    assert run_sync([], wider, rebuild=True).files_added == 3
    assert index_widths(wider) == {(300, built + 100)}
    assert [d.metadata["source"] for d in factories.build_retriever(wider).search(
        "hotel cap per night", mode="dense")][:1] == ["travel.md"]


def test_ids_are_deterministic_and_rebuild_converges(docs: Path, store: Path) -> None:
    settings = settings_for(docs, store)
    write(docs, "policy.md", POLICY)
    run_sync([], settings)
    before = store_state(settings)
    assert chunk_id("policy.md", before["files"]["policy.md"][0], 0) in before["chroma"]
    rebuilt = run_sync([], settings, rebuild=True)
    assert rebuilt.files_added == 1
    assert store_state(settings) == before


def test_a_failing_file_never_loses_what_is_stored(docs: Path, store: Path, eval_pdfs: Path) -> None:
    settings = settings_for(docs, store)
    write(docs, "policy.md", POLICY)
    shutil.copy(eval_pdfs / "minimal-document.pdf", docs / "paper.pdf")
    run_sync([], settings)
    before = store_state(settings)

    # the good PDF is replaced by an encrypted one, and broken files arrive
    shutil.copy(eval_pdfs / "libreoffice-writer-password.pdf", docs / "paper.pdf")
    shutil.copy(eval_pdfs / "grayscale-image.pdf", docs / "scan.pdf")
    (docs / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    report = run_sync([], settings)
    errors = {f.path: f.error for f in report.files_failed}
    assert errors["paper.pdf"].startswith("encrypted:")
    assert errors["scan.pdf"].startswith("no extractable text: scanned? needs OCR")
    assert errors["blob.txt"].startswith("binary file")
    assert store_state(settings) == before  # the old paper.pdf chunks are still there

    # a second run reports the same failures without parsing them again
    report = run_sync([], settings)
    assert {f.path for f in report.files_failed} == {"paper.pdf", "scan.pdf", "blob.txt"}
    assert report.files_unchanged == 1


def test_writes_are_split_below_chromas_max_batch(docs: Path, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(docs, store, chunk_size=40, chunk_overlap=5, batch_size=64)
    write(docs, "long.md", "# Long\n\n" + " ".join(f"Rule {i} says something specific." for i in range(300)))
    calls: list[int] = []
    monkeypatch.setattr(factories, "max_write_batch", lambda client: 7)
    real_get = factories.get_collection

    def spying_get(*args: Any, **kwargs: Any) -> Any:
        collection = real_get(*args, **kwargs)
        real_upsert = collection.upsert

        def upsert(**kw: Any) -> Any:
            calls.append(len(kw["ids"]))
            return real_upsert(**kw)

        collection.upsert = upsert
        return collection

    monkeypatch.setattr(factories, "get_collection", spying_get)
    report = run_sync([], settings)
    assert report.chunks_written > 20
    assert calls and max(calls) <= 7 and sum(calls) == report.chunks_written


def test_second_writer_is_refused(docs: Path, store: Path) -> None:
    settings = settings_for(docs, store)
    write(docs, "policy.md", POLICY)
    lock = acquire_write_lock(settings)
    try:
        with pytest.raises(StoreLockedError, match="another ingestion is writing"):
            run_sync([], settings)
    finally:
        lock.release()
    assert run_sync([], settings).files_added == 1


def test_a_failed_run_stops_the_parser_and_releases_the_store(
        docs: Path, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error while embedding ends the parsing worker without waiting for the files it was
    given ahead, releases the store's lock, and the next run stores everything."""
    from pebble import ProcessPool

    settings = settings_for(docs, store)
    for i in range(12):
        write(docs, f"note{i:02}.md", POLICY.replace("25", str(i)))

    class Broken:
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            raise RuntimeError("the embedder broke")

    waited: list[bool] = []
    real_wait = ProcessPool._wait_queue_depletion
    monkeypatch.setattr(ProcessPool, "_wait_queue_depletion",
                        lambda pool, timeout: (waited.append(True), real_wait(pool, timeout))[1])
    with monkeypatch.context() as broken:
        broken.setattr(factories, "build_embeddings", lambda s: Broken())
        with pytest.raises(RuntimeError, match="the embedder broke"):
            run_sync([], settings)
    assert not waited, "the parsing worker was waited for instead of stopped"

    report = run_sync([], settings)  # the lock was released; nothing half-written remains
    assert (report.files_added, report.files_failed) == (12, [])
    assert len(store_state(settings)["files"]) == 12
    assert waited  # a run that succeeds does wait for its worker (the spy sees that)


def test_parse_time_limit(docs: Path, store: Path, eval_pdfs: Path) -> None:
    settings = settings_for(docs, store, parse_timeout_s=0.001)
    shutil.copy(eval_pdfs / "pdflatex-4-pages.pdf", docs / "slow.pdf")
    report = run_sync([], settings)
    assert report.files_failed and "parsing took longer than" in report.files_failed[0].error


def test_embedder_mismatch_is_refused(docs: Path, store: Path, tmp_path: Path) -> None:
    settings = settings_for(docs, store)
    write(docs, "policy.md", POLICY)
    run_sync([], settings)
    other = tmp_path / "other-model"
    shutil.copytree(factories.embedding_model_dir(settings), other)
    config = other / "sentence_bert_config.json"
    config.write_text(config.read_text().replace("256", "128"))
    write(docs, "travel.md", TRAVEL)
    with pytest.raises(EmbedderMismatchError, match="was built with the embedding model"):
        run_sync([], settings_for(docs, store, embedding_model=str(other)))
    assert set(store_state(settings)["files"]) == {"policy.md"}


def test_dry_run_writes_nothing(docs: Path, store: Path) -> None:
    settings = settings_for(docs, store)
    write(docs, "policy.md", POLICY)
    report = run_sync([], settings, dry_run=True)
    assert report.dry_run and report.files_added == 1
    assert not (store / CATALOG_NAME).exists()


def test_dry_run_on_a_store_with_a_vanished_failed_file(docs: Path, store: Path) -> None:
    settings = settings_for(docs, store)
    write(docs, "policy.md", POLICY)
    (docs / "blob.txt").write_bytes(b"\x00\x01binary")
    assert [f.path for f in run_sync([], settings).files_failed] == ["blob.txt"]
    (docs / "blob.txt").unlink()
    before = store_state(settings)
    report = run_sync([], settings, dry_run=True)  # reads the store, writes nothing
    assert (report.files_unchanged, report.files_failed) == (1, [])
    assert store_state(settings) == before
    assert run_sync([], settings).files_failed == []


def test_an_unchanged_rerun_does_not_open_chroma(docs: Path, store: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(docs, store)
    write(docs, "policy.md", POLICY)
    first = run_sync([], settings)
    assert first.files_added == 1

    def no_chroma(*_: object) -> None:
        raise AssertionError("Chroma opened for an unchanged re-run")

    monkeypatch.setattr(factories, "build_chroma_client", no_chroma)
    again = run_sync([], settings)
    assert (again.files_unchanged, again.files_added, again.chunks_total) == (1, 0, first.chunks_total)
    monkeypatch.undo()
    write(docs, "travel.md", TRAVEL)  # a change: the full run, counted once
    hashed: list[str] = []

    def count(path: Path) -> str:
        hashed.append(Path(path).name)
        return sha256_file(path)

    monkeypatch.setattr(planning, "sha256_file", count)
    changed = run_sync([], settings)
    assert (changed.files_unchanged, changed.files_added) == (1, 1)
    assert sorted(hashed) == ["policy.md", "travel.md"]  # planned twice, each file read once


def test_the_files_of_a_batch_are_recorded_in_one_write(docs: Path, store: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Many small files: one records write per batch, not two Chroma calls per file (400
    one-chunk files took 15 s instead of 7)."""
    from rag.records import Records

    for i in range(12):
        write(docs, f"note{i:02}.md", f"# Note {i}\n\nRoom {i} is booked on day {i} of the month.\n")
    settings = settings_for(docs, store, batch_size=5)
    written: list[list[str]] = []
    real = Records.commit_files

    def spy(self: Records, records: Any) -> None:
        written.append([r.source for r in records])
        real(self, records)

    monkeypatch.setattr(Records, "commit_files", spy)
    report = run_sync([], settings)
    assert report.files_added == 12 and report.chunks_written == 12
    assert [len(w) for w in written] == [5, 5, 2]  # the files of each batch of 5 chunks together
    assert sorted(s for w in written for s in w) == [f"note{i:02}.md" for i in range(12)]
    state = store_state(settings)
    assert len(state["files"]) == len(state["fts"]) == len(state["chroma"]) == 12
    records = Records.open(factories.build_chroma_client(settings), settings, create=False)
    assert records is not None and len(records.files()) == 12
    assert run_sync([], settings).files_unchanged == 12


def test_chunks_a_killed_run_left_are_deleted_for_every_file_of_a_batch(docs: Path, store: Path) -> None:
    """Chunks of other content under the names of files a batch adds (as a run killed before
    recording them leaves them) go, in one delete for the batch, for each of its files."""
    write(docs, "policy.md", POLICY)
    settings = settings_for(docs, store, batch_size=64)
    run_sync([], settings)
    collection = factories.build_chroma_client(settings).get_collection(settings.collection)
    dimension = factories.embedder_info(settings).dimension
    stale = [f"stale-{name}" for name in ("a.md", "b.md", "c.md")]
    collection.upsert(ids=stale, embeddings=[[0.1] * dimension] * 3, documents=["old"] * 3,
                      metadatas=[{"source": n, "file_sha256": "older", "chunk_index": 0, "title": n}
                                 for n in ("a.md", "b.md", "c.md")])
    for name in ("a.md", "b.md", "c.md"):
        write(docs, name, f"# {name}\n\nThe {name} rule applies on Mondays.\n")
    report = run_sync([], settings)
    assert report.files_added == 3
    assert not collection.get(ids=stale)["ids"]
    assert {m["source"] for m in collection.get(include=["metadatas"])["metadatas"]} == {
        "policy.md", "a.md", "b.md", "c.md"}
    assert sorted(store_state(settings)["files"]) == ["a.md", "b.md", "c.md", "policy.md"]


def test_a_file_spanning_batches_is_recorded_after_its_last_chunk_is_written(
        docs: Path, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The write order a killed run relies on: a file is recorded (the commit point) only when
    every one of its chunks is in Chroma, even when they arrive in several batches."""
    from rag.records import Records

    write(docs, "long.md", "# Long\n\n" + " ".join(f"Rule {i} says something specific." for i in range(60)))
    write(docs, "short.md", "# Short\n\nThe short rule applies on Fridays.\n")
    settings = settings_for(docs, store, chunk_size=40, chunk_overlap=5, batch_size=3)
    collection_at_commit: list[tuple[str, int, int]] = []  # (source, chunks stored, chunks it has)
    real = Records.commit_files

    def spy(self: Records, records: Any) -> None:
        chunks = factories.build_chroma_client(settings).get_collection(settings.collection)
        for record in records:
            stored = chunks.get(where={"$and": [{"source": record.source},
                                                 {"file_sha256": record.sha256}]})["ids"]
            collection_at_commit.append((record.source, len(stored), record.chunks))
        real(self, records)

    monkeypatch.setattr(Records, "commit_files", spy)
    report = run_sync([], settings)
    long_chunks = next(c for s, _, c in collection_at_commit if s == "long.md")
    assert long_chunks > 2 * 3  # spans at least three batches
    assert report.chunks_written == long_chunks + 1
    assert sorted(s for s, _, _ in collection_at_commit) == ["long.md", "short.md"]  # once each
    assert all(stored == total for _, stored, total in collection_at_commit)
