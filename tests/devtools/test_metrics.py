"""Hand-checked cases for devtools.metrics (pure functions, no models)."""

from __future__ import annotations

import json
import random
from difflib import SequenceMatcher
from pathlib import Path

import pytest

from devtools.metrics import (
    RetrievalScores,
    chunk_hits,
    cmrc_exact_match,
    cmrc_f1,
    cmrc_remove_punctuation,
    cmrc_segment,
    contains_answer,
    first_hit_rank,
    longest_common_substring,
    mrr_at_k,
    recall_at_k,
    squad_exact_match,
    squad_f1,
    squad_normalize,
)

SHARED_EVAL = Path(__file__).resolve().parents[2].parent / "shared" / "eval"

# ---------------------------------------------------------------- SQuAD


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("The  Denver Broncos!", "denver broncos"),
        ("An apple, a pear and THE end.", "apple pear and end"),
        ("Theater another anthem", "theater another anthem"),  # articles only as whole words
        ("Levi's Stadium", "levis stadium"),  # punctuation removed, not replaced by a space
        ("24–10", "24–10"),  # only ASCII punctuation is removed (en dash stays)
        ("  \n ", ""),
    ],
)
def test_squad_normalize(raw: str, expected: str) -> None:
    assert squad_normalize(raw) == expected


def test_squad_exact_match_takes_best_gold() -> None:
    assert squad_exact_match("the Denver Broncos.", ["Carolina Panthers", "Denver Broncos"]) == 1.0
    assert squad_exact_match("Denver", ["Denver Broncos"]) == 0.0
    assert squad_exact_match("anything", []) == 0.0


def test_squad_f1_values() -> None:
    assert squad_f1("Denver", ["Denver Broncos"]) == pytest.approx(2 / 3)
    # P = 1/3, R = 1/2 -> F1 = 0.4; the max over golds is taken
    assert squad_f1("Denver won it", ["Denver Broncos", "Panthers"]) == pytest.approx(0.4)
    assert squad_f1("Panthers", ["Denver Broncos", "Carolina Panthers"]) == pytest.approx(2 / 3)
    assert squad_f1("the", ["a"]) == 0.0  # both normalise to nothing: 0, as in v1.1
    assert squad_f1("x", []) == 0.0


def test_squad_f1_counts_repeated_tokens() -> None:
    # Counter intersection: common = 1, P = 1/2, R = 1 -> 2/3 (a set-based F1 would say 1.0)
    assert squad_f1("cat cat", ["cat"]) == pytest.approx(2 / 3)


def test_a_bare_string_is_one_gold() -> None:
    assert squad_exact_match("Denver Broncos", "Denver Broncos") == 1.0  # type: ignore[arg-type]
    assert cmrc_exact_match("村雨城", "村雨城") == 1.0  # type: ignore[arg-type]


# ---------------------------------------------------------------- CMRC 2018


def test_cmrc_segment_splits_chinese_and_keeps_latin_runs() -> None:
    assert cmrc_segment("光荣和ω-force开发") == ["光", "荣", "和", "ωforce", "开", "发"]
    assert cmrc_segment("Super Bowl 50的得分是24：10。") == [
        "super", "bowl", "50", "的", "得", "分", "是", "2410"]  # official: "：" dropped first
    assert cmrc_segment("评分67.9，共2,249码") == ["评", "分", "67.9", "共", "2,249", "码"]
    assert cmrc_segment("《战国无双3》") == ["战", "国", "无", "双", "3"]


def test_cmrc_punctuation_list_is_the_official_one() -> None:
    assert cmrc_remove_punctuation(" 《ABC》：a-b，c。 ") == "abcabc"
    # ASCII ",", ".", "(" are not in the official list and survive
    assert cmrc_remove_punctuation("1,000.(x)") == "1,000.(x)"
    # the official list has "……" as one two-character entry, so a lone "…" is kept
    assert cmrc_remove_punctuation("a…b") == "a…b"


def test_cmrc_f1_values() -> None:
    # 6 prediction tokens, 4 gold tokens, 4 in common: P = 2/3, R = 1 -> 0.8
    assert cmrc_f1("光荣和ω-force开发", ["光荣和ω-force"]) == pytest.approx(0.8)
    assert cmrc_f1("光荣和ω-force。", ["光荣和ω-force"]) == 1.0
    assert cmrc_f1("无关", ["村雨城"]) == 0.0
    assert cmrc_f1("", ["村雨城"]) == 0.0
    assert cmrc_f1("村雨城", []) == 0.0


def test_cmrc_f1_uses_longest_contiguous_run_like_the_official_find_lcs() -> None:
    # common runs are 北京 / 大学 (2 tokens): P = 2/5, R = 2/4 -> 4/9.
    # A true longest-common-subsequence F1 would be 8/9.
    assert cmrc_f1("北京的大学", ["北京大学"]) == pytest.approx(4 / 9)


