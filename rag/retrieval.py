"""Retrieval: dense (Chroma) and lexical (BM25 over words, CJK characters and bigrams), fused.

Candidates. Each retriever proposes its ``candidates`` best chunks (dense: cosine similarity of
the embeddings; lexical: BM25 in SQLite FTS5, question without its interrogative word); the
union is scored by every retriever that has a vote, and sorted.

Fusion rule (mode ``hybrid``), four parts, none of them with a weight fitted to a data set.
Which retrievers vote is decided here (parts 1 and 4); how the votes are added and the hits
ordered, in :mod:`rag.fusion` (parts 2 and 3).

1. **A retriever that does not understand the question gets no vote.** The embedding model's
   card (``README.md`` of the sentence-transformers folder, YAML ``language:``) declares its
   languages. When the question's script (Chinese, Japanese, Korean, else Latin taken as
   English) is not among them, the dense retriever is not queried at all: an English-only
   embedder (the default all-MiniLM-L6-v2) gives Chinese text cosines that are noise, and any
   fusion that counts noise lowers the result (measured on CMRC 2018: dense alone finds the
   passage in the top 5 for 16% of the questions, BM25 for 99%). A card that says
   ``multilingual`` or lists the language, or no card / no ``language`` field, keeps the dense
   vote; ``RAG_EMBEDDING_LANGUAGES`` overrides the card.
4. **A second, multilingual embedder for the languages the first cannot read**
   (``RAG_MULTILINGUAL_EMBEDDING``, on by default): chunks in such a language (Chinese, for
   MiniLM) are also embedded by Google's multilingual Universal Sentence Encoder v3 into a
   second collection, and a question in such a language gets that embedder's vote. It is added
   (part 2) only when BM25 finds no relevant chunk (lexical coverage below ``min_relevance``):
   an employee's words for a statute's ("网上买的东西不想要了" for "七日内退货"). Where BM25 does
   find one, its ranking stands: adding the vote to every question lifted realistic Chinese
   recall@5 from 0.833 to 0.917 but lowered CMRC from 0.993 / 0.978 to 0.987 / 0.967; the rule
   gives 0.875 / 0.811 and leaves CMRC unchanged. Its cosine still counts for relevance.

Measured on ``../shared/eval`` with the default models (chunks of 200 tokens, 30 candidates):
English recall@5 0.975 / MRR@10 0.89 against BM25 0.93 / 0.82 and dense 0.86 / 0.73; Chinese
0.99 / 0.98, the same as BM25 since dense has no vote there (dense alone: 0.16 / 0.13). Tried
and not kept, as they did no better on either language: RRF, per-question min-max or z-score
scaling, adding normalised BM25 to the sum, jieba words beside the bigrams, chunks of 128 or 256
tokens, 50 candidates, dense pseudo-relevance feedback. See ``docs/eval.md``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.access import EVERYTHING, Access
from rag.catalog import Catalog
from rag.catalog_refresh import refresh_catalog
from rag.config import Settings
from rag.embedders import dense_understands, embedder_languages, similarity
from rag.followup import is_follow_up
from rag.fusion import Hit, rank, relevance, score_lexical
from rag.lexical import LEXICAL_VERSION
from rag.store import stored_chunk, stored_chunks

log = logging.getLogger(__name__)

__all__ = ["DenseVote", "Hit", "KnowledgeBaseRetriever", "Retrieval", "Retriever", "relevance"]


@dataclass(slots=True)
class Retrieval:
    """What :meth:`Retriever.retrieve` found for one question of a conversation."""

    hits: list[Hit]  # relevant chunks, best first (empty: the knowledge base does not answer it)
    query: str  # what was searched: the question, or a follow-up with the question before it
    follow_up: bool
    question_vector: list[float] | None  # the question's own embedding, where dense applies
    # embeds texts into the question vector's space (None where no embedder has a vote)
    embed_documents: Callable[[list[str]], list[list[float]]] | None = None
    multilingual: bool = False  # the vote is the multilingual embedder's

    @property
    def dense(self) -> bool:
        """Whether an embedder understands the question's language."""
        return self.embed_documents is not None


@dataclass(slots=True, frozen=True)
class DenseVote:
    """The embedder that judges a question, and the vectors it made of the chunks."""

    store: Any  # LangChain Chroma
    embeddings: Any  # LangChain Embeddings
    multilingual: bool  # the second, multilingual index (see the module docstring)


