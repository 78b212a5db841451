"""The answering chain: question (+ history) -> retrieval -> prompt -> local LLM -> cited answer.

Library API first: :meth:`Assistant.answer` returns an :class:`~rag.schemas.Answer`;
:meth:`Assistant.stream` yields the answer text as it is generated and then holds the
``Answer``. The CLI and the chat page are thin edges over these.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import RunnableLambda

from rag.citations import CitationFilter, cited_numbers
from rag.config import Settings
from rag.errors import ConfigError, StoreEmptyError
from rag.evidence import Candidate, grounded, pick_evidence, sentence_candidates
from rag.prompts import NOT_FOUND, Source, Turn, detect_language, fit_to_context
from rag.retrieval import Hit, Retriever
from rag.schemas import Answer, Citation, Timings

EventFn = Callable[[str, dict[str, Any]], None]
_SNIPPET = 240


def snippet(text: str, limit: int = _SNIPPET) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass
class AnswerStream:
    """Iterate for the answer text as it streams; ``answer`` is complete afterwards."""

    _chunks: Iterator[str]
    answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self._chunks


class Assistant:
    """Answers questions from one knowledge base with one model (both shared, thread-safe)."""

    def __init__(self, settings: Settings, retriever: Retriever, llm: Any) -> None:
        self.settings = settings
        self.retriever = retriever
        self.llm = llm  # factories.LLMHandle
        self.gate = llm.gate  # shared by every Assistant over this model
        self.last_llm_ttft_ms: float | None = None

    def chain(self, **params: Any) -> Any:
        """prompt text -> local LLM (streaming, with the format's stop sequences) -> text."""
        return (
            RunnableLambda(lambda prompt: prompt, name="prompt")
            | self.llm.llm.bind(stop=self.llm.fmt.stop, **params)
            | StrOutputParser()
        )

    # --- public API ------------------------------------------------------------------
    def answer(self, question: str, history: Sequence[Turn] = (), on_event: EventFn | None = None,
               **overrides: Any) -> Answer:
        stream = self.stream(question, history, on_event, **overrides)
        for _ in stream:
            pass
        assert stream.answer is not None
        return stream.answer

    def stream(self, question: str, history: Sequence[Turn] = (), on_event: EventFn | None = None,
               **overrides: Any) -> AnswerStream:
        result = AnswerStream(iter(()))
        result._chunks = self._run(question.strip(), list(history), on_event, result, overrides)
        return result

    # --- the chain -------------------------------------------------------------------
    def _retrieval_query(self, question: str, history: list[Turn]) -> str:
        """A follow-up ("and for part-time staff?") is searched together with the previous
        question, so its subject carries over."""
        if history:
            return f"{history[-1].question} {question}"
        return question

    def _run(self, question: str, history: list[Turn], on_event: EventFn | None,
             result: AnswerStream, overrides: dict[str, Any]) -> Iterator[str]:
        started = time.perf_counter()
        timings = Timings()
        lang = detect_language(question)
        if self.retriever.count() == 0:
            raise StoreEmptyError(self.settings.store_dir)
        history = history[-self.settings.history_turns:] if self.settings.history_turns else []
        query = self._retrieval_query(question, history)
        # The dense retriever is asked only where the embedder understands the language.
        query_vector = self.retriever.embed_query(query) if self.retriever.uses_dense(query) else None
        top_k = int(overrides.get("top_k") or self.settings.top_k)
        hits = self.retriever.relevant(self.retriever.search(query, top_k, query_vector=query_vector))
        timings.retrieval_ms = round((time.perf_counter() - started) * 1000, 1)
        if on_event:
            on_event("retrieved", {"hits": len(hits)})

        if not hits:
            text = NOT_FOUND[lang]
            timings.ttft_ms = round((time.perf_counter() - started) * 1000, 1)
            timings.total_ms = timings.ttft_ms
            result.answer = Answer(question=question, answer=text, found=False, timings=timings)
            yield text
            return

        # Evidence answers *this* question: a follow-up's own words pick the sentence, within
        # chunks retrieved with the conversation's subject.
        use_dense = self.retriever.uses_dense(question)
        question_vector = None
        if use_dense:
            question_vector = query_vector if query == question and query_vector else self.retriever.embed_query(question)
        candidates = sentence_candidates(hits, question, question_vector, self.retriever, use_dense=use_dense)
        sources = condensed_sources(hits, candidates)

        budget = self.llm.n_ctx - int(overrides.get("max_tokens") or self.settings.max_tokens) - 8
        prompt, used_sources, _ = fit_to_context(
            self.llm.fmt, sources, question, history, self.llm.count_tokens, budget
        )
        timings.prompt_tokens = self.llm.count_tokens(prompt)
        valid = {s.n for s in used_sources}
        citation_filter = CitationFilter(valid)
        params = {k: overrides[k] for k in ("temperature", "max_tokens") if overrides.get(k) is not None}
        # Never ask llama.cpp for more than the context holds: shorten the answer if needed.
        room = self.llm.n_ctx - timings.prompt_tokens - 4
        if room < 16:
            raise ConfigError(
                f"the model's context (RAG_N_CTX={self.llm.n_ctx}) is too small for the prompt "
                f"({timings.prompt_tokens} tokens): raise RAG_N_CTX (4096 is the default)"
            )
        params["max_tokens"] = min(int(params.get("max_tokens") or self.settings.max_tokens), room)

        pieces: list[str] = []
        queued = self.gate.acquire(on_event)
        timings.queued_ms = round(queued * 1000, 1)
        try:
            llm_started = time.perf_counter()
            for token in self.chain(**params).stream(prompt):
                timings.completion_tokens += 1
                out = citation_filter.feed(token)
                if out:
                    if timings.ttft_ms is None:
                        timings.ttft_ms = round((time.perf_counter() - started) * 1000, 1)
                        self.last_llm_ttft_ms = (time.perf_counter() - llm_started) * 1000
                    pieces.append(out)
                    yield out
            tail = citation_filter.flush()
            if tail:
                pieces.append(tail)
                yield tail
        finally:
            self.gate.release()

        text = "".join(pieces).strip()
        evidence = pick_evidence([c for c in candidates if c.rank < 3], text, hits[:3], lang)
        if not text:
            # The model said nothing useful: the quoted evidence is the answer.
            text = f"{evidence[0].text} [{evidence[0].n}]" if evidence else NOT_FOUND[lang]
            yield text
        cited = cited_numbers(text)
        evidence_ns = {e.n for e in evidence}
        citations = [
            Citation(n=i + 1, source=h.source, page=h.page, chunk_id=h.id, score=round(h.score, 4),
                     snippet=snippet(h.text), text=h.text,
                     used=(i + 1) in cited or (i + 1) in evidence_ns)
            for i, h in enumerate(hits)
        ]
        timings.total_ms = round((time.perf_counter() - started) * 1000, 1)
        if timings.ttft_ms is None:
            timings.ttft_ms = timings.total_ms
        is_grounded = grounded(text, "\n".join(s.text for s in used_sources))
        result.answer = Answer(question=question, answer=text, found=True, grounded=is_grounded,
                               citations=citations, evidence=evidence, timings=timings)


def condensed_sources(hits: Sequence[Hit], candidates: Sequence[Candidate], sentences: int = 2) -> list[Source]:
    """The numbered sources as the model sees them: the sentences of the retrieved chunks that
    best match the question (the evidence candidates), each under its chunk's number, best
    chunk first. A small model answers far better from a few pertinent sentences than from
    whole chunks, and the prompt is shorter (a faster first token). Chunks without sentence
    breaks are given whole."""
    ranked = sorted(candidates, key=lambda c: -c.score)[:sentences]
    by_rank: dict[int, list[Candidate]] = {}
    for c in ranked:
        by_rank.setdefault(c.rank, []).append(c)
    sources = []
    for rank in sorted(by_rank, key=lambda r: -max(c.score for c in by_rank[r])):
        hit = hits[rank]
        mine = sorted(by_rank[rank], key=lambda c: hit.text.find(c.text))
        sources.append(Source(n=rank + 1, source=hit.source, page=hit.page,
                              text=" … ".join(c.text for c in mine)))
    for i, hit in enumerate(hits):
        if not any(c.rank == i for c in candidates):
            sources.append(Source(n=i + 1, source=hit.source, page=hit.page, text=hit.text))
    return sources