def test_cmrc_f1_latin_words_are_single_tokens() -> None:
    # "abc" vs "abd": different tokens (a per-character F1 would give 2/3)
    assert cmrc_f1("abc", ["abd"]) == 0.0
    # 5 vs 3 tokens, run 我用ABC (3): P = 3/5, R = 1 -> 0.75
    assert cmrc_f1("我用ABC软件", ["我用abc"]) == pytest.approx(0.75)


def test_cmrc_f1_takes_best_gold() -> None:
    assert cmrc_f1("任天堂", ["村雨城", "任天堂"]) == 1.0


def test_cmrc_exact_match() -> None:
    assert cmrc_exact_match("…出场机会。", ["…出场机会"]) == 1.0
    assert cmrc_exact_match(" ABC ", ["abc"]) == 1.0
    assert cmrc_exact_match("光荣 和", ["光荣和"]) == 0.0  # inner spaces are not removed
    assert cmrc_exact_match("1,000", ["1000"]) == 0.0  # ASCII comma is not in the list
    assert cmrc_exact_match("村雨城", ["任天堂", "村雨城"]) == 1.0


# ---------------------------------------------------------------- contains_answer


@pytest.mark.parametrize(
    ("text", "gold", "expected"),
    [
        ("It takes about 6 weeks.", "6 weeks", True),
        ("It takes 16 weeks.", "6 weeks", False),
        ("the party was loud", "art", False),
        ("a museum of modern Art.", "art", True),
        ("The National Football League (NFL) for the season", "(NFL)", True),
        ("moved to the U.S. in 1990", "U.S.", True),
        ("moved to the U.S.", "U.S.", True),
        ("it costs $5 now", "$5", True),
        ("a rating of 6.5 points", "6", False),
        ("a rating of 16.5 points", "6.5", False),
        ("a rating of 6.55 points", "6.5", False),
        ("sold 1,600 copies", "600", False),
        ("sold 1,600 copies", "1", False),
        ("in 2016, then 6, 7", "6", True),
        ("in 2016.", "2016", True),
        ("the Denver\n  Broncos won", "Denver Broncos", True),
        ("the Denver Broncos won", "denver   broncos.", True),  # trailing "." stripped
        ("at Levi’s Stadium", "Levi's Stadium", True),  # curly apostrophe folded
        ("anything", "", False),
    ],
)
def test_contains_answer_english(text: str, gold: str, expected: bool) -> None:
    assert contains_answer(text, [gold], "en") is expected


@pytest.mark.parametrize(
    ("text", "gold", "expected"),
    [
        ("第6届比赛", "6", True),
        ("第16届比赛", "6", False),
        ("身高6.5米", "6", False),
        ("共6、7两场", "6", True),
        ("是由光荣 和\nω-force开发的", "光荣和ω-force", True),
        ("是由光荣和Ω-FORCE开发的", "光荣和ω-force", True),
        ("以获得更多出场机会，", "获得更多出场机会。", True),  # gold's "。" stripped
        ("以获得更多出场", "获得更多出场机会。", False),
        ("任天堂游戏谜之村雨城", "村雨城", True),  # no word boundaries in Chinese
        ("", "村雨城", False),
    ],
)
def test_contains_answer_chinese(text: str, gold: str, expected: bool) -> None:
    assert contains_answer(text, [gold], "zh") is expected


def test_contains_answer_any_gold_and_languages() -> None:
    assert contains_answer("It takes 16 weeks.", ["6 weeks", "16 weeks"], "en")
    assert not contains_answer("anything", [], "en")
    assert contains_answer("第6届", ["6"], "zh-CN")
    with pytest.raises(ValueError, match="unsupported language"):
        contains_answer("text", ["text"], "fr")


# ---------------------------------------------------------------- chunk_hits

CJK = "".join(chr(0x4E00 + i) for i in range(200))  # 200 distinct characters


def test_chunk_hits_requires_the_gold_document_by_base_name() -> None:
    ctx = "Super Bowl 50 was an American football game."
    assert chunk_hits(ctx, "docs_en/super-bowl-50.md", "super-bowl-50.md", ctx)
    assert chunk_hits(ctx, "super-bowl-50.md", "docs_en/super-bowl-50.md", ctx)
    assert chunk_hits(ctx, "C:\\eval\\docs_en\\super-bowl-50.md", "super-bowl-50.md", ctx)
    assert not chunk_hits(ctx, "docs_en/oxygen.md", "super-bowl-50.md", ctx)
    assert not chunk_hits("村雨城" * 20, "docs_zh/DEV_10.md", "DEV_1.md", "村雨城" * 20)


