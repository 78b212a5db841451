"""The store's local catalog: a SQLite file in the store folder holding a copy of the file
manifest, the lexical (BM25, SQLite FTS5) index of every chunk, and facts about the store (which
embedder built it, last sync).

It is a cache: Chroma holds the chunks and the records it is derived from (:mod:`rag.records`).
The manifest row of a file is written in the same transaction as its lexical rows, and only after
its vectors and record are in Chroma, so a killed ingestion converges on the next run.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rag.bm25 import Bm25Search
from rag.lexical import LEXICAL_VERSION, index_tokens

CATALOG_NAME = "catalog.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    source TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    title TEXT,
    pages INTEGER,
    chunks INTEGER NOT NULL,
    ingested_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    source TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    error TEXT NOT NULL,
    seen_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    tokens, chunk_id UNINDEXED, source UNINDEXED, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab(chunks_fts, 'row');
-- Which rows of chunks_fts hold which file's chunks: FTS5 itself can only find a file's rows
-- by reading every row (70 ms at 110,000 chunks; 3 ms through this).
CREATE TABLE IF NOT EXISTS fts_rows (row INTEGER PRIMARY KEY, source TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS fts_rows_source ON fts_rows(source);
"""


def header_for(title: str, heading: str | None) -> str:
    """The line embedded (and indexed) above each chunk: document title and section."""
    if heading and heading != title:
        return f"{title} > {heading}"
    return title


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's content, read in blocks (the manifest's change detector)."""
    import hashlib

    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(slots=True)
class FileRecord:
    source: str
    root: str
    sha256: str
    size: int
    title: str | None
    pages: int | None
    chunks: int
    ingested_at: float


class Catalog(Bm25Search):
    """Thin wrapper over the catalog's SQLite file (WAL: readers never block the writer); its
    lexical search comes from :class:`rag.bm25.Bm25Search`."""

    def __init__(self, store_dir: Path, *, readonly: bool = False) -> None:
        self.path = Path(store_dir) / CATALOG_NAME
        if readonly:
            self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.executescript(_SCHEMA)
        self.conn.execute("PRAGMA busy_timeout=30000")
        self._init_counts()
        if not readonly:
            self._map_rows()
            self._check_lexical_version()

    def _map_rows(self) -> None:
        """A catalog from before ``fts_rows`` gets it filled once (0.4 s at 110,000 chunks)."""
        if self.get_meta("fts_rows") == "1":
            return
        with self.conn:
            self.conn.execute("DELETE FROM fts_rows")
            self.conn.execute("INSERT INTO fts_rows(row, source) SELECT rowid, source FROM chunks_fts")
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('fts_rows', '1')")

    def _check_lexical_version(self) -> None:
        """A catalog indexed with another tokenisation gets every file marked changed, so the
        sync that opened it re-indexes them all (removed files are still removed as usual)."""
        self.reindex_unless("lexical_version", LEXICAL_VERSION)

    def reindex_unless(self, key: str, value: str) -> bool:
        """Unless meta ``key`` is ``value``: mark every file changed (the next sync re-indexes
        them all) and record ``value``, in one transaction. Returns whether it marked them."""
        if self.get_meta(key) == value:
            return False
        with self.conn:
            self.conn.execute("UPDATE files SET sha256 = 'reindex:' || sha256 "
                              "WHERE sha256 NOT LIKE 'reindex:%'")
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
            # no longer what the records in Chroma say (see rag.catalog_refresh.refresh_catalog)
            self.conn.execute("DELETE FROM meta WHERE key = 'records_version'")
        return True

    def lexical_version(self) -> str | None:
        """The tokenisation the index was built with (None: before versions were recorded)."""
        return self.get_meta("lexical_version")

    @classmethod
    def open_readonly(cls, store_dir: Path) -> Catalog | None:
        """The catalog if the store has one, else None (nothing ingested yet)."""
        if not (Path(store_dir) / CATALOG_NAME).is_file():
            return None
        return cls(store_dir, readonly=True)

    def close(self) -> None:
        self.conn.close()

    # --- meta ---------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # --- files --------------------------------------------------------------------------
    def files(self) -> dict[str, FileRecord]:
        rows = self.conn.execute(
            "SELECT source, root, sha256, size, title, pages, chunks, ingested_at FROM files"
        ).fetchall()
        return {r[0]: FileRecord(*r) for r in rows}

    def failures(self) -> dict[str, tuple[str, str, str]]:
        """source -> (root, sha256, error) of files that failed and have not been fixed."""
        rows = self.conn.execute("SELECT source, root, sha256, error FROM failures").fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def record_failure(self, source: str, root: str, sha256: str, error: str) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?)",
                (source, root, sha256, error, time.time()),
            )

    def replace_failures(self, failures: dict[str, tuple[str, str, str]]) -> None:
        """Make the recorded failures exactly ``failures`` (source -> (root, sha256, error))."""
        with self.conn:
            self.conn.execute("DELETE FROM failures")
            self.conn.executemany(
                "INSERT INTO failures VALUES (?, ?, ?, ?, ?)",
                [(s, root, sha, error, time.time()) for s, (root, sha, error) in failures.items()])

    def clear(self) -> None:
        """Forget everything (the cache of another store)."""
        self._forget_counts()  # this connection's writes do not move data_version
        with self.conn:
            for table in ("chunks_fts", "fts_rows", "files", "failures"):
                self.conn.execute(f"DELETE FROM {table}")
            self.conn.execute("DELETE FROM meta WHERE key NOT IN ('lexical_version', 'fts_rows')")

    def forget_failure(self, sources: Iterable[str]) -> None:
        with self.conn:
            self.conn.executemany("DELETE FROM failures WHERE source = ?", [(s,) for s in sources])

    def commit_file(
        self, record: FileRecord, chunks: Iterable[tuple[str, str]]
    ) -> None:
        """Replace a file's lexical rows and manifest row at once. ``chunks``: (id, text)."""
        self._forget_counts()  # this connection's writes do not move data_version
        with self.conn:
            # Only a file the catalog has has rows (its rows and its files row go together).
            if self.conn.execute("SELECT 1 FROM files WHERE source = ?", (record.source,)).fetchone():
                self._delete_rows(record.source)
            first = self.conn.execute("SELECT COALESCE(MAX(rowid), 0) + 1 FROM chunks_fts").fetchone()[0]
            rows = [(first + i, " ".join(index_tokens(text)), cid, record.source)
                    for i, (cid, text) in enumerate(chunks)]
            self.conn.executemany(
                "INSERT INTO chunks_fts(rowid, tokens, chunk_id, source) VALUES (?, ?, ?, ?)", rows)
            self.conn.executemany("INSERT OR REPLACE INTO fts_rows(row, source) VALUES (?, ?)",
                                  [(row[0], record.source) for row in rows])
            self.conn.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (record.source, record.root, record.sha256, record.size, record.title,
                 record.pages, record.chunks, record.ingested_at),
            )
            self.conn.execute("DELETE FROM failures WHERE source = ?", (record.source,))

    def remove_file(self, source: str) -> None:
        self._forget_counts()  # this connection's writes do not move data_version
        with self.conn:
            self._delete_rows(source)
            self.conn.execute("DELETE FROM files WHERE source = ?", (source,))
            self.conn.execute("DELETE FROM failures WHERE source = ?", (source,))

    def _delete_rows(self, source: str) -> None:
        """A file's lexical rows, found through ``fts_rows`` (in the caller's transaction)."""
        self.conn.execute("DELETE FROM chunks_fts WHERE rowid IN "
                          "(SELECT row FROM fts_rows WHERE source = ?) AND source = ?", (source, source))
        self.conn.execute("DELETE FROM fts_rows WHERE source = ?", (source,))

    def chunk_count(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(SUM(chunks), 0) FROM files").fetchone()[0])
