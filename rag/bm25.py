"""BM25 search over the catalog's lexical index (SQLite FTS5), with FTS5's own scores: the
half of :class:`rag.catalog.Catalog` that reads the index (the catalog writes it).
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Iterable

from rag.lexical import index_tokens, is_function_token, query_text

# Rows SQLite may score for one question before its commonest terms stop choosing candidates
# and only add to their scores (see Bm25Search.search): about 12 ms of FTS5 on this class of CPU.
POSTINGS_BUDGET = 5_000
_K1, _B = 1.2, 0.75  # FTS5's bm25() parameters (its defaults)


class Bm25Search:
    """BM25 over the ``chunks_fts`` table of :attr:`conn`, with document frequencies and the
    index's sizes cached until any connection writes the file. Mixed into the catalog."""

    conn: sqlite3.Connection
    _df: dict[str, int]  # document frequencies, see document_frequencies
    _sizes: tuple[int, int] | None  # (rows, tokens), see _index_sizes
    _cache_version: int | None

    def _init_counts(self) -> None:
        self._df, self._sizes, self._cache_version = {}, None, None

    def chunk_count(self) -> int:
        """The number of chunks (the catalog counts them from its file list)."""
        raise NotImplementedError

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
            rows = self.conn.execute(
                f"SELECT term, doc FROM chunks_vocab WHERE term IN ({marks})", missing)
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

    def search(self, query: str, k: int,
               exclude: frozenset[str] = frozenset()) -> list[tuple[str, float]]:
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

    def _bm25(self, terms: list[str], limit: int,
              exclude: frozenset[str]) -> list[tuple[int, str, float]]:
        """FTS5's BM25 over the rows holding any of the terms: (rowid, chunk_id, score)."""
        if not terms:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        hidden = sorted(exclude)
        where = f" AND source NOT IN ({','.join('?' * len(hidden))})" if hidden else ""
        rows = self.conn.execute(
            "SELECT rowid, chunk_id, bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ?"
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
        texts = dict(self.conn.execute(
            f"SELECT rowid, tokens FROM chunks_fts WHERE rowid IN ({marks})",
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
