"""A writer's books: what an ingestion, an upload or a deletion changes besides the vectors, the
file records in Chroma (:mod:`rag.records`, the source of truth) first, then the local catalog
(:mod:`rag.catalog`, a cache of them with the lexical index). A run killed in between leaves a
catalog that the next refresh (:func:`rag.catalog_refresh.refresh_catalog`) brings in step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rag.catalog import Catalog, FileRecord
from rag.catalog_refresh import refresh_catalog
from rag.config import Settings
from rag.records import STORE_FORMAT, Records, check_format


class StoreBooks:
    """What a writer changes besides the vectors: the records in Chroma first, then the local
    catalog. Reads come from the catalog, which :func:`refresh_catalog` put in step first."""

    def __init__(self, records: Records, catalog: Catalog) -> None:
        self.records = records
        self.catalog = catalog

    def files(self) -> dict[str, FileRecord]:
        return self.catalog.files()

    def failures(self) -> dict[str, tuple[str, str, str]]:
        return self.catalog.failures()

    def chunk_count(self) -> int:
        return self.catalog.chunk_count()

    def get_meta(self, key: str) -> str | None:
        return self.catalog.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self.records.set_meta(key, value)
        self.catalog.set_meta(key, value)

    def commit_files(self, files: Sequence[tuple[FileRecord, Iterable[tuple[str, str]]]]) -> None:
        """Files whose chunks are all written: their records first (one write), then the
        catalog. ``files``: (record, (chunk id, text) pairs)."""
        self.records.commit_files([record for record, _ in files])
        for record, chunks in files:
            self.catalog.commit_file(record, chunks)

    def remove_file(self, source: str) -> None:
        self.records.remove_file(source)
        self.catalog.remove_file(source)

    def record_failure(self, source: str, root: str, sha256: str, error: str) -> None:
        self.records.record_failure(source, root, sha256, error)
        self.catalog.record_failure(source, root, sha256, error)

    def forget_failure(self, sources: Iterable[str]) -> None:
        sources = list(sources)
        self.records.forget_failures(sources)
        self.catalog.forget_failure(sources)

    def reindex_unless(self, key: str, value: str) -> bool:
        """Unless ``key`` is ``value``: every file marked changed (in both), ``value`` recorded."""
        if self.records.get_meta(key) == value:
            return False
        self.records.mark_all_changed()
        self.records.set_meta(key, value)
        self.catalog.reindex_unless(key, value)
        return True

    def mark_in_step(self) -> None:
        """The catalog now holds what the records say (only the writer may say so)."""
        self.catalog.set_meta("records_version", self.records.version() or "")
        self.catalog.set_meta("records_store", self.records.store_id)


def open_books(client: Any, settings: Settings, catalog: Catalog) -> StoreBooks:
    """The writer's books: the records (created if need be) and the catalog, in step. A store
    from before the records has its catalog's manifest copied into Chroma once."""
    records = Records.open(client, settings, create=True)
    assert records is not None
    version, store_format = records.version_and_format()
    check_format(store_format, settings)
    if version is None:
        if catalog.files() or catalog.failures():
            records.copy_catalog(catalog)
    else:
        refresh_catalog(settings, client)
    books = StoreBooks(records, catalog)
    if store_format != str(STORE_FORMAT):
        books.set_meta("store_format", str(STORE_FORMAT))
    return books
