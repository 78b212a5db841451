"""Retrieval over a real Chroma store (tmp folder, real embedder): tokenisation, the language
gate, fusion, and the lexical index's version."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.catalog import CATALOG_NAME, Catalog, FileRecord
from rag.config import Settings, load_settings
from rag.embedders import card_languages, dense_understands
from rag.lexical import (
    LEXICAL_VERSION,
    index_tokens,
    lexical_tokens,
    query_text,
    terms_and_phrases,
)
from rag.retrieval import Hit, Retriever, relevance
from rag.text import language as question_language

# A tiny bilingual corpus. Each English document answers one question that shares almost no
# words with it (only meaning connects them: the dense retriever's case) or one that hinges on
# an exact code (the lexical retriever's case).
DOCS = {
    "remote.md": "# Working arrangements\n\nStaff may work from their homes up to two days each "
                 "week, provided their manager agrees in advance.\n",
    "parts.md": "# Spare parts\n\nThe replacement fan for the cooling unit has the order number "
                "QX-7731. Keep two of them in stock.\n",
    "canteen.md": "# Canteen\n\nLunch is served between noon and two o'clock. Vegetarian dishes "
                  "are marked green on the menu.\n",
    "security.md": "# Building security\n\nVisitors sign in at reception and wear a badge. Doors "
                   "lock automatically at eight in the evening.\n",
    "报销.md": "# 差旅报销\n\n员工出差的住宿标准为每晚五百元，报销单须在出差结束后三十天内提交给财务部。\n",
    "年假.md": "# 年假制度\n\n正式员工每年享有十五天带薪年假，未休完的年假可以顺延到下一年的第一季度。\n",
    "食堂.md": "# 食堂\n\n午餐供应时间为中午十二点到下午两点，素食菜品在菜单上用绿色标出。\n",
}


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The corpus ingested once for the module (real Chroma, real MiniLM)."""
    from ingest.sync import run_sync

    root = tmp_path_factory.mktemp("kb")
    docs = root / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # no developer .env
        import os

        for key in [k for k in os.environ if k.startswith("RAG_")]:
            mp.delenv(key)
        settings = load_settings(docs_dir=docs, store_dir=root / "store")
        report = run_sync([docs], settings)
        assert report.files_added == len(DOCS) and not report.files_failed
        yield settings


@pytest.fixture(scope="module")
def retriever(kb: Settings) -> Retriever:
    from rag import factories

    return factories.build_retriever(kb)


@pytest.fixture(scope="module")
def lexical_only(kb: Settings) -> Retriever:
    """The same store without its multilingual vectors (RAG_MULTILINGUAL_EMBEDDING=false)."""
    from rag import factories

    return factories.build_retriever(kb.model_copy(update={"multilingual_embedding": False}))


# --- tokenisation ------------------------------------------------------------------------
def test_index_tokens_hold_cjk_characters_and_bigrams() -> None:
    assert index_tokens("年假制度") == ["年", "假", "制", "度", "年假", "假制", "制度"]
    assert lexical_tokens("年假制度") == ["年假", "假制", "制度"]  # unchanged for other users
    assert index_tokens("Hotels booked in Zürich") == ["hotel", "book", "in", "zurich"]


def test_words_stem_the_same_from_many_threads_at_once() -> None:
    """The chat page and the API tokenise from several threads; a stemmer keeps state while it
    works, so a shared one could hand a thread another word's stem."""
    import random
    import sys
    from concurrent.futures import ThreadPoolExecutor

    from rag import lexical

    vocabulary = ("connections generously running reimbursement travelling employees approved "
                  "holidays allowances contractual dismissal organisational").split()
    words = [random.Random(i).choice(vocabulary) for i in range(6000)]
    expected = [lexical._stem(w) for w in words]  # noqa: SLF001
    assert [lexical._stem(w) for w in vocabulary[:4]] == [  # noqa: SLF001
        "connect", "generous", "run", "reimburs"]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _ in range(5):
                assert list(pool.map(lexical._stem, words)) == expected  # noqa: SLF001
    finally:
        sys.setswitchinterval(switch)


