"""The answering chain: question (+ history) -> retrieval -> prompt -> local LLM -> cited answer.

Library API first: :meth:`Assistant.answer` returns an :class:`~rag.schemas.Answer`;
:meth:`Assistant.stream` yields the answer text as it is generated and then holds the
``Answer``. The CLI and the chat page are thin edges over these.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import RunnableLambda

from rag.access import EVERYTHING, Access
from rag.answer_cache import AnswerCache, cache_key
from rag.citations import CitationFilter, cited_numbers
from rag.config import Settings
from rag.embedders import similarity as embedding_similarity
from rag.errors import ConfigError, StoreEmptyError
from rag.evidence import Candidate, pick_evidence, sentence_candidates
from rag.grounding import NumberGuard, grounded
from rag.prompts import (
    NOT_FOUND,
    Turn,
    detect_language,
    fit_to_context,
    is_not_found,
)
from rag.redact import redact_answer
from rag.retrieval import Retrieval, Retriever
from rag.schemas import Answer, Evidence, Timings
from rag.sources import (
    SENTENCE_JOIN,
    citations_for,
    condensed_sources,
    unsupported_answer,
)

EventFn = Callable[[str, dict[str, Any]], None]


@dataclass
class AnswerStream:
    """Iterate for the answer text as it streams; ``answer`` is complete afterwards."""

    _chunks: Iterator[str]
    answer: Answer | None = None
    # True when text already streamed was replaced by ``answer.answer`` (an unsupported answer
    # replaced by its evidence); an edge that can redraw shows ``answer.answer`` alone.
    replaced: bool = False

    def __iter__(self) -> Iterator[str]:
        yield from self._chunks


class Assistant:
    """Answers questions from one knowledge base with one model (both shared, thread-safe)."""

    def __init__(self, settings: Settings, retriever: Retriever, llm: Any) -> None:
        self.settings = settings
        self.retriever = retriever
        self.llm = llm  # factories.LLMHandle
        self.gate = llm.gate  # shared by every Assistant over this model
        self.cache = AnswerCache(settings.store_dir, settings.answer_cache_size)

    def chain(self, **params: Any) -> Any:
        """prompt text -> local LLM (streaming, with the format's stop sequences) -> text."""
        return (
            RunnableLambda(lambda prompt: prompt, name="prompt")
            | self.llm.llm.bind(stop=self.llm.fmt.stop, **params)
            | StrOutputParser()
        )

    # --- public API ------------------------------------------------------------------
    def answer(self, question: str, history: Sequence[Turn] = (), on_event: EventFn | None = None,
               access: Access = EVERYTHING, **overrides: Any) -> Answer:
        stream = self.stream(question, history, on_event, access, **overrides)
        for _ in stream:
            pass
        assert stream.answer is not None
        return stream.answer

    def stream(self, question: str, history: Sequence[Turn] = (), on_event: EventFn | None = None,
               access: Access = EVERYTHING, **overrides: Any) -> AnswerStream:
        """``access``: what the asker may see (nothing else is retrieved, quoted or cited). A
        question asked before, unchanged in every respect that matters, is answered from the
        cache (``answer.cached``)."""
        started = time.perf_counter()
        result = AnswerStream(iter(()))
        question = question.strip()
        key = version = None
        # the conversation the answer may depend on (the rest is never read)
        kept = list(history[-self.settings.history_turns:]) if self.settings.history_turns else []
        if self.cache.size and self.retriever.count():
            version = self.retriever.version()
            given = {k: v for k, v in overrides.items() if v is not None}  # None: the setting
            key = cache_key(question, [(t.question, t.answer) for t in kept], version,
                            self.llm.name, {**self.settings.model_dump(mode="json"), **given},
                            self.retriever.hidden(access))
            cached = self.cache.get(key)
            if cached is not None:
                result._chunks = self._from_cache(cached, on_event, result, started)
                return result
        result._chunks = self._run(question, kept, on_event, result, overrides, access)
        if self.settings.redact_contacts:
            result._chunks = _redacted(result, result._chunks)
        if key is not None and version is not None:
            result._chunks = self._kept(result, result._chunks, key, version)
        return result

    def _from_cache(self, answer: Answer, on_event: EventFn | None, result: AnswerStream,
                    started: float) -> Iterator[str]:
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        answer.cached = True
        answer.timings = Timings(ttft_ms=elapsed, total_ms=elapsed)
        if on_event:
            on_event("retrieved", {"hits": len(answer.citations), "follow_up": answer.follow_up})
            on_event("sources", {"citations": answer.citations})
        result.answer = answer
        yield answer.answer

    def _kept(self, result: AnswerStream, chunks: Iterator[str], key: str,
              version: str) -> Iterator[str]:
        """The answer, stored once it is complete (an error or an abandoned stream is not)."""
        yield from chunks
        if result.answer is not None:
            self.cache.put(key, version, result.answer)

    # --- the chain -------------------------------------------------------------------
    def _run(self, question: str, history: list[Turn], on_event: EventFn | None,
             result: AnswerStream, overrides: dict[str, Any], access: Access) -> Iterator[str]:
        started = time.perf_counter()
        timings = Timings()
        lang = detect_language(question)
        if self.retriever.count() == 0:
            raise StoreEmptyError(self.settings.store_dir)
        top_k = int(overrides.get("top_k") or self.settings.top_k)
        found = self.retriever.retrieve(question, [t.question for t in history], top_k, access)
        # Checked again where the answer is assembled: nothing the asker may not see is cited.
        hits = [h for h in found.hits if access.allows(h.source)]
        timings.retrieval_ms = round((time.perf_counter() - started) * 1000, 1)
        if on_event:
            on_event("retrieved", {"hits": len(hits), "follow_up": found.follow_up})
        if on_event:  # what the answer may cite, before it is generated (a stream's first frame)
            sources_now = citations_for(hits, set())
            if self.settings.redact_contacts:
                sources_now = redact_answer(Answer(answer="", citations=sources_now)).citations
            on_event("sources", {"citations": sources_now})
        if not hits:
            result.answer = self._nothing_found(question, lang, timings, started)
            yield result.answer.answer
            return

        # Evidence answers *this* question: a follow-up's own words pick the sentence, within
        # chunks retrieved with the conversation's subject.
        # Sentences are scored by the main embedder only: with the multilingual one the answer
        # was among the two shown sentences less often than with the question's words alone
        # (realistic zh: 10 times in 24 against 12), and it costs ~0.1 s a sentence.
        candidates = sentence_candidates(hits, question, *(
            (None, None) if found.multilingual else (found.question_vector, found.embed_documents)))
        sources = condensed_sources(hits, candidates, self.settings.source_sentences)
        # Only a follow-up needs the conversation; a question that stands alone is answered alone.
        context_history = history if found.follow_up else []
        budget = self.llm.n_ctx - int(overrides.get("max_tokens") or self.settings.max_tokens) - 8
        prompt, used_sources, _ = fit_to_context(
            self.llm.fmt, sources, question, context_history, self.llm.count_tokens, budget
        )
        timings.prompt_tokens = self.llm.count_tokens(prompt)
        sources_text = "\n".join(s.text for s in used_sources)
        citation_filter = CitationFilter({s.n for s in used_sources})
        guard = NumberGuard(sources_text)
        params = {k: overrides[k] for k in ("temperature", "max_tokens")
                  if overrides.get(k) is not None}
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
                if timings.llm_ttft_ms is None:
                    timings.llm_ttft_ms = round((time.perf_counter() - llm_started) * 1000, 1)
                timings.completion_tokens += 1
                out = guard.feed(citation_filter.feed(token))
                if guard.unsupported is not None:
                    break  # a number the sources do not hold: stop generating, show none of it
                if out:
                    if timings.ttft_ms is None:
                        timings.ttft_ms = round((time.perf_counter() - started) * 1000, 1)
                    pieces.append(out)
                    yield out
            if guard.unsupported is None:
                tail = guard.feed(citation_filter.flush()) + guard.flush()
                if tail and guard.unsupported is None:
                    if timings.ttft_ms is None:  # all of it was held back until the end
                        timings.ttft_ms = round((time.perf_counter() - started) * 1000, 1)
                    pieces.append(tail)
                    yield tail
        finally:
            self.gate.release()

        generated = "".join(pieces).strip()
        if is_not_found(generated):
            # The model read the sources and found no answer in them: say so, cite nothing.
            result.answer = self._nothing_found(question, lang, timings, started)
            if generated != NOT_FOUND[lang]:
                result.replaced = True
                yield "\n\n" + NOT_FOUND[lang]
            return
        evidence = pick_evidence([c for c in candidates if c.rank < 3], generated, hits[:3], lang,
                                 question=question)
        shown = [part for s in used_sources for part in s.text.split(SENTENCE_JOIN)]
        supported = (guard.unsupported is None and bool(generated)
                     and grounded(generated, sources_text, question, shown))
        text = generated
        if not supported:
            # Never a confident falsehood: what the sources do not hold is not the answer; the
            # best evidence sentence, quoted and cited, is, if it is about the question at all.
            if not self._about_question(evidence, candidates, found):
                result.answer = self._nothing_found(question, lang, timings, started, generated)
                result.replaced = bool(pieces)
                yield ("\n\n" if pieces else "") + NOT_FOUND[lang]
                return
            text = unsupported_answer(evidence, lang)
            result.replaced = bool(pieces)
            yield ("\n\n" if pieces else "") + text
        elif evidence and not cited_numbers(text):
            # The model did not cite: the evidence sentence its answer came from is the source.
            mark = f" [{evidence[0].n}]"
            text += mark
            yield mark
        citations = citations_for(hits, cited_numbers(text) | {e.n for e in evidence if e.n})
        result.answer = Answer(question=question, answer=text, found=True, grounded=supported,
                               generated=None if supported else generated, citations=citations,
                               evidence=evidence, follow_up=found.follow_up,
                               timings=self._close(timings, started))

    def _about_question(self, evidence: Sequence[Evidence], candidates: Sequence[Candidate],
                        found: Retrieval) -> bool:
        """Whether the best evidence sentence is about the question at all, so that quoting it
        helps. A sentence is a sliver of its chunk: half the chunks' threshold on its coverage
        or main-embedder similarity. The multilingual embedder's cosines of unrelated texts run
        higher, so its similarity needs the whole threshold (measured with it as the sentences'
        similarity, realistic Chinese: off-topic questions answered "not found" 0.77 with half,
        0.86 with the whole; answerable ones found 0.83 with either)."""
        if not evidence:
            return False
        best = next((c for c in candidates if c.text == evidence[0].text), None)
        if best is not None and best.relevance >= self.settings.min_relevance / 2:
            return True
        if not (found.multilingual and found.embed_documents and found.question_vector):
            return False
        vector = found.embed_documents([evidence[0].text])[0]
        similarity = embedding_similarity(found.question_vector, vector)
        return similarity >= self.settings.min_relevance

    @staticmethod
    def _close(timings: Timings, started: float) -> Timings:
        timings.total_ms = round((time.perf_counter() - started) * 1000, 1)
        if timings.ttft_ms is None:
            timings.ttft_ms = timings.total_ms
        return timings

    def _nothing_found(self, question: str, lang: str, timings: Timings, started: float,
                       generated: str | None = None) -> Answer:
        """"Not found": no sources, no evidence (``generated``: the model's withheld text)."""
        return Answer(question=question, answer=NOT_FOUND[lang], found=False, generated=generated,
                      timings=self._close(timings, started))


def _redacted(result: AnswerStream, chunks: Iterator[str]) -> Iterator[str]:
    """The answer with contacts redacted, whole (a phone number may span two pieces)."""
    for _ in chunks:
        pass
    assert result.answer is not None
    result.answer = redact_answer(result.answer)
    result.replaced = False
    yield result.answer.answer
