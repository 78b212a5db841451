"""How one eval question is scored: its retrieval ranks as recall@k / MRR@k, and one answer
against the gold answers (SQuAD or CMRC 2018 exact match and F1, containment, whether the cited
chunks and the quoted evidence hold a gold answer). The scoring functions themselves are in
:mod:`devtools.metrics`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from devtools.eval_data import EvalQuestion
from devtools.metrics import (
    RetrievalScores,
    cmrc_exact_match,
    cmrc_f1,
    contains_answer,
    mrr_at_k,
    recall_at_k,
    squad_exact_match,
    squad_f1,
)


def retrieval_scores(ranks: Sequence[int | None], k: int) -> dict[str, float | int]:
    """recall@1/5/10, mrr@10 and n; recall@k and mrr@k as well for another k."""
    scores: dict[str, float | int] = {
        key: round(value, 4) if isinstance(value, float) else value
        for key, value in RetrievalScores.from_ranks(ranks).as_dict().items()
    }
    if k not in (1, 5, 10):
        scores[f"recall@{k}"] = round(recall_at_k(ranks, k), 4)
        scores[f"mrr@{k}"] = round(mrr_at_k(ranks, k), 4)
    return scores


def score_answer(answer: Any, question: EvalQuestion, lang: str) -> dict[str, Any]:
    """One :class:`rag.schemas.Answer` against the gold answers."""
    text = answer.answer if answer.found else ""
    golds = question.answers
    if lang == "zh":
        em, f1 = cmrc_exact_match(text, golds), cmrc_f1(text, golds)
    else:
        em, f1 = squad_exact_match(text, golds), squad_f1(text, golds)
    cited = [c for c in answer.citations if c.used]
    return {
        "id": question.id,
        "question": question.question,
        "answer": answer.answer,
        "golds": golds,
        "found": bool(answer.found),
        "unsupported": bool(answer.found) and not answer.grounded,
        "exact_match": em,
        "f1": f1,
        "contains": bool(text) and contains_answer(text, golds, lang),
        "citation_ok": any(contains_answer(c.text, golds, lang) for c in cited),
        "evidence_ok": bool(answer.evidence) and contains_answer(answer.evidence[0].text, golds, lang),
        "seconds": answer.timings.total_ms / 1000,
        "evidence": answer.evidence[0].text if answer.evidence else "",
        "generated": answer.generated,
    }