def test_query_text_drops_only_the_first_interrogative() -> None:
    assert query_text("Who is the producer of Doctor Who?").split() == [
        "is", "the", "producer", "of", "Doctor", "Who?"]
    assert "什么" not in query_text("他司职什么位置？")
    assert terms_and_phrases(query_text("他司职什么位置？")) == (
        ["他", "司", "职", "位", "置"], ["他司", "司职", "位置"])  # no bigram across the gap


# --- which languages the embedder understands ----------------------------------------------
@pytest.mark.parametrize(
    ("front", "expected"),
    [
        ("language: en\nlicense: apache-2.0", frozenset({"en"})),
        ("language:\n- en\n- zh\ntags:\n- x", frozenset({"en", "zh"})),
        ("language: multilingual", frozenset({"*"})),
        ("language:\n- en\ntags:\n- multilingual", frozenset({"en", "*"})),
        ("license: mit", None),
    ],
)
def test_card_languages(tmp_path: Path, front: str, expected: frozenset[str] | None) -> None:
    (tmp_path / "README.md").write_text(f"---\n{front}\n---\n# Model\n", encoding="utf-8")
    card_languages.cache_clear()
    assert card_languages(str(tmp_path)) == expected


def test_no_card_keeps_the_dense_vote(tmp_path: Path) -> None:
    card_languages.cache_clear()
    assert card_languages(str(tmp_path)) is None
    assert dense_understands(None, "年假有几天？")
    assert dense_understands(frozenset({"*"}), "年假有几天？")
    assert not dense_understands(frozenset({"en"}), "年假有几天？")
    assert dense_understands(frozenset({"en", "zh"}), "年假有几天？")
    assert question_language("How many days of leave? 年假") == "en"
    assert question_language("年假有几天？(days)") == "zh"


def test_default_embedder_card_is_english_only(retriever: Retriever, lexical_only: Retriever) -> None:
    assert retriever.embedder_languages() == frozenset({"en"})
    assert retriever.uses_dense("How many days of leave do I get?")
    vote = retriever.dense_vote("正式员工每年有多少天年假？")  # Chinese: the multilingual index
    assert vote is not None and vote.multilingual
    assert not lexical_only.uses_dense("正式员工每年有多少天年假？")
    assert lexical_only.uses_dense("正式员工每年有多少天年假？", mode="dense")


def test_setting_overrides_the_card(kb: Settings) -> None:
    settings = kb.model_copy(update={"embedding_languages": "en, zh"})
    gate = Retriever(settings, None, None)
    assert gate.embedder_languages() == frozenset({"en", "zh"})
    assert gate.uses_dense("正式员工每年有多少天年假？")


# --- search over the real store ------------------------------------------------------------
def top_source(hits: list[Hit]) -> str:
    assert hits, "no hits"
    return hits[0].source


def test_chinese_question_finds_the_chinese_document(retriever: Retriever, lexical_only: Retriever) -> None:
    hits = lexical_only.search("正式员工每年有多少天带薪年假？", k=3)
    assert top_source(hits) == "年假.md"
    assert all(h.dense == 0.0 for h in hits)  # the English-only embedder had no vote
    assert relevance(hits[0]) >= 0.5
    for search in (retriever.search, lexical_only.search):
        assert top_source(search("出差住宿每晚的标准是多少？", k=3)) == "报销.md"
    hits = retriever.search("正式员工每年有多少天带薪年假？", k=3)
    assert top_source(hits) == "年假.md" and hits[0].dense > 0.5  # the multilingual vote


