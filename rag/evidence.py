"""Evidence: the sentence (or two) of the top sources that best answers the question, quoted
verbatim with its file and page. It does not depend on the language model, so the reader has
something checkable even when a small model answers badly.

Each sentence of the top three sources is scored like retrieval scores chunks: the share of the
question's (IDF-weighted) terms it contains, plus its embedding similarity to the question where
the embedder understands the question's language. A sentence that contains the model's own
answer gets a bonus, which ties the quote to the answer shown above it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rag.citations import strip_markers
from rag.embedders import similarity as embedding_similarity
from rag.lexical import lexical_tokens
from rag.prompts import is_not_found
from rag.schemas import Evidence
from rag.text import CJK_RANGE

# Sentence ends: Chinese full-width marks (no space needed), English marks before a space.
_SENTENCE_END = re.compile(
    r"(?<=[。！？；])|(?<=[.!?;])(?<!e\.g\.)(?<!i\.e\.)(?<!\bvs\.)(?<!\bMr\.)(?<!\bDr\.)"
    r"(?<!\bNo\.)(?<!U\.S\.)\s+")
# Block ends: a blank line, or a line that starts a list item, heading, table row or quote.
_BLOCK_END = re.compile(
    r"\n\s*\n|\n(?=[ \t]*(?:[-*+•·]\s|\d{1,3}[.)、]\s|#|\||>|[一二三四五六七八九十]+、|第[一二三四五六七八九十百0-9]+[章节条]))")
# A line wrapped inside a paragraph: joined with a space (none between two CJK characters).
_CJK_WRAP = re.compile(rf"(?<=[{CJK_RANGE}])[ \t]*\n[ \t]*(?=[{CJK_RANGE}])")
_WRAP = re.compile(r"[ \t]*\n[ \t]*")
_WORD = re.compile(r"\w")


@dataclass(slots=True)
class Candidate:
    text: str
    n: int
    source: str
    page: int | None
    rank: int
    score: float = 0.0
    position: int = 0  # the sentence's place in its chunk
    coverage: float = 0.0  # IDF-weighted share of the question's terms in the sentence
    similarity: float = 0.0  # embedding similarity to the question (0 where dense has no vote)

    @property
    def relevance(self) -> float:
        """How strongly the sentence alone is about the question (0..1), like a hit's."""
        return max(self.coverage, self.similarity)


# A heading: Markdown "#", "四、", "第三条", "4." or "4.2" numbering, short, no sentence end.
_HEADING = re.compile(r"^(?:#{1,6}\s|[一二三四五六七八九十]+、|第[一二三四五六七八九十百0-9]+[章节条部分]|\d+(?:\.\d+)*\.?\s)")
_ENDS_SENTENCE = re.compile(r"[.!?;:。！？；：,，]$")


def split_sentences(text: str) -> list[str]:
    """The sentences of a chunk: blocks (paragraphs, list items, table rows) with their wrapped
    lines joined, split at sentence ends; a heading is put before the sentence that follows it
    (it says what the sentence is about, and is no answer by itself); fragments of fewer than
    four word characters dropped."""
    parts: list[str] = []
    heading = ""
    for block in _BLOCK_END.split(text):
        block = _WRAP.sub(" ", _CJK_WRAP.sub("", block)).strip()
        if not block:
            continue
        if _HEADING.match(block) and len(block) <= 40 and not _ENDS_SENTENCE.search(block):
            heading = block
            continue
        pieces = [p.strip() for p in _SENTENCE_END.split(block) if p and p.strip()]
        if heading and pieces:
            pieces[0] = f"{heading} — {pieces[0]}"
            heading = ""
        parts.extend(pieces)
    if heading:
        parts.append(heading)
    return [p for p in parts if len(_WORD.findall(p)) >= 4]


def _weights(query: str, pool: Sequence[set[str]]) -> dict[str, float]:
    """The question's terms weighted by how few of the retrieved sentences hold them. Not
    BM25's IDF (:func:`rag.fusion.idf`, over the whole store): the pool is only the sentences
    of the few retrieved chunks, where the question's key term is often in most of them, and
    here a term in every sentence still weighs about log 2 (0.7, against 1.6 to 2.7 for a term
    in one sentence of 5 to 20; BM25's would weigh almost nothing), so the key term keeps a say
    in which sentence is picked."""
    terms = dict.fromkeys(lexical_tokens(query))
    total = len(pool)
    return {t: math.log(1.0 + (total + 1) / (sum(1 for s in pool if t in s) + 0.5)) for t in terms}


def sentence_candidates(hits: Sequence[Any], query: str, query_vector: Sequence[float] | None,
                        embed_documents: Callable[[list[str]], list[list[float]]] | None
                        ) -> list[Candidate]:
    """Score every sentence of the given hits (the top sources, best first) against the query:
    its coverage of the query's terms, plus its similarity to ``query_vector`` where an
    embedder judges the query (``embed_documents`` puts the sentences in that vector's space)."""
    candidates = [
        Candidate(text=sentence, n=i + 1, source=hit.source, page=hit.page, rank=i, position=j)
        for i, hit in enumerate(hits)
        for j, sentence in enumerate(split_sentences(hit.text))
    ]
    if not candidates:
        return []
    token_sets = [set(lexical_tokens(c.text)) for c in candidates]
    weights = _weights(query, token_sets)
    total_weight = sum(weights.values()) or 1.0
    dense = [0.0] * len(candidates)
    if embed_documents is not None and query_vector is not None:
        vectors = embed_documents([c.text for c in candidates])
        dense = [embedding_similarity(query_vector, v) for v in vectors]
    for candidate, tokens, similarity in zip(candidates, token_sets, dense, strict=True):
        candidate.coverage = sum(w for t, w in weights.items() if t in tokens) / total_weight
        candidate.similarity = similarity
        # A slight preference for the better-ranked source breaks near-ties.
        candidate.score = candidate.coverage + similarity - 0.01 * candidate.rank
    return candidates


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def pick_evidence(candidates: Sequence[Candidate], answer: str, hits: Sequence[Any], lang: str,
                  most: int = 2, question: str = "") -> list[Evidence]:
    """The best sentence, and a second one when it scores nearly as well.

    The question decides: a sentence scores its match with the question. Among the sentences
    that match it nearly as well as the best one (within 80%), the model's answer breaks the tie:
    how much of what the answer adds to the question they hold (numbers count double), and a
    bonus for holding the whole answer. So the quote is the line the answer came from (the hotel
    limit, not the per diem beside it), and a wrong answer cannot pull in an unrelated line."""
    if not candidates:
        return []
    core = "" if is_not_found(answer) else _normalise(strip_markers(answer)).strip(" .。!！?？")
    asked = set(lexical_tokens(question))
    added = {t: 2.0 if t[:1].isdigit() else 1.0 for t in lexical_tokens(core) if t not in asked}
    added_weight = sum(added.values())

    top = max(c.score for c in candidates)

    def total(c: Candidate) -> float:
        if c.score < 0.8 * top:
            return c.score
        bonus = 1.0 if len(core) >= 2 and core in _normalise(c.text) else 0.0
        if added_weight:
            tokens = set(lexical_tokens(c.text))
            bonus += sum(w for t, w in added.items() if t in tokens) / added_weight
        return c.score + bonus

    ranked = sorted(candidates, key=total, reverse=True)
    best = ranked[0]
    chosen = [best]
    for other in ranked[1:most]:
        if total(other) >= 0.9 * total(best) and other.text != best.text:
            chosen.append(other)
    return [Evidence(text=c.text, source=c.source, page=c.page, n=c.n, score=round(total(c), 4))
            for c in chosen]
