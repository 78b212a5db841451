"""Sync a folder of documents into the knowledge base: add, update, remove; never append twice.

A run plans from the store's books (:mod:`ingest.planning`: which files changed, which are
gone), parses the changed files in a worker process (:mod:`ingest.workers`), embeds their chunks
here in batches, and writes each batch on a thread of its own (:mod:`ingest.writer`) while the
next is embedded, in the order that makes a run killed at any moment converge on the next one
(:mod:`ingest.chunk_writes`). A removed file is deleted from Chroma first, from the records
next, from the catalog last.

One writer at a time: the store folder's lock, and on a Chroma server one writing machine
(:mod:`ingest.locking`).

Chunks in a language the embedding model does not understand (Chinese, for the default English
model) are also embedded by the multilingual embedder into a second collection, in the same
steps (``RAG_MULTILINGUAL_EMBEDDING``). A store built before that, or while it was off, is
re-indexed once by the next sync.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ingest.chunk_writes import (
    ChunkBatch,
    ChunkWrites,
    PendingFile,
    chunk_header,
    chunk_id,
)
from ingest.locking import acquire_write_lock
from ingest.parse import ParsedFile, SplitConfig
from ingest.planning import FileToParse, SyncPlan, plan_sync
from ingest.targets import Target, collect_targets
from ingest.workers import ParserPool
from ingest.writer import BackgroundWriter
from rag import factories
from rag.books import StoreBooks, open_books
from rag.catalog import CATALOG_NAME, Catalog, FileRecord
from rag.catalog_refresh import open_catalog
from rag.config import Settings
from rag.embedders import dense_understands, embedder_languages
from rag.records import check_format
from rag.schemas import FileFailure, IngestReport

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]


class Syncer:
    """One ingestion run against one store. Use :func:`run_sync`."""

    def __init__(self, settings: Settings, progress: ProgressFn | None = None) -> None:
        self.settings = settings
        self.progress = progress or (lambda *_: None)
        self.info = factories.embedder_info(settings)
        self.split = SplitConfig(
            tokenizer_file=str(self.info.tokenizer_file),
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
            max_tokens=self.info.max_tokens,
            max_bytes=settings.max_file_bytes,
            ocr_languages=settings.ocr_languages,
        )
        self.report = IngestReport(store_dir=str(settings.store_dir),
                                   collection=settings.collection)
        self.books: StoreBooks | None = None
        self.writes: ChunkWrites | None = None  # set once the collections are open
        # what the store records about it: the multilingual embedder, or "off"
        self.multilingual_mode = (factories.MULTILINGUAL_EMBEDDER if settings.multilingual_embedding
                                  else "off")
        self.languages: frozenset[str] | None = None  # the embedder's, read when files are added
        self.embeddings: Any = None
        self._batch = ChunkBatch()
        self._writer: BackgroundWriter | None = None
        self._embedded = 0  # chunks embedded so far (written a moment later)
        self._hashed: dict[Path, str] = {}  # files hashed by the no-op check, not hashed again

    # --- planning ---------------------------------------------------------------------
    def _apply(self, plan: SyncPlan) -> SyncPlan:
        """Count the plan's unchanged files and report the files it refused."""
        self.report.files_unchanged += plan.unchanged
        for failure in plan.failures:
            self._fail(failure.path, failure.error)
        return plan

    def _fail(self, source: str, error: str) -> None:
        log.warning("skipped %s: %s", source, error)
        self.report.files_failed.append(FileFailure(path=source, error=error))

    # --- running ----------------------------------------------------------------------
    def run(self, targets: list[Target], *, rebuild: bool = False, dry_run: bool = False,
            locked: bool = False, take_over: bool = False) -> IngestReport:
        """``locked``: the caller holds the store's write lock (and releases it). ``take_over``:
        see :func:`acquire_write_lock`."""
        started = time.perf_counter()
        settings = self.settings
        self.report.dry_run = dry_run
        if dry_run:
            with tempfile.TemporaryDirectory(prefix="rag-dry-run-") as scratch:
                catalog = None if rebuild else open_catalog(settings)
                catalog = catalog or Catalog(Path(scratch))  # nothing stored yet
                try:
                    plan = self._apply(plan_sync(targets, catalog, settings))
                    self.report.chunks_total = catalog.chunk_count()
                finally:
                    catalog.close()
            self.report.files_added = sum(1 for item in plan.to_parse if item.is_new)
            self.report.files_updated = len(plan.to_parse) - self.report.files_added
            self.report.files_removed = len(plan.removed)
            self.report.seconds = round(time.perf_counter() - started, 3)
            return self.report

        # Released in reverse: the parser pool (stopped, not waited for, when the run fails),
        # then the catalog, then the lock.
        with ExitStack() as stack:
            if not locked:
                stack.callback(acquire_write_lock(settings, take_over=take_over).release)
            if not rebuild and self._nothing_to_do(targets):
                self.report.seconds = round(time.perf_counter() - started, 3)
                return self.report
            # A long-lived process (the chat page) may hold a Chroma client that has not seen
            # another process's writes: write through a fresh one.
            factories.reset_chroma_cache()
            client = factories.build_chroma_client(settings)
            if rebuild:
                factories.delete_collection(client, settings)
                for suffix in ("", "-wal", "-shm"):
                    (Path(settings.store_dir) / f"{CATALOG_NAME}{suffix}").unlink(missing_ok=True)
            catalog = Catalog(settings.store_dir)
            stack.callback(catalog.close)
            self.books = books = open_books(client, settings, catalog)
            recorded = books.get_meta("embedder")
            if recorded:
                factories.check_embedder(json.loads(recorded), self.info, settings)
            if books.reindex_unless("multilingual", self.multilingual_mode) and books.chunk_count():
                log.info("re-indexing every file once: multilingual embedding is now %s",
                         "on" if settings.multilingual_embedding else "off")
            plan = self._apply(plan_sync(targets, books, settings, self._hashed))
            to_parse, removed = plan.to_parse, plan.removed
            parsing = stack.enter_context(ExitStack())  # the parser pool alone
            if to_parse:  # the worker starts and parses while the rest is set up
                parser = parsing.enter_context(ParserPool(
                    [item.path for item in to_parse], self.split, settings.parse_timeout_s))
            books.forget_failure(plan.stale_failures)
            if to_parse or removed or books.get_meta("embedder") is None:
                collection = factories.get_collection(client, settings, self.info, create=True)
                multilingual = factories.multilingual_collection(client, settings, create=True)
                if multilingual is None:  # turned off: still delete from an old one
                    multilingual = factories.multilingual_collection(client, settings, create=False)
                for opened in (collection, multilingual):
                    if opened is not None:
                        factories.keep_search_width(opened, settings)
                self.writes = ChunkWrites(collection, multilingual, books, self.report,
                                          factories.max_write_batch(client))
                books.set_meta("embedder", self.info.as_json())
            for source in removed:  # Chroma first, catalog last: a killed run redoes this
                assert self.writes is not None  # opened above: there is something removed
                self.writes.delete(where={"source": source})
                books.remove_file(source)
                self.report.files_removed += 1
            if to_parse:
                self.embeddings = factories.build_embeddings(settings)
                self._ingest(to_parse, parser)
                parsing.close()  # every file is parsed: the worker ends before the last writes
            self.report.chunks_total = books.chunk_count()
            books.set_meta("last_sync", str(time.time()))
            books.mark_in_step()
        self.report.seconds = round(time.perf_counter() - started, 3)
        if self.report.seconds > 0:
            report = self.report
            report.chunks_per_second = round(report.chunks_written / report.seconds, 2)
        return self.report

    def _nothing_to_do(self, targets: list[Target]) -> bool:
        """A local store whose catalog the last write left in step with Chroma, and nothing
        changed on disk: the run is done without opening Chroma (an unchanged re-run costs
        little more than hashing the files). Otherwise the report is left as it was."""
        settings = self.settings
        if settings.chroma_host or not (Path(settings.store_dir) / CATALOG_NAME).is_file():
            return False
        # Opening it re-indexes a catalog of another tokenisation: then every file has changed.
        catalog = Catalog(settings.store_dir)
        try:
            check_format(catalog.get_meta("store_format"), settings)
            recorded = catalog.get_meta("embedder")
            if (not recorded or catalog.get_meta("records_store") is None
                    or catalog.get_meta("multilingual") != self.multilingual_mode):
                return False
            factories.check_embedder(json.loads(recorded), self.info, settings)
            plan = plan_sync(targets, catalog, settings)
            if not plan.nothing_to_do:
                self._hashed = plan.hashes  # the full run plans again, from the books
                return False
            self._apply(plan)
            self.report.chunks_total = catalog.chunk_count()
            catalog.set_meta("last_sync", str(time.time()))
            return True
        finally:
            catalog.close()

    def _ingest(self, to_parse: list[FileToParse], parser: ParserPool) -> None:
        assert self.books is not None
        books = self.books
        self.languages = embedder_languages(self.settings)
        total = len(to_parse)
        self.progress("files", 0, total)
        with BackgroundWriter() as writer:
            self._writer = writer
            for index, result in parser.results():
                item = to_parse[index]
                if isinstance(result, str) or not result.chunks:
                    error = result if isinstance(result, str) else "empty file: no text to index"
                    self._fail(item.source, error)
                    writer.submit(lambda i=item, e=error:
                                  books.record_failure(i.source, i.root, i.sha256, e))
                else:
                    self._add_file(item, result)
                self.progress("files", index + 1, total)
            self._flush()

    def _add_file(self, item: FileToParse, parsed: ParsedFile) -> None:
        source, sha = item.source, item.sha256
        record = FileRecord(
            source=source, root=item.root, sha256=sha, size=item.path.stat().st_size,
            title=parsed.title, pages=parsed.pages, chunks=len(parsed.chunks),
            ingested_at=time.time(),
        )
        ids = [chunk_id(source, sha, i) for i in range(len(parsed.chunks))]
        pending = PendingFile(record=record, is_new=item.is_new, ids=ids, texts=[],
                              remaining=len(ids))
        for i, chunk in enumerate(parsed.chunks):
            header = chunk_header(parsed.title, chunk.heading, self.split.tokenizer_file)
            meta: dict[str, Any] = {
                "source": source, "title": parsed.title, "chunk_index": i, "file_sha256": sha,
                "header": header,
            }
            if chunk.page is not None:
                meta["page"] = chunk.page
            if chunk.heading:
                meta["heading"] = chunk.heading
            if chunk.ocr:
                meta["ocr"] = True
            embed_text = f"{header}\n{chunk.text}"
            pending.texts.append(embed_text)
            multilingual = (self.settings.multilingual_embedding
                            and not dense_understands(self.languages, chunk.text))
            batch = self._batch
            batch.add(pending, i, chunk.text, embed_text, meta, multilingual=multilingual)
            if len(batch.ids) >= self.settings.batch_size:
                self._flush()

    def _flush(self) -> None:
        """Embed the batch here; write it on the writer thread while the next one is embedded."""
        batch, self._batch = self._batch, ChunkBatch()
        if not batch.ids:
            return
        writes = self.writes
        assert writes is not None and self._writer is not None  # set by run and _ingest
        t0 = time.perf_counter()
        vectors = self.embeddings.embed_documents(batch.embed_texts)
        multilingual: list[list[float]] = []
        if batch.multilingual and writes.multilingual is not None:
            texts = [batch.embed_texts[i] for i in batch.multilingual]
            multilingual = factories.build_multilingual_embeddings().embed_documents(texts)
        self.report.embed_seconds += time.perf_counter() - t0
        self._embedded += len(batch.ids)
        self.progress("chunks", self._embedded, 0)  # here: a chat page updates from its own thread
        self._writer.submit(lambda: writes.write(batch, vectors, multilingual))


def run_sync(
    paths: list[Path],
    settings: Settings,
    *,
    rebuild: bool = False,
    dry_run: bool = False,
    progress: ProgressFn | None = None,
    locked: bool = False,
    take_over: bool = False,
) -> IngestReport:
    """Sync ``paths`` (default: the docs folder) into the store the settings name.
    ``locked``: the caller already holds the write lock (:func:`acquire_write_lock`)."""
    targets = collect_targets(paths, settings)
    return Syncer(settings, progress).run(targets, rebuild=rebuild, dry_run=dry_run, locked=locked,
                                          take_over=take_over)