def test_colloquial_chinese_is_relevant_through_the_multilingual_index(
    kb: Settings, retriever: Retriever, lexical_only: Retriever,
) -> None:
    """An employee's words share few characters with the policy ("吃饭" for "午餐供应"): the
    lexical vote alone cuts the right chunk as irrelevant, the multilingual embedder keeps it."""
    for question, source in (("中午几点能去吃饭？", "食堂.md"), ("休假没用完怎么办？", "年假.md")):
        lexical = lexical_only.search(question, k=3)
        assert top_source(lexical) == source and not lexical_only.relevant(lexical[:1])
        hits = retriever.search(question, k=3)
        assert top_source(hits) == source and retriever.relevant(hits[:1])
    # Only the chunks the main embedder cannot read are in the second index.
    from rag import factories

    client = factories.build_chroma_client(kb)
    multilingual = factories.multilingual_collection(client, kb, create=False)
    sources = {m["source"] for m in multilingual.get(include=["metadatas"])["metadatas"]}
    assert sources == {"报销.md", "年假.md", "食堂.md"}


def test_hybrid_keeps_what_each_retriever_is_good_at(retriever: Retriever) -> None:
    paraphrase = "Is telecommuting allowed?"  # shares no content word with remote.md
    code = "Which item is QX-7731?"  # hinges on an exact code
    assert top_source(retriever.search(paraphrase, k=3, mode="dense")) == "remote.md"
    assert "remote.md" not in {h.source for h in retriever.search(paraphrase, k=3, mode="bm25")}
    assert top_source(retriever.search(code, k=3, mode="bm25")) == "parts.md"
    assert top_source(retriever.search(paraphrase, k=3)) == "remote.md"
    assert top_source(retriever.search(code, k=3)) == "parts.md"


def test_hybrid_is_not_dragged_down_by_a_retriever_that_cannot_read_the_question(
    retriever: Retriever, lexical_only: Retriever,
) -> None:
    for question in ("员工出差住宿标准是多少？", "午餐什么时候供应？", "年假可以顺延吗？"):
        bm25 = [h.id for h in retriever.search(question, k=5, mode="bm25")]
        assert [h.id for h in lexical_only.search(question, k=5)] == bm25
        dense = lexical_only.search(question, k=5, mode="dense")  # still available as a baseline
        assert len(dense) == 5
        # Where BM25 finds a relevant chunk, the multilingual vote leaves its ranking alone.
        # (It may add chunks BM25 did not propose, after BM25's.)
        assert [h.id for h in retriever.search(question, k=5)][:len(bm25)] == bm25
        assert len(retriever.search(question, k=5, mode="dense")) == 3  # the Chinese chunks


def test_scores_and_api(retriever: Retriever) -> None:
    hits = retriever.search("When is lunch served in the canteen?")
    assert len(hits) == retriever.settings.top_k
    best = hits[0]
    assert best.source == "canteen.md" and best.header() == "Canteen"
    assert 0.0 <= best.lexical <= 1.0 and best.bm25 > 0 and best.bm25_rank is not None
    assert best.score == pytest.approx(best.dense + best.lexical)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert best in retriever.relevant(hits)
    assert retriever.count() >= len(DOCS)
    assert retriever.search("   ", k=3, mode="bm25") == []


# --- the lexical index's version -------------------------------------------------------------
def test_catalog_of_an_older_tokeniser_is_reindexed_by_the_next_sync(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    assert catalog.lexical_version() == LEXICAL_VERSION
    record = FileRecord("a.md", str(tmp_path), "abc", 1, "A", None, 1, 0.0)
    catalog.commit_file(record, [("a-0", "年假制度")])
    catalog.set_meta("lexical_version", "1")
    catalog.close()

    reopened = Catalog(tmp_path)  # what a sync does
    assert reopened.files()["a.md"].sha256 == "reindex:abc"  # differs from the file: redone
    assert reopened.lexical_version() == LEXICAL_VERSION
    reopened.close()
    with sqlite3.connect(tmp_path / CATALOG_NAME) as conn:
        tokens = conn.execute("SELECT tokens FROM chunks_fts").fetchone()[0]
    assert "年 假" in tokens  # characters are indexed too
