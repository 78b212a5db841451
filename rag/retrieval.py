"""Retrieval: dense (Chroma) and lexical (BM25 over words and CJK bigrams), fused.

Fusion rule. Every candidate that either retriever proposes is scored by *both* signals on an
absolute 0..1 scale, and the two are added:

* ``dense``: cosine similarity between the question and the chunk embeddings;
* ``lexical``: the share of the question's information (IDF-weighted terms) that the chunk
  contains.

Both scales are fixed, not re-normalised per query, so a retriever that cannot tell the chunks
apart (e.g. an English-only embedder on Chinese text: all cosines alike) adds about the same to
every candidate and leaves the order to the one that can; rank fusion (RRF) instead gives a
useless ranking the same vote as a good one. BM25 rank breaks ties. Nothing here is tuned to a
data set: there are no weights at all.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.catalog import Catalog, lexical_tokens
from rag.config import Settings


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


def idf(total: int, df: int) -> float:
    return math.log(1.0 + (total - df + 0.5) / (df + 0.5))


def lexical_coverage(query_terms: dict[str, float], text: str) -> float:
    """Share of the question's IDF weight whose terms occur in ``text`` (0..1)."""
    weight = sum(query_terms.values())
    if weight <= 0:
        return 0.0
    present = set(lexical_tokens(text))
    return sum(w for t, w in query_terms.items() if t in present) / weight


class Retriever:
    """Hybrid retrieval over one store. Thread-safe for readers."""

    def __init__(self, settings: Settings, vectorstore: Any, embeddings: Any) -> None:
        self.settings = settings
        self.vectorstore = vectorstore
        self.embeddings = embeddings
        self._local = threading.local()

    def _catalog(self) -> Catalog | None:
        catalog = getattr(self._local, "catalog", None)
        if catalog is None:
            catalog = Catalog.open_readonly(self.settings.store_dir)
            self._local.catalog = catalog
        return catalog

    def count(self) -> int:
        catalog = self._catalog()
        return catalog.chunk_count() if catalog else 0

    def embed_query(self, question: str) -> list[float]:
        return self.embeddings.embed_query(question)

    def search(self, question: str, k: int | None = None, mode: str | None = None,
               query_vector: list[float] | None = None) -> list[Hit]:
        """The ``k`` best chunks for the question, best first."""
        k = k or self.settings.top_k
        mode = mode or self.settings.retrieval_mode
        n = max(self.settings.candidates, k)
        hits: dict[str, Hit] = {}
        catalog = self._catalog()

        vector = query_vector
        if mode in ("hybrid", "dense"):
            vector = vector or self.embed_query(question)
            results = self.vectorstore.similarity_search_by_vector_with_relevance_scores(vector, k=n)
            for rank, (doc, distance) in enumerate(results, start=1):
                hits[doc.id] = Hit(id=doc.id, text=doc.page_content, metadata=dict(doc.metadata),
                                   dense=1.0 - float(distance), dense_rank=rank)
        if mode in ("hybrid", "bm25") and catalog is not None:
            lexical = catalog.search(question, n)
            missing = [cid for cid, _ in lexical if cid not in hits]
            if missing:
                include = ["documents", "metadatas"] + (["embeddings"] if vector is not None else [])
                got = self.vectorstore.get(ids=missing, include=include)
                embeddings = got.get("embeddings") if vector is not None else None
                for i, cid in enumerate(got["ids"]):
                    hit = Hit(id=cid, text=got["documents"][i], metadata=dict(got["metadatas"][i]))
                    if embeddings is not None and vector is not None:
                        hit.dense = float(sum(a * b for a, b in zip(vector, embeddings[i], strict=False)))
                    hits[cid] = hit
            for rank, (cid, score) in enumerate(lexical, start=1):
                if cid in hits:
                    hits[cid].bm25_rank = rank
                    hits[cid].bm25 = score

        if not hits:
            return []
        terms = dict.fromkeys(lexical_tokens(question))
        total, dfs = catalog.document_frequencies(terms) if catalog else (0, {})
        weights = {t: idf(total, dfs.get(t, 0)) for t in terms}
        for hit in hits.values():
            hit.lexical = lexical_coverage(weights, hit.header() + "\n" + hit.text)
            if mode == "dense":
                hit.score = hit.dense
            elif mode == "bm25":
                hit.score = hit.lexical
            else:
                hit.score = hit.dense + hit.lexical
        big = 10**9

        def order(hit: Hit) -> tuple[float, int, int]:
            if mode == "bm25":
                return (0.0, hit.bm25_rank or big, 0)
            if mode == "dense":
                return (0.0, hit.dense_rank or big, 0)
            return (-hit.score, hit.bm25_rank or big, hit.dense_rank or big)

        return sorted(hits.values(), key=order)[:k]

    def relevant(self, hits: list[Hit]) -> list[Hit]:
        """Hits above the relevance threshold (see :func:`relevance`)."""
        return [h for h in hits if relevance(h) >= self.settings.min_relevance]


def relevance(hit: Hit) -> float:
    """0..1: how strongly either signal says the chunk is about the question."""
    return max(hit.dense, hit.lexical)


class KnowledgeBaseRetriever(BaseRetriever):
    """The project's retriever behind LangChain's retriever interface."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Any
    k: int = 4

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        started = time.perf_counter()
        hits = self.retriever.relevant(self.retriever.search(query, self.k))
        docs = [h.to_document() for h in hits]
        for doc in docs:
            doc.metadata["retrieval_ms"] = (time.perf_counter() - started) * 1000
        return docs
