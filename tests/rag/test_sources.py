"""What an answer shows as its sources: the best sentence of each of the best chunks for the
model (under its chunk's number, best first, chunks without sentences whole), the citations
with their flags, and the quoted evidence shown instead of an unsupported answer."""

from __future__ import annotations

from rag.evidence import Candidate
from rag.fusion import Hit
from rag.prompts import NOT_FOUND
from rag.schemas import Evidence
from rag.sources import (
    SENTENCE_JOIN,
    citations_for,
    condensed_sources,
    unsupported_answer,
)


def _hits() -> list[Hit]:
    return [
        Hit(id="a", text="Leave is 25 days. Unused days lapse in March.", score=0.9,
            metadata={"source": "leave.md"}),
        Hit(id="b", text="Trains: second class under four hours.", score=0.6,
            metadata={"source": "travel.pdf", "page": 3, "ocr": True}),
        Hit(id="c", text="a table row without sentence breaks", score=0.3,
            metadata={"source": "rates.xlsx"}),
    ]


def _candidates() -> list[Candidate]:
    def sentence(text: str, rank: int, score: float, position: int) -> Candidate:
        hit = _hits()[rank]
        return Candidate(text=text, n=rank + 1, source=hit.source, page=hit.page, rank=rank,
                         score=score, position=position)

    return [sentence("Leave is 25 days.", 0, 0.4, 0),
            sentence("Unused days lapse in March.", 0, 0.5, 1),
            sentence("Trains: second class under four hours.", 1, 0.8, 0)]


def test_the_model_reads_each_best_chunks_best_sentence_best_first() -> None:
    sources = condensed_sources(_hits(), _candidates(), sentences=2)

    # one sentence from each of the two best-ranked chunks, the better sentence first, under
    # its chunk's number; the chunk with no sentences is given whole
    assert [(s.n, s.text) for s in sources] == [
        (2, "Trains: second class under four hours."),
        (1, "Unused days lapse in March."),
        (3, "a table row without sentence breaks"),
    ]
    assert sources[0].source == "travel.pdf" and sources[0].page == 3


def test_fewer_chunks_than_sentences_take_the_next_best_sentences_in_reading_order() -> None:
    sources = condensed_sources(_hits(), _candidates(), sentences=3)

    leave = next(s for s in sources if s.n == 1)
    assert leave.text == SENTENCE_JOIN.join(["Leave is 25 days.", "Unused days lapse in March."])
    assert len(sources) == 3


def test_no_sentence_budget_gives_every_chunk_whole() -> None:
    sources = condensed_sources(_hits(), _candidates(), sentences=0)

    assert [(s.n, s.text) for s in sources] == [(i + 1, h.text) for i, h in enumerate(_hits())]


def test_citations_number_the_hits_and_mark_the_used_ones() -> None:
    long_hit = Hit(id="d", text="word " * 100, metadata={"source": "long.md"})
    citations = citations_for([*_hits(), long_hit], used={2})

    assert [c.n for c in citations] == [1, 2, 3, 4]
    assert [c.used for c in citations] == [False, True, False, False]
    assert [c.ocr for c in citations] == [False, True, False, False]
    assert citations[1].page == 3 and citations[1].chunk_id == "b"
    assert citations[3].text == long_hit.text
    assert len(citations[3].snippet) == 240 and citations[3].snippet.endswith("…")


def test_an_unsupported_answer_quotes_the_best_evidence_or_says_not_found() -> None:
    best = Evidence(text=" Leave is 25 days. ", source="leave.md", n=1)

    assert unsupported_answer([best], "en") == (
        'The sources do not confirm a short answer; the closest passage says: '
        '"Leave is 25 days." [1]')
    assert unsupported_answer([], "zh") == NOT_FOUND["zh"]
