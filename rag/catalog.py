"""The store's local catalog: a SQLite file in the store folder holding a copy of the file
manifest, the lexical (BM25, SQLite FTS5) index of every chunk, and facts about the store (which
embedder built it, last sync).

It is a cache: Chroma holds the chunks and the records it is derived from (:mod:`rag.records`).
The manifest row of a file is written in the same transaction as its lexical rows, and only after
its vectors and record are in Chroma, so a killed ingestion converges on the next run.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rag.lexical import LEXICAL_VERSION, index_tokens, is_function_token, query_text

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

# Rows SQLite may score for one question before its commonest terms stop choosing candidates
# and only add to their scores (see Catalog.search): about 12 ms of FTS5 on this class of CPU.
POSTINGS_BUDGET = 5_000
_K1, _B = 1.2, 0.75  # FTS5's bm25() parameters (its defaults)

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


class Catalog:
    """Thin wrapper over the catalog's SQLite file (WAL: readers never block the writer)."""

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
        self._df: dict[str, int] = {}  # document frequencies, see document_frequencies
        self._sizes: tuple[int, int] | None = None  # (rows, tokens), see _index_sizes
        self._cache_version: int | None = None
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
            # no longer what the records in Chroma say (see rag.records.refresh_catalog)
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

    # --- lexical search -----------------------------------------------------------------
    def _forget_counts(self) -> None:
        self._df, self._sizes = {}, None

    def _check_counts(self) -> None:
        """Counts are kept until any connection writes the file (SQLite's data_version)."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._cache_version or len(self._df) > 100_000:
            self._forget_counts()
            self._cache_version = version

    def document_frequencies(self, terms: Iterable[str]) -> tuple[int, dict[str, int]]:
        """(number of chunks, term -> number of chunks holding it) for the given terms."""
        # The number of chunks from the file list: counting the index's rows scans it all.
        return self.chunk_count(), self._term_counts(terms)

    def _term_counts(self, terms: Iterable[str]) -> dict[str, int]:
        """term -> number of chunks holding it, for the terms that occur."""
        terms = list(dict.fromkeys(terms))
        # Counting a common word's chunks walks its whole list (6 ms for "the" at 110,000 chunks).
        self._check_counts()
        missing = [t for t in terms if t not in self._df]
        if missing:
            marks = ",".join("?" * len(missing))
            rows = self.conn.execute(f"SELECT term, doc FROM chunks_vocab WHERE term IN ({marks})", missing)
            self._df.update(dict.fromkeys(missing, 0) | {term: int(doc) for term, doc in rows})
        return {t: self._df[t] for t in terms if self._df[t]}

    def _index_sizes(self) -> tuple[int, int]:
        """(rows, tokens) of the lexical index, as FTS5's bm25() reads them: the 'averages'
        record of its data table (id 1), SQLite varints: rows, then each column's tokens."""
        self._check_counts()
        if self._sizes is None:
            row = self.conn.execute("SELECT block FROM chunks_fts_data WHERE id = 1").fetchone()
            values, value = [], 0
            for byte in row[0] if row else b"":
                value = (value << 7) | (byte & 0x7F)
                if byte < 0x80:
                    values.append(value)
                    value = 0
            self._sizes = (values[0], sum(values[1:])) if values else (0, 0)
        return self._sizes

    def search(self, query: str, k: int, exclude: frozenset[str] = frozenset()) -> list[tuple[str, float]]:
        """BM25 over the chunks: (chunk_id, score), best first; higher score is better. The
        query's first interrogative word is not matched (see :func:`query_text`). Chunks of
        the ``exclude`` sources are filtered inside the query (they never take a place).

        SQLite scores every row that holds any query term, so a question with common words
        ("first", "year") costs time in proportion to how many chunks hold them (90 ms at
        110,000 chunks). Like Lucene's CommonTermsQuery, the rarest terms, up to
        :data:`POSTINGS_BUDGET` rows, choose the candidates and the commoner ones only add
        their share to the candidates' scores: the same BM25 score (FTS5's formula and
        statistics), on fewer rows. Below the budget (any store under it) nothing changes.
        """
        terms = list(dict.fromkeys(index_tokens(query_text(query))))
        # Function words ("the", "at", 的) are in most chunks and tell nothing: they are not
        # matched at all; a question of function words only keeps them.
        terms = [t for t in terms if not is_function_token(t)] or terms
        if not terms or k <= 0:
            return []
        df = self._term_counts(terms)
        terms = sorted(df, key=df.__getitem__)  # terms that occur, rarest first
        chosen, rows = 0, 0
        while chosen < len(terms) and (not chosen or rows + df[terms[chosen]] <= POSTINGS_BUDGET):
            rows += df[terms[chosen]]
            chosen += 1
        common = terms[chosen:]
        found = self._bm25(terms[:chosen], max(k, 100) if common else k, exclude)
        if common:
            found = sorted(self._add_common(found, common, df), key=lambda r: -r[2])[:k]
        return [(cid, score) for _, cid, score in found]

    def _bm25(self, terms: list[str], limit: int, exclude: frozenset[str]) -> list[tuple[int, str, float]]:
        """FTS5's BM25 over the rows holding any of the terms: (rowid, chunk_id, score)."""
        if not terms:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        hidden = sorted(exclude)
        where = f" AND source NOT IN ({','.join('?' * len(hidden))})" if hidden else ""
        rows = self.conn.execute(
            f"SELECT rowid, chunk_id, bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ?"
            f"{where} ORDER BY s LIMIT ?", (match, *hidden, limit)).fetchall()
        return [(rowid, cid, -float(score)) for rowid, cid, score in rows]

    def _add_common(self, found: list[tuple[int, str, float]], common: list[str],
                    df: dict[str, int]) -> list[tuple[int, str, float]]:
        """The candidates' scores with the common terms' BM25 share added, by FTS5's formula
        (k1 1.2, b 0.75, idf log((N - n + 0.5) / (n + 0.5)), at least 1e-6)."""
        if not found:
            return found
        total_rows, total_tokens = self._index_sizes()
        average = total_tokens / max(total_rows, 1)
        idfs = {t: max(math.log((total_rows - df[t] + 0.5) / (df[t] + 0.5)), 1e-6) for t in common}
        marks = ",".join("?" * len(found))
        texts = dict(self.conn.execute(f"SELECT rowid, tokens FROM chunks_fts WHERE rowid IN ({marks})",
                                       [rowid for rowid, _, _ in found]))
        out = []
        for rowid, cid, score in found:
            tokens = texts.get(rowid, "").split()
            counts = Counter(tokens)
            norm = _K1 * (1 - _B + _B * len(tokens) / average)
            score += sum(idf * counts[t] * (_K1 + 1) / (counts[t] + norm)
                         for t, idf in idfs.items() if counts[t])
            out.append((rowid, cid, score))
        return out
