"""The store's records in Chroma: the per-file manifest, recorded failures and facts about the
store (which embedder built it, last sync), kept in a small collection beside the chunks.

Chroma is the source of truth. The local catalog (:mod:`rag.catalog`: manifest copy and the
lexical index) is a cache any process rebuilds from it (:mod:`rag.catalog_refresh`), so a fresh
process on another machine (empty store folder, same Chroma server) answers with hybrid
retrieval at once.

Writers go through :class:`rag.books.StoreBooks`: Chroma first (the commit point), the catalog
second. A run killed in between leaves a catalog that the next refresh brings in step.

In server mode one machine writes (:meth:`Records.claim_writer`): the records collection names
its writer when it is created, which the server does once, atomically; any other machine's
write is refused with a message that says where to ingest.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, replace
from typing import Any

from rag.catalog import Catalog, FileRecord
from rag.config import Settings
from rag.errors import StoreFormatError, StoreLockedError
from rag.store import (
    build_chroma_client,
    not_found_errors,
    records_collection_name,
)

log = logging.getLogger(__name__)

_FILE, _FAILURE, _META = "file:", "failure:", "meta:"
_VERSION = _META + "version"
_PLACEHOLDER = [0.0]  # records are looked up by id, never by similarity
COPIED_META = ("embedder", "last_sync", "multilingual", "store_format")
# How the store is laid out (chunks, records, metadata). Raised only when an older version could
# not read what this one writes; the writer records it, every reader checks it, so a store
# written by a newer version is refused with what to do instead of being misread. 2: a chunk's
# text is in its metadata, not Chroma's document (:data:`rag.store.TEXT_KEY`; format 1 read as is).
STORE_FORMAT = 2
REINDEX = "reindex:"


def writer_id(settings: Settings) -> str:
    """Who writes this store: ``RAG_WRITER_ID``, else this machine and its store folder."""
    import socket

    return settings.writer_id or f"{socket.gethostname()}:{settings.store_dir.resolve()}"


def _file_entry(record: FileRecord) -> tuple[str, dict[str, Any]]:
    return _FILE + record.source, {"kind": "file", **asdict(record)}


def _failure_entry(source: str, root: str, sha256: str, error: str) -> tuple[str, dict[str, Any]]:
    return _FAILURE + source, {"kind": "failure", "source": source, "root": root,
                               "sha256": sha256, "error": error}


class Records:
    """The records collection. Every write also replaces the version record."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection

    @classmethod
    def open(cls, client: Any, settings: Settings, *, create: bool) -> Records | None:
        name = records_collection_name(settings)
        if create:
            return cls(client.get_or_create_collection(
                name, metadata={"writer": writer_id(settings)}, embedding_function=None))
        try:
            return cls(client.get_collection(name, embedding_function=None))
        except not_found_errors():
            return None

    @property
    def store_id(self) -> str:
        """Changes when the store is rebuilt or another server is named."""
        return str(self.collection.id)

    def _get(self, **where: Any) -> list[tuple[str, dict[str, Any]]]:
        found = self.collection.get(include=["metadatas"], **where)
        return list(zip(found["ids"], found["metadatas"] or []))

    def _write(self, upserts: list[tuple[str, dict[str, Any]]], deletes: Iterable[str] = ()) -> None:
        deletes = list(deletes)
        if deletes:
            self.collection.delete(ids=deletes)
        upserts = [*upserts, (_VERSION, {"kind": "meta", "value": uuid.uuid4().hex})]
        self.collection.upsert(
            ids=[i for i, _ in upserts], embeddings=[_PLACEHOLDER] * len(upserts),
            metadatas=[{k: v for k, v in m.items() if v is not None} for _, m in upserts])

    # --- reading ------------------------------------------------------------------------
    def version(self) -> str | None:
        return self.version_and_format()[0]

    def version_and_format(self) -> tuple[str | None, str | None]:
        """The records' version and the store format, in one read."""
        found = dict(self._get(ids=[_VERSION, _META + "store_format"]))
        version, store_format = found.get(_VERSION), found.get(_META + "store_format")
        return (str(version["value"]) if version else None,
                str(store_format["value"]) if store_format else None)

    def files(self) -> dict[str, FileRecord]:
        out = {}
        for _, meta in self._get(where={"kind": "file"}):
            out[meta["source"]] = FileRecord(
                source=meta["source"], root=meta["root"], sha256=meta["sha256"], size=meta["size"],
                title=meta.get("title"), pages=meta.get("pages"), chunks=meta["chunks"],
                ingested_at=meta["ingested_at"])
        return out

    def failures(self) -> dict[str, tuple[str, str, str]]:
        return {m["source"]: (m["root"], m["sha256"], m["error"])
                for _, m in self._get(where={"kind": "failure"})}

    def get_meta(self, key: str) -> str | None:
        found = self._get(ids=[_META + key])
        return str(found[0][1]["value"]) if found else None

    def writer(self) -> str | None:
        return (self.collection.metadata or {}).get("writer")

    # --- writing ------------------------------------------------------------------------
    def claim_writer(self, settings: Settings, *, take_over: bool = False) -> None:
        """Refuse to write unless this machine is the store's writer (or takes over)."""
        me, owner = writer_id(settings), self.writer()
        if owner in (None, me):
            return
        if take_over:
            self.collection.modify(metadata={**(self.collection.metadata or {}), "writer": me})
            log.warning("took over writing the knowledge base from %s", owner)
            return
        raise StoreLockedError(
            f"the knowledge base on the Chroma server {settings.chroma_host}:{settings.chroma_port} "
            f"is written by {owner}: ingest, upload and delete there (one writer keeps the store "
            "consistent); if that machine is gone for good, run `python -m ingest --take-over` here"
        )

    def set_meta(self, key: str, value: str) -> None:
        self._write([(_META + key, {"kind": "meta", "value": value})])

    def commit_files(self, records: Sequence[FileRecord]) -> None:
        """One write for them all: each call into Chroma costs about 15 ms and holds the GIL."""
        self._write([_file_entry(r) for r in records], deletes=[_FAILURE + r.source for r in records])

    def remove_file(self, source: str) -> None:
        self._write([], deletes=[_FILE + source, _FAILURE + source])

    def record_failure(self, source: str, root: str, sha256: str, error: str) -> None:
        self._write([_failure_entry(source, root, sha256, error)])

    def forget_failures(self, sources: Iterable[str]) -> None:
        sources = list(sources)
        if sources:
            self._write([], deletes=[_FAILURE + s for s in sources])

    def mark_all_changed(self) -> None:
        """Every file's hash prefixed, so the next sync re-indexes them all."""
        marked = [_file_entry(replace(r, sha256=REINDEX + r.sha256))
                  for r in self.files().values() if not r.sha256.startswith(REINDEX)]
        self._write(marked)

    def copy_catalog(self, catalog: Catalog) -> None:
        """A store from before the records: copy the catalog's manifest into Chroma once."""
        files = catalog.files()
        log.info("recording %d files of the knowledge base in Chroma (once)", len(files))
        upserts = [_file_entry(r) for r in files.values()]
        upserts += [_failure_entry(s, *failure) for s, failure in catalog.failures().items()]
        upserts += [(_META + key, {"kind": "meta", "value": value}) for key in COPIED_META
                    if (value := catalog.get_meta(key)) is not None]
        for start in range(0, len(upserts), 1000):
            self._write(upserts[start:start + 1000])


def check_format(recorded: str | None, settings: Settings) -> None:
    """Refuse a store written by a newer version (a store from an older one is read as is)."""
    if recorded is not None and int(recorded) > STORE_FORMAT:
        from rag import __version__

        raise StoreFormatError(
            f"the knowledge base at {settings.store_dir} was written by a newer version of this "
            f"product (store format {recorded}; version {__version__} reads format "
            f"{STORE_FORMAT} and older): install that version again, or rebuild the store for "
            "this one with `python -m ingest --rebuild` (reads and embeds every document again)")


def claim_writer(settings: Settings, *, take_over: bool = False) -> None:
    """On a Chroma server: refuse unless this machine is the store's one writer."""
    if not settings.chroma_host:
        return  # a local folder: the store folder's write lock is enough
    records = Records.open(build_chroma_client(settings), settings, create=True)
    assert records is not None
    records.claim_writer(settings, take_over=take_over)
