"""How the retrievers' votes on a chunk are added, and the hits ordered: parts 2 and 3 of the
fusion rule (parts 1 and 4, which retrievers vote, are in :mod:`rag.retrieval`).

2. **Two votes are added on absolute 0..1 scales**, not re-normalised per question:
   ``dense`` is the cosine similarity; ``lexical`` is how much of the question the chunk
   contains: the mean of the weighted share of the question's terms (words, CJK characters)
   and of its phrases (adjacent word pairs, CJK bigrams) found in the chunk and its title line.
   A term weighs its IDF; a phrase the IDF of its more common word, since a pair is only as
   telling as its weaker half ("of the" tells nothing, "northern China" much). Fixed scales are
   what keeps a weak retriever from dragging a strong one down: a retriever that cannot tell
   the chunks apart gives them all about the same score, which adds a constant and leaves the
   order to the other one, while rank fusion (RRF) or per-question min-max scaling would give
   its arbitrary order the same weight as a good one. BM25's own score has no fixed scale (it
   grows with the question's length and the corpus), which is why coverage, not BM25, is the
   lexical vote; the phrase half rewards chunks that hold the question's words together, as in
   sequential-dependence models.
3. **With a single vote there is nothing to fuse**: its own ranking is used, i.e. BM25's when
   the dense retriever has no vote. Ties are broken by BM25 rank, then dense rank.

``relevance(hit)`` = max(dense, lexical) is what the threshold ``min_relevance`` is compared to.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_core.documents import Document

from rag.lexical import query_text, terms_and_phrases

__all__ = ["Hit", "idf", "rank", "relevance", "score_lexical"]


@dataclass(slots=True)
class Hit:
    """One retrieved chunk with its scores."""

    id: str
    text: str
    metadata: dict[str, Any]
    dense: float = 0.0
    lexical: float = 0.0
    bm25: float = 0.0
    bm25_rank: int | None = None
    dense_rank: int | None = None
    score: float = 0.0
    terms: float = 0.0  # share of the question's (IDF-weighted) terms in the chunk
    phrases: float = 0.0  # share of its phrases
    embedding: list[float] | None = field(default=None, repr=False)

    @property
    def source(self) -> str:
        return str(self.metadata.get("source", "?"))

    @property
    def page(self) -> int | None:
        page = self.metadata.get("page")
        return int(page) if page is not None else None

    def header(self) -> str:
        title = str(self.metadata.get("title") or "")
        heading = self.metadata.get("heading")
        return f"{title} > {heading}" if heading and heading != title else title

    def to_document(self) -> Document:
        meta = {**self.metadata, "chunk_id": self.id, "score": self.score, "dense": self.dense,
                "lexical": self.lexical}
        return Document(page_content=self.text, metadata=meta, id=self.id)


class Frequencies(Protocol):
    """What IDF weights need of the lexical index (:class:`rag.catalog.Catalog`)."""

    def document_frequencies(self, terms: Iterable[str]) -> tuple[int, dict[str, int]]: ...


def idf(total: int, df: int) -> float:
    """BM25's IDF, kept positive (log(1 + ...)) so that common terms weigh little, not less
    than nothing."""
    return math.log(1.0 + (total - df + 0.5) / (df + 0.5))


def _share(weights: dict[str, float], present: set[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / total if total > 0 else 0.0


def _phrase_parts(phrase: str) -> list[str]:
    """The two units of a phrase: "a b" (words) or a CJK bigram."""
    return phrase.split(" ") if " " in phrase else list(phrase)


def score_lexical(question: str, hits: list[Hit], index: Frequencies | None) -> None:
    """Set ``terms``, ``phrases`` and ``lexical`` (their mean) of every hit.

    A term weighs its IDF over the store's chunks; a phrase weighs the IDF of its more
    common word: a pair is only as telling as its weaker half ("of Doctor", "the producer"
    tell little), and no phrase statistics are needed."""
    q_terms, q_phrases = terms_and_phrases(query_text(question))
    q_terms, q_phrases = list(dict.fromkeys(q_terms)), list(dict.fromkeys(q_phrases))
    total, term_df = index.document_frequencies(q_terms) if index else (0, {})
    term_w = {t: idf(total, term_df.get(t, 0)) for t in q_terms}
    phrase_w = {p: min(term_w.get(part, 0.0) for part in _phrase_parts(p)) for p in q_phrases}
    for hit in hits:
        terms, phrases = terms_and_phrases(hit.header() + "\n" + hit.text)
        hit.terms = _share(term_w, set(terms))
        hit.phrases = _share(phrase_w, set(phrases)) if sum(phrase_w.values()) > 0 else hit.terms
        hit.lexical = (hit.terms + hit.phrases) / 2


def rank(hits: Iterable[Hit], mode: str, use_dense: bool) -> list[Hit]:
    """Set every hit's ``score`` and return the hits best first. ``mode``: ``hybrid``,
    ``dense`` or ``bm25``; ``use_dense``: whether the dense retriever has a vote."""
    hits = list(hits)
    for hit in hits:
        if mode == "dense":
            hit.score = hit.dense
        elif use_dense and mode == "hybrid":
            hit.score = hit.dense + hit.lexical
        else:
            hit.score = hit.lexical
    big = 10**9

    def order(hit: Hit) -> tuple[float, int, int]:
        if mode == "dense":
            return (0.0, hit.dense_rank or big, 0)
        if not use_dense:  # one vote: BM25's own ranking
            return (0.0, hit.bm25_rank or big, 0)
        return (-hit.score, hit.bm25_rank or big, hit.dense_rank or big)

    return sorted(hits, key=order)


def relevance(hit: Hit) -> float:
    """0..1: how strongly either signal says the chunk is about the question."""
    return max(hit.dense, hit.lexical)
