"""The local catalog brought in step with the records in Chroma (:mod:`rag.records`, the
source of truth): :func:`refresh_catalog` compares the records' version with the one the catalog
was built from and re-derives the files that changed (their chunk texts read back from Chroma),
so a fresh process on another machine (empty store folder, same Chroma server) answers with
hybrid retrieval at once. Readers open the catalog through :func:`open_catalog`;
:func:`store_stats` is what the chat page shows of the store."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

from rag.catalog import Catalog, FileRecord, header_for
from rag.config import Settings
from rag.lexical import LEXICAL_VERSION
from rag.records import COPIED_META, REINDEX, Records, check_format
from rag.store import (
    CHROMA_SUBDIR,
    build_chroma_client,
    get_chunk_collection,
    stored_chunks,
)

log = logging.getLogger(__name__)


def _chunk_texts(collection: Any, record: FileRecord) -> list[tuple[str, str]]:
    """(chunk id, indexed text) of a file's chunks in Chroma: the header line and the text."""
    sha = record.sha256.removeprefix(REINDEX)
    found = collection.get(where={"$and": [{"source": record.source}, {"file_sha256": sha}]},
                           include=["documents", "metadatas"])
    out = []
    for cid, text, meta in stored_chunks(found):
        header = meta.get("header")
        if header is None:  # stored before headers were recorded
            header = header_for(meta.get("title") or "", meta.get("heading"))
        out.append((cid, f"{header}\n{text}"))
    return out


def _in_step(settings: Settings, store_id: str, version: str) -> bool:
    catalog = Catalog.open_readonly(settings.store_dir)
    if catalog is None:
        return False
    try:
        return (catalog.get_meta("records_store"), catalog.get_meta("records_version"),
                catalog.lexical_version()) == (store_id, version, LEXICAL_VERSION)
    except sqlite3.Error:  # being created by another process right now
        return False
    finally:
        catalog.close()


def refresh_catalog(settings: Settings, client: Any) -> bool:
    """Bring the local catalog in step with the records in Chroma; returns whether anything
    changed. A store without records (built before them, or nothing ingested) is left alone."""
    records = Records.open(client, settings, create=False)
    if records is None:
        return False
    version, store_format = records.version_and_format()
    if version is None:  # created by a writer that has not written yet
        return False
    check_format(store_format, settings)
    if _in_step(settings, records.store_id, version):
        return False
    catalog = Catalog(settings.store_dir)
    try:
        if catalog.get_meta("records_store") != records.store_id:
            catalog.clear()
        chunks = get_chunk_collection(client, settings)
        truth, local = records.files(), catalog.files()
        complete = True
        for source, record in truth.items():
            have = local.get(source)
            if have is not None and (have.sha256, have.chunks) == (record.sha256, record.chunks):
                continue
            texts = _chunk_texts(chunks, record) if chunks is not None else []
            if len(texts) != record.chunks:  # a writer is changing this file right now
                complete = False
                continue
            catalog.commit_file(record, texts)
        for source in local.keys() - truth.keys():
            catalog.remove_file(source)
        catalog.replace_failures(records.failures())
        for key in COPIED_META:
            if (value := records.get_meta(key)) is not None:
                catalog.set_meta(key, value)
        if complete:
            catalog.set_meta("records_version", version)
            catalog.set_meta("records_store", records.store_id)
        log.info("lexical index refreshed from Chroma (%d files)", len(truth))
        return True
    finally:
        catalog.close()


def open_catalog(settings: Settings) -> Catalog | None:
    """The local catalog for reading, first brought in step with Chroma; None while nothing is
    stored. A local store folder without Chroma data is not created by looking."""
    if settings.chroma_host or (settings.store_dir / CHROMA_SUBDIR).is_dir():
        refresh_catalog(settings, build_chroma_client(settings))
    return Catalog.open_readonly(settings.store_dir)


@dataclass(frozen=True, slots=True)
class StoreStats:
    documents: int = 0
    chunks: int = 0
    last_sync: float | None = None

    @property
    def stamp(self) -> tuple[int, int, float | None]:
        """Changes whenever the store does (the catalog is written after Chroma)."""
        return (self.documents, self.chunks, self.last_sync)


def store_stats(settings: Settings) -> StoreStats:
    """Documents, chunks and last sync, from the catalog brought in step with Chroma."""
    catalog = open_catalog(settings)
    if catalog is None:
        return StoreStats()
    try:
        last = catalog.get_meta("last_sync")
        return StoreStats(documents=len(catalog.files()), chunks=catalog.chunk_count(),
                          last_sync=float(last) if last else None)
    except sqlite3.Error:  # the first ingestion is creating the catalog right now
        return StoreStats()
    finally:
        catalog.close()

