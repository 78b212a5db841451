"""The fusion rule's parts that need no store: lexical coverage, IDF weights and the order
of the hits (retrieval over a real store: ``tests/rag/test_retrieval.py``)."""

from __future__ import annotations

import pytest

from rag.fusion import Hit, rank, relevance, score_lexical


def test_lexical_coverage_is_the_mean_of_terms_and_phrases() -> None:
    class Frequencies:  # both words equally rare: each weighs as much as the other
        def document_frequencies(self, terms: object) -> tuple[int, dict[str, int]]:
            return 100, {"leav": 5, "polici": 5}

    whole, apart, neither = (Hit(id=t, text=t, metadata={}) for t in (
        "The leave policy", "Policy on leave", "Nothing here"))
    score_lexical("leave policy", [whole, apart, neither], Frequencies())
    assert whole.lexical == 1.0
    # both words, not the phrase
    assert (apart.terms, apart.phrases, apart.lexical) == (1.0, 0.0, 0.5)
    assert neither.lexical == 0.0
    score_lexical("policy", [apart], Frequencies())  # no phrase: the terms alone
    assert (apart.terms, apart.phrases, apart.lexical) == (1.0, 1.0, 1.0)


def test_a_phrase_weighs_as_its_more_common_word() -> None:
    class Frequencies:
        def document_frequencies(self, terms: object) -> tuple[int, dict[str, int]]:
            return 100, {"is": 99, "northern": 3, "china": 5, "thi": 90}

    together = Hit(id="a", text="This is northern China.", metadata={})
    apart = Hit(id="b", text="China is northern.", metadata={})
    score_lexical("Where is northern China?", [together, apart], Frequencies())
    assert together.terms == apart.terms == 1.0
    assert together.phrases == 1.0
    assert apart.phrases < 0.05  # it only has "is northern", which weighs as little as "is"
    assert together.lexical > apart.lexical


def _hits() -> list[Hit]:
    # "a": BM25's first, little of the question; "b": dense's first; "c": both say something
    return [
        Hit(id="a", text="", metadata={}, dense=0.20, lexical=0.40, bm25_rank=1, dense_rank=3),
        Hit(id="b", text="", metadata={}, dense=0.70, lexical=0.10, bm25_rank=3, dense_rank=1),
        Hit(id="c", text="", metadata={}, dense=0.50, lexical=0.35, bm25_rank=2, dense_rank=2),
    ]


@pytest.mark.parametrize(
    ("mode", "use_dense", "expected"),
    [
        ("hybrid", True, ["c", "b", "a"]),  # sum on absolute scales: 0.85, 0.80, 0.60
        ("hybrid", False, ["a", "c", "b"]),  # a single vote: BM25's own order
        ("bm25", False, ["a", "c", "b"]),
        ("dense", True, ["b", "c", "a"]),  # the dense retriever's own order
    ],
)
def test_the_votes_are_added_only_when_both_have_one(mode: str, use_dense: bool,
                                                     expected: list[str]) -> None:
    ranked = rank(_hits(), mode, use_dense)
    assert [h.id for h in ranked] == expected
    if mode == "hybrid" and use_dense:
        assert [h.score for h in ranked] == pytest.approx([0.85, 0.80, 0.60])


def test_ties_go_to_bm25_then_dense() -> None:
    hits = [
        Hit(id="x", text="", metadata={}, dense=0.5, lexical=0.25, bm25_rank=None, dense_rank=1),
        Hit(id="y", text="", metadata={}, dense=0.25, lexical=0.5, bm25_rank=2, dense_rank=None),
        Hit(id="z", text="", metadata={}, dense=0.5, lexical=0.25, bm25_rank=None, dense_rank=2),
    ]
    assert [h.id for h in rank(hits, "hybrid", True)] == ["y", "x", "z"]
    assert relevance(hits[1]) == 0.5
