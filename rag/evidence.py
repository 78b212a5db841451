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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag.catalog import lexical_tokens
from rag.prompts import NOT_FOUND, detect_language
from rag.schemas import Evidence

# Sentence ends: Chinese full-width marks (no space needed), English marks before a space, lines.
_SENTENCE_END = re.compile(r"(?<=[。！？；])|(?<=[.!?;])\s+|\n+")
_MARKERS = re.compile(r"\s*\[\d{1,3}(?:\s*[,，]\s*\d{1,3})*\]")
_WORD = re.compile(r"\w")


@dataclass(slots=True)
class Candidate:
    text: str
    n: int
    source: str
    page: int | None
    rank: int
    score: float = 0.0


def split_sentences(text: str) -> list[str]:
    parts = [p.strip() for p in _SENTENCE_END.split(text) if p and p.strip()]
    return [p for p in parts if len(_WORD.findall(p)) >= 4]


def _weights(query: str, pool: Sequence[set[str]]) -> dict[str, float]:
    terms = dict.fromkeys(lexical_tokens(query))
    total = len(pool)
    return {t: math.log(1.0 + (total + 1) / (sum(1 for s in pool if t in s) + 0.5)) for t in terms}


def sentence_candidates(hits: Sequence[Any], query: str, query_vector: Sequence[float] | None,
                        retriever: Any, use_dense: bool | None = None) -> list[Candidate]:
    """Score every sentence of the given hits (the top sources, best first) against the query."""
    candidates = [
        Candidate(text=sentence, n=i + 1, source=hit.source, page=hit.page, rank=i)
        for i, hit in enumerate(hits)
        for sentence in split_sentences(hit.text)
    ]
    if not candidates:
        return []
    token_sets = [set(lexical_tokens(c.text)) for c in candidates]
    weights = _weights(query, token_sets)
    total_weight = sum(weights.values()) or 1.0
    if use_dense is None:
        use_dense = detect_language(query) == "en"
    dense = [0.0] * len(candidates)
    if use_dense and query_vector is not None:
        vectors = retriever.embeddings.embed_documents([c.text for c in candidates])
        dense = [sum(a * b for a, b in zip(query_vector, v, strict=False)) for v in vectors]
    for candidate, tokens, similarity in zip(candidates, token_sets, dense, strict=True):
        coverage = sum(w for t, w in weights.items() if t in tokens) / total_weight
        # A slight preference for the better-ranked source breaks near-ties.
        candidate.score = coverage + similarity - 0.01 * candidate.rank
    return candidates


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def pick_evidence(candidates: Sequence[Candidate], answer: str, hits: Sequence[Any], lang: str,
                  most: int = 2) -> list[Evidence]:
    """The best sentence, and a second one when it scores nearly as well."""
    if not candidates:
        return []
    core = _normalise(_MARKERS.sub("", answer)).strip(" .。!！?？")
    if core in (_normalise(NOT_FOUND["en"]).strip(". "), NOT_FOUND["zh"].strip("。")):
        core = ""

    def total(c: Candidate) -> float:
        bonus = 1.0 if len(core) >= 2 and core in _normalise(c.text) else 0.0
        return c.score + bonus

    ranked = sorted(candidates, key=total, reverse=True)
    best = ranked[0]
    chosen = [best]
    for other in ranked[1:most]:
        if total(other) >= 0.9 * total(best) and other.text != best.text:
            chosen.append(other)
    return [Evidence(text=c.text, source=c.source, page=c.page, n=c.n, score=round(total(c), 4))
            for c in chosen]


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def grounded(answer: str, sources_text: str) -> bool:
    """Whether the answer only states what its sources hold: every number in it occurs in the
    sources, and at least half of its terms do. A small model that invents "12 days" where the
    source says "25 days" fails this, and the reader is pointed to the quoted evidence."""
    core = _MARKERS.sub("", answer)
    if not core.strip():
        return True
    source_numbers = set(_NUMBER.findall(sources_text))
    if any(n not in source_numbers for n in _NUMBER.findall(core)):
        return False
    terms = set(lexical_tokens(core))
    if not terms:
        return True
    present = set(lexical_tokens(sources_text))
    return len(terms & present) >= 0.5 * len(terms)