def test_chunk_hits_needs_40_common_characters_between_long_texts() -> None:
    ctx = CJK  # 200 chars; the chunks below are 140 and 139 chars: threshold is 40
    assert chunk_hits("-" * 100 + CJK[50:90], "DEV_0.md", "DEV_0.md", ctx)
    assert not chunk_hits("-" * 100 + CJK[50:89], "DEV_0.md", "DEV_0.md", ctx)
    # two runs of 30 do not add up to 40
    assert not chunk_hits(CJK[0:30] + "-" * 100 + CJK[100:130], "DEV_0.md", "DEV_0.md", ctx)


def test_chunk_hits_short_text_needs_half_of_its_length() -> None:
    ctx = CJK
    assert chunk_hits(CJK[10:20], "d.md", "d.md", ctx)  # 10 chars, all shared
    assert chunk_hits("-" * 5 + CJK[10:15], "d.md", "d.md", ctx)  # 5 of 10 = half
    assert not chunk_hits("-" * 6 + CJK[10:14], "d.md", "d.md", ctx)  # 4 of 10
    assert not chunk_hits("-" * 6 + CJK[10:15], "d.md", "d.md", ctx)  # 5 of 11 < 5.5
    assert not chunk_hits("", "d.md", "d.md", ctx)
    assert not chunk_hits(" \n ", "d.md", "d.md", ctx)


def test_chunk_hits_collapses_whitespace() -> None:
    ctx = "O\n2 is a gas at room temperature,  and it is very reactive with metals."
    chunk = "Intro.  O 2 is a gas at room temperature, and it is\nvery reactive with metals."
    assert chunk_hits(chunk, "oxygen.md", "oxygen.md", ctx)


def test_chunk_hits_agrees_with_difflib_rule() -> None:
    rng = random.Random(7)
    for _ in range(400):
        a = "".join(rng.choice("ab c") for _ in range(rng.randrange(1, 120)))
        b = "".join(rng.choice("ab c") for _ in range(rng.randrange(1, 120)))
        ca, cb = " ".join(a.split()), " ".join(b.split())
        size = SequenceMatcher(None, ca, cb, autojunk=False).find_longest_match(
            0, len(ca), 0, len(cb)).size
        expected = bool(ca and cb) and size >= min(40, min(len(ca), len(cb)) / 2)
        assert chunk_hits(a, "x.md", "x.md", b) is expected, (a, b)
        assert longest_common_substring(ca, cb) == size


def test_longest_common_substring() -> None:
    assert longest_common_substring("xxabcdyy", "zabcdz") == 4
    assert longest_common_substring("", "abc") == 0


# ---------------------------------------------------------------- ranks


def test_recall_and_mrr() -> None:
    ranks = [1, 3, None, 11]
    assert recall_at_k(ranks, 1) == 0.25
    assert recall_at_k(ranks, 3) == 0.5
    assert recall_at_k(ranks, 10) == 0.5
    assert recall_at_k(ranks, 11) == 0.75
    assert mrr_at_k(ranks, 10) == pytest.approx((1 + 1 / 3) / 4)
    assert mrr_at_k(ranks, 2) == 0.25
    assert recall_at_k([], 5) == 0.0 and mrr_at_k([], 5) == 0.0


def test_ranks_are_validated() -> None:
    with pytest.raises(ValueError):
        recall_at_k([1], 0)
    with pytest.raises(ValueError):
        mrr_at_k([0], 10)


def test_first_hit_rank() -> None:
    assert first_hit_rank([False, False, True, True]) == 3
    assert first_hit_rank([False]) is None
    assert first_hit_rank([]) is None


def test_retrieval_scores() -> None:
    scores = RetrievalScores.from_ranks([1, 2, 6, None])
    assert scores.as_dict() == {
        "recall@1": 0.25,
        "recall@5": 0.5,
        "recall@10": 0.75,
        "mrr@10": pytest.approx((1 + 1 / 2 + 1 / 6) / 4),
        "n": 4,
    }
    assert RetrievalScores.from_ranks([]).as_dict()["n"] == 0


# ---------------------------------------------------------------- shared eval data


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_gold_contexts_hit_and_contain_their_answers(lang: str) -> None:
    path = SHARED_EVAL / f"questions_{lang}.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    questions = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    for q in questions:
        assert chunk_hits(q["context"], f"docs_{lang}/{q['doc']}", q["doc"], q["context"]), q["id"]
        assert contains_answer(q["context"], q["answers"], lang), q["id"]
        assert squad_exact_match(q["answers"][0], q["answers"]) == 1.0
        assert cmrc_f1(q["answers"][0], q["answers"]) == 1.0