class Retriever:
    """Hybrid retrieval over one store. Thread-safe for readers."""

    REFRESH_S = 1.0  # how often the local lexical index is checked against Chroma, at most

    def __init__(self, settings: Settings, vectorstore: Any, embeddings: Any,
                 multilingual: Any = None, client: Any = None) -> None:
        self.settings = settings
        self.vectorstore = vectorstore
        self.embeddings = embeddings
        self.multilingual = multilingual  # Chroma store of the multilingual vectors, if any
        self.client = client  # Chroma client: the lexical index is refreshed from it
        self._local = threading.local()
        self._warned = False
        self._refresh_lock = threading.Lock()
        self._refreshed = -math.inf

    def _refresh(self) -> None:
        """Bring the lexical index in step with Chroma (another process or machine may have
        written it); at most every :attr:`REFRESH_S` seconds, one thread at a time."""
        if self.client is None or time.monotonic() - self._refreshed < self.REFRESH_S:
            return
        with self._refresh_lock:
            if time.monotonic() - self._refreshed >= self.REFRESH_S:
                refresh_catalog(self.settings, self.client)
                self._refreshed = time.monotonic()

    def _catalog(self) -> Catalog | None:
        self._refresh()
        catalog = getattr(self._local, "catalog", None)
        if catalog is None:
            catalog = Catalog.open_readonly(self.settings.store_dir)
            if catalog is not None and not self._warned and catalog.chunk_count():
                version = catalog.lexical_version()
                if version != LEXICAL_VERSION:
                    self._warned = True
                    log.warning(
                        "the lexical index of %s was built by an older version: run "
                        "`python -m ingest` once to re-index it (better Chinese retrieval)",
                        self.settings.store_dir,
                    )
            self._local.catalog = catalog
        return catalog

    def hidden(self, access: Access) -> frozenset[str]:
        """The stored documents ``access`` does not allow."""
        if access.everything:
            return frozenset()
        catalog = self._catalog()
        return access.forbidden(catalog.files()) if catalog else frozenset()

    def count(self) -> int:
        catalog = self._catalog()
        return catalog.chunk_count() if catalog else 0

    def version(self) -> str:
        """Changes with every write that changed the store (the records' version; for a store
        from before the records, its last sync)."""
        catalog = self._catalog()
        if catalog is None:
            return ""
        return "/".join(catalog.get_meta(key) or "" for key in
                        ("records_store", "records_version", "last_sync"
                         if catalog.get_meta("records_version") is None else "records_version"))

    def dense_vote(self, question: str, mode: str | None = None) -> DenseVote | None:
        """Which embedder judges this question: the main one if it understands the question's
        language, else the multilingual one if the store has its vectors, else none (in mode
        ``dense`` the main one regardless)."""
        mode = mode or self.settings.retrieval_mode
        if mode == "bm25":
            return None
        if dense_understands(self.embedder_languages(), question):
            return DenseVote(self.vectorstore, self.embeddings, multilingual=False)
        if self.multilingual is not None:
            return DenseVote(self.multilingual, self.multilingual.embeddings, multilingual=True)
        if mode == "dense":
            return DenseVote(self.vectorstore, self.embeddings, multilingual=False)
        return None

    def embedder_languages(self) -> frozenset[str] | None:
        """Languages the embedder understands: ``RAG_EMBEDDING_LANGUAGES``, else its card."""
        return embedder_languages(self.settings)

    def uses_dense(self, question: str, mode: str | None = None) -> bool:
        """Whether ``search`` in this mode asks a dense retriever about this question."""
        return self.dense_vote(question, mode) is not None

    def retrieve(self, question: str, earlier: list[str] | tuple[str, ...] = (),
                 k: int | None = None, access: Access = EVERYTHING) -> Retrieval:
        """The one entry point for answering: the relevant chunks for a question, given the
        earlier questions of the conversation (oldest first), among the documents ``access``
        allows (filtered inside the searches, before ranking).

        A follow-up (:func:`rag.followup.is_follow_up`) is searched together with the question
        before it, so its subject carries over; a question that stands on its own is searched
        alone, so it never inherits an unrelated subject."""
        follow_up = is_follow_up(question, bool(earlier))
        query = f"{earlier[-1]} {question}" if follow_up else question
        vote = self.dense_vote(query)
        vector = vote.embeddings.embed_query(query) if vote else None
        hits = self.relevant(self.search(query, k, query_vector=vector, hidden=self.hidden(access)))
        own = self.dense_vote(question)
        question_vector = None
        if own is not None:
            same = query == question and vector is not None
            question_vector = vector if same else own.embeddings.embed_query(question)
        return Retrieval(hits=hits, query=query, follow_up=follow_up, question_vector=question_vector,
                         embed_documents=own.embeddings.embed_documents if own else None,
                         multilingual=own is not None and own.multilingual)

    def search(self, question: str, k: int | None = None, mode: str | None = None,
               query_vector: list[float] | None = None,
               hidden: frozenset[str] = frozenset()) -> list[Hit]:
        """The ``k`` best chunks for the question, best first (see the module docstring).
        ``hidden``: sources the requester may not see, filtered inside both searches."""
        k = k or self.settings.top_k
        mode = mode or self.settings.retrieval_mode
        n = max(self.settings.candidates, k)
        hits: dict[str, Hit] = {}
        catalog = self._catalog()
        vote = self.dense_vote(question, mode)
        use_dense = vote is not None
        use_lexical = mode in ("hybrid", "bm25") and catalog is not None

        vector = None
        if vote is not None:
            vector = query_vector or vote.embeddings.embed_query(question)
            where = {"source": {"$nin": sorted(hidden)}} if hidden else None
            results = vote.store.similarity_search_by_vector_with_relevance_scores(
                vector, k=n, filter=where)
            for position, (doc, distance) in enumerate(results, start=1):
                text, meta = stored_chunk(doc.page_content, doc.metadata)
                hits[doc.id] = Hit(id=doc.id, text=text, metadata=meta,
                                   dense=1.0 - float(distance), dense_rank=position)
        if use_lexical:
            assert catalog is not None
            lexical = catalog.search(question, n, exclude=hidden)
            missing = [cid for cid, _ in lexical if cid not in hits]
            if missing:
                # The main vote's vectors come with the chunks; the multilingual vote's live in
                # its own collection (and only for the chunks it holds).
                main_vote = vote is not None and not vote.multilingual
                include = ["documents", "metadatas"] + (["embeddings"] if main_vote else [])
                got = self.vectorstore.get(ids=missing, include=include)
                for cid, text, meta in stored_chunks(got):
                    hits[cid] = Hit(id=cid, text=text, metadata=meta)
                if vote is not None and vector is not None:
                    found = [hits[cid] for cid in missing if cid in hits]
                    vectors = got if main_vote else vote.store.get(
                        ids=[h.id for h in found], include=["embeddings"])
                    _set_dense(vector, found, dict(zip(vectors["ids"], vectors["embeddings"], strict=True)))
            for position, (cid, score) in enumerate(lexical, start=1):
                if cid in hits:
                    hits[cid].bm25_rank = position
                    hits[cid].bm25 = score
        for cid in [cid for cid, hit in hits.items() if hit.metadata.get("source") in hidden]:
            del hits[cid]  # never reached: both searches filter; a second lock on the door
        if not hits:
            return []

        score_lexical(question, list(hits.values()), catalog)
        if vote is not None and vote.multilingual and mode == "hybrid" and any(
                h.lexical >= self.settings.min_relevance for h in hits.values() if h.bm25_rank):
            # The multilingual vote helps where the question's words are not the document's (an
            # employee's words for a statute's); where BM25 already finds a relevant chunk, its
            # ranking stands (adding the vote measured lower on CMRC, see docs/eval.md).
            use_dense = False
        return rank(hits.values(), mode, use_dense)[:k]

    def relevant(self, hits: list[Hit]) -> list[Hit]:
        """Hits above the relevance threshold (see :func:`relevance`)."""
        return [h for h in hits if relevance(h) >= self.settings.min_relevance]


def _set_dense(vector: list[float], hits: list[Hit], embeddings: dict[str, Any]) -> None:
    """Cosine similarity of the question to chunks the dense search did not propose (0 for
    chunks without a vector in the vote's index, such as English chunks in the multilingual
    one)."""
    for hit in hits:
        embedding = embeddings.get(hit.id)
        if embedding is not None:
            hit.dense = similarity(vector, embedding)


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
