"""Chunks into the store, in an order that makes a run killed at any moment converge on the next:

1. new chunks are upserted into Chroma under deterministic ids (:func:`chunk_id`: source, content
   hash, index);
2. the file's older chunks (other content hash) are deleted from Chroma;
3. the file's record in Chroma (:mod:`rag.records`) is replaced: the commit point;
4. one SQLite transaction replaces the file's lexical rows and its manifest row in the local
   catalog, a cache of the records that any process can rebuild from Chroma.

Until step 3 the records still hold the old hash, so the next run redoes 1-3 for that file, which
is idempotent; a run killed before step 4 has its catalog brought in step by the next one. A
removed file is deleted from Chroma first, from the records next, from the catalog last
(:mod:`ingest.sync`).

A file's chunks may span batches: it is committed (2-4) by the write of the batch that holds its
last chunk, together with the other files that batch completes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ingest.parse import truncate_to_tokens
from rag.books import StoreBooks
from rag.catalog import FileRecord, header_for
from rag.schemas import IngestReport
from rag.store import chunk_entry


def chunk_id(source: str, sha256: str, index: int) -> str:
    return f"{hashlib.sha1(source.encode('utf-8')).hexdigest()[:16]}-{sha256[:12]}-{index:05d}"


def chunk_header(title: str, heading: str | None, tokenizer_file: str) -> str:
    """The title/heading line embedded (and indexed) above a chunk, cut to the room kept for it."""
    return truncate_to_tokens(header_for(title, heading), tokenizer_file, 30)


@dataclass(slots=True)
class PendingFile:
    """A parsed file whose chunks are being embedded and written."""

    record: FileRecord
    is_new: bool
    ids: list[str]
    texts: list[str]
    remaining: int


@dataclass(slots=True)
class ChunkBatch:
    """Chunks embedded together and written together."""

    ids: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    embed_texts: list[str] = field(default_factory=list)
    metadatas: list[dict[str, Any]] = field(default_factory=list)
    owners: list[PendingFile] = field(default_factory=list)
    multilingual: list[int] = field(default_factory=list)  # positions also for the second index

    def add(self, owner: PendingFile, index: int, document: str, embed_text: str,
            metadata: dict[str, Any], *, multilingual: bool) -> None:
        """Chunk ``index`` of ``owner``; ``multilingual``: also embedded into the second index."""
        self.ids.append(owner.ids[index])
        self.documents.append(document)
        self.embed_texts.append(embed_text)
        self.metadatas.append(metadata)
        self.owners.append(owner)
        if multilingual:
            self.multilingual.append(len(self.ids) - 1)


class ChunkWrites:
    """One run's writes to the chunk collections (the dense one and, if on, the multilingual
    one) and to the store's books, in the order above. Called from one thread at a time."""

    def __init__(self, collection: Any, multilingual: Any, books: StoreBooks, report: IngestReport,
                 max_batch: int) -> None:
        self.collection = collection
        self.multilingual = multilingual
        self.books = books
        self.report = report
        self.max_batch = max_batch  # the most chunks Chroma takes in one call

    def write(self, batch: ChunkBatch, vectors: list[list[float]], multilingual: list[list[float]]) -> None:
        """Upsert the batch's chunks, then commit the files whose last chunk it holds."""
        self._upsert(self.collection, batch, list(range(len(batch.ids))), vectors)
        if multilingual:
            self._upsert(self.multilingual, batch, batch.multilingual, multilingual)
        self.report.chunks_written += len(batch.ids)
        finished = []
        for owner in batch.owners:
            owner.remaining -= 1
            if owner.remaining == 0:
                finished.append(owner)
        if finished:
            self._finish_files(finished)

    def _upsert(self, collection: Any, batch: ChunkBatch, positions: list[int], vectors: list[list[float]]) -> None:
        """Write the chunks at ``positions`` of the batch, in pieces Chroma accepts."""
        for start in range(0, len(positions), self.max_batch):
            part = positions[start:start + self.max_batch]
            entries = [chunk_entry(batch.documents[i], batch.metadatas[i]) for i in part]
            collection.upsert(
                ids=[batch.ids[i] for i in part], embeddings=vectors[start:start + self.max_batch],
                documents=[document for document, _ in entries],
                metadatas=[metadata for _, metadata in entries],
            )

    def delete(self, where: dict[str, Any]) -> None:
        """Delete the chunks ``where`` matches from both collections."""
        for collection in (self.collection, self.multilingual):
            if collection is not None:
                collection.delete(where=where)

    def _finish_files(self, finished: list[PendingFile]) -> None:
        """Files whose chunks are all in Chroma: their older chunks deleted, then recorded, one
        Chroma call each for the batch's files (per file: 29 ms, 1.2 of a 40-file run's s)."""
        # Also for "new" files: a run killed earlier may have left chunks of other content.
        stale = [{"$and": [{"source": p.record.source}, {"file_sha256": {"$ne": p.record.sha256}}]}
                 for p in finished]
        self.delete(where=stale[0] if len(stale) == 1 else {"$or": stale})
        self.books.commit_files([(p.record, zip(p.ids, p.texts)) for p in finished])
        added = sum(p.is_new for p in finished)
        self.report.files_added += added
        self.report.files_updated += len(finished) - added
